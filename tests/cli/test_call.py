"""`micro call`: a unary call from a line of JSON, and each way it can fail.

The command runs in a process that cannot import the greeter's generated
code (see `without_generated`), so every reply here was decoded with
descriptors the service sent by reflection.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import pytest
from greeter.v1.greeter_micro import GreeterBase
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest, LotsOfRepliesRequest

from micro_grpc import Context
from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import (
    ROOT,
    ServeFactory,
    assert_fails,
    child_env,
    free_port,
    run_micro,
)
from tests.conftest import ProbeGreeter

pytestmark = pytest.mark.usefixtures("greeter_process")


class Tagged(GreeterBase):
    """Answers every call with its own tag, to tell nodes apart."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        return HelloReply(message=self.tag)

    async def lots_of_replies(
        self, request: LotsOfRepliesRequest, context: Context
    ) -> AsyncIterator[HelloReply]:
        yield HelloReply(message=self.tag)

    async def lots_of_greetings(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> HelloReply:
        return HelloReply(message=self.tag)

    async def bidi_hello(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> AsyncIterator[HelloReply]:
        yield HelloReply(message=self.tag)


async def test_call_prints_the_reply(etcd: EtcdProcess) -> None:
    args = ("call", "greeter", "Greeter.Hello", '{"name": "Ada"}')

    table = await run_micro(etcd, *args)
    as_json = await run_micro(etcd, *args, "--output", "json")

    assert table.code == 0, table
    assert json.loads(table.stdout) == {"message": "Hello Ada"}
    assert table.stdout.startswith("{\n  ")  # indented for people
    assert as_json.code == 0, as_json
    assert as_json.lines == ['{"message": "Hello Ada"}']  # one line for scripts
    assert table.stderr == as_json.stderr == ""


async def test_request_from_stdin(etcd: EtcdProcess) -> None:
    piped = await run_micro(
        etcd, "call", "greeter", "Greeter.Hello", stdin='{"name": "Bo"}'
    )
    dashed = await run_micro(
        etcd, "call", "greeter", "Greeter.Hello", "-", stdin='{\n  "name": "Cy"\n}\n'
    )

    assert json.loads(piped.stdout) == {"message": "Hello Bo"}
    assert json.loads(dashed.stdout) == {"message": "Hello Cy"}


async def test_metadata_and_timeout(etcd: EtcdProcess, serve: ServeFactory) -> None:
    await serve("probe", ProbeGreeter())

    echoed = await run_micro(
        etcd,
        "call",
        "probe",
        "Greeter.Hello",
        '{"name": "meta:x-user"}',
        "--metadata",
        "X-User=ada",
        "-m",
        "other=1",
        "-o",
        "json",
    )
    late = await run_micro(
        etcd,
        "call",
        "probe",
        "Greeter.Hello",
        '{"name": "sleep:3"}',
        "--timeout",
        "0.3",
    )
    bad = await run_micro(
        etcd, "call", "probe", "Greeter.Hello", "{}", "--metadata", "novalue"
    )

    assert json.loads(echoed.stdout) == {"message": "ada"}
    assert_fails(late, 1, "probe Greeter.Hello answered DEADLINE_EXCEEDED")
    assert_fails(bad, 2, "--metadata 'novalue' is not key=value")


async def test_address_pins_a_node(etcd: EtcdProcess, serve: ServeFactory) -> None:
    await serve("pair", Tagged("a"))
    b = await serve("pair", Tagged("b"))

    replies = [
        await run_micro(
            etcd,
            "call",
            "pair",
            "Greeter.Hello",
            "{}",
            "--address",
            b.address,
            "-o",
            "json",
        )
        for _ in range(3)
    ]

    assert [json.loads(r.stdout) for r in replies] == [{"message": "b"}] * 3


async def test_defaults_are_printed(etcd: EtcdProcess, serve: ServeFactory) -> None:
    await serve("blank", Tagged(""))

    result = await run_micro(etcd, "call", "blank", "Greeter.Hello", "-o", "json")

    assert json.loads(result.stdout) == {"message": ""}


async def test_unknown_service(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "call", "nobody", "Greeter.Hello", "{}")

    assert_fails(result, 3, "service not found: nobody")


async def test_unknown_endpoint(etcd: EtcdProcess) -> None:
    wrong = await run_micro(etcd, "call", "greeter", "Greeter.Goodbye", "{}")
    unqualified = await run_micro(etcd, "call", "greeter", "Hello", "{}")

    assert_fails(wrong, 3, "endpoint Greeter.Goodbye not found in service greeter")
    assert "Greeter.Hello" in wrong.stderr  # what there is instead
    assert_fails(unqualified, 3, "should read Service.Method")


async def test_unknown_field(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "call", "greeter", "Greeter.Hello", '{"nam": "Ada"}')

    assert_fails(
        result, 2, 'unknown field "nam" in greeter.v1.HelloRequest; its fields: name'
    )


async def test_wrong_type_and_shape(etcd: EtcdProcess) -> None:
    number = await run_micro(etcd, "call", "greeter", "Greeter.Hello", '{"name": 5}')
    array = await run_micro(etcd, "call", "greeter", "Greeter.Hello", "[1]")

    assert_fails(number, 2, "invalid request: Failed to parse name field")
    assert_fails(array, 2, "must be a JSON object for greeter.v1.HelloRequest")


async def test_malformed_json_names_the_position(etcd: EtcdProcess) -> None:
    inline = await run_micro(
        etcd, "call", "greeter", "Greeter.Hello", '{"name": "Ada",}'
    )
    piped = await run_micro(
        etcd,
        "call",
        "greeter",
        "Greeter.Hello",
        stdin='{\n  "name": "Ada"\n  "x": 1\n}',
    )

    assert_fails(inline, 2, "malformed JSON at line 1, column 16")
    assert_fails(
        piped, 2, "malformed JSON at line 3, column 3: Expecting ',' delimiter"
    )


async def test_remote_error_status(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "call", "greeter", "Greeter.Hello", '{"name": ""}')

    assert_fails(
        result,
        1,
        "greeter Greeter.Hello answered INVALID_ARGUMENT: name must not be empty",
    )


async def test_streaming_endpoint_wants_stream(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "call", "greeter", "Greeter.LotsOfReplies", "{}")

    assert_fails(result, 2, "use: micro stream greeter Greeter.LotsOfReplies")


async def test_unreachable_registry(etcd: EtcdProcess) -> None:
    nowhere = f"127.0.0.1:{free_port()}"

    result = await run_micro(
        etcd, "--registry-address", nowhere, "call", "greeter", "Greeter.Hello", "{}"
    )

    assert_fails(result, 4, f"etcd unreachable at {nowhere}")


async def test_generated_code_is_unimportable_in_the_command() -> None:
    # The guard every test runs the command under does refuse the greeter.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from tests.cli.without_generated import refuse_generated\n"
        "refuse_generated()\n"
        "import greeter.v1.greeter_pb2\n",
        cwd=ROOT,
        env=child_env(),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()

    assert proc.returncode == 1
    assert b"generated code the CLI must not import" in err
