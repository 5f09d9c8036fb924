"""A Node client on @grpc/grpc-js calls the Python greeter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .processes import run

CLIENT = Path(__file__).parent / "node" / "greeter_client.js"


async def call(node: Path, address: str, *args: str) -> tuple[int, list[Any]]:
    """Run the Node client; its exit code and the JSON lines it printed."""
    result = await run(node, CLIENT, address, *args)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


async def test_unary_hello(node: Path, greeter_address: str) -> None:
    code, lines = await call(node, greeter_address, "hello", "Ada")

    assert (code, lines) == (0, [{"message": "Hello Ada"}])


async def test_bidi_hello_answers_each_name_in_turn(
    node: Path, greeter_address: str
) -> None:
    # The client waits for each reply before it sends the next name.
    names = ["Ada", "Grace", "Zoë"]

    code, lines = await call(node, greeter_address, "bidi", *names)

    assert code == 0
    assert lines == [{"message": f"Hello {name}"} for name in names]


async def test_status_error_reaches_node(node: Path, greeter_address: str) -> None:
    code, lines = await call(node, greeter_address, "hello", "")

    assert code == 1
    assert lines == [
        {
            "error": {
                "code": 3,
                "name": "INVALID_ARGUMENT",
                "details": "name must not be empty",
            }
        }
    ]
