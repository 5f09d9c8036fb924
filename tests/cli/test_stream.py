"""`micro stream`: one JSON line per reply; stdin lines feed client streams."""

from __future__ import annotations

import json

import pytest

from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import ServeFactory, assert_fails, run_micro
from tests.conftest import ProbeGreeter

pytestmark = pytest.mark.usefixtures("greeter_process")


def replies(stdout: str) -> list[str]:
    return [json.loads(line)["message"] for line in stdout.splitlines()]


async def test_server_stream_prints_a_line_per_reply(etcd: EtcdProcess) -> None:
    request = '{"name": "Ada", "count": 3}'

    table = await run_micro(etcd, "stream", "greeter", "Greeter.LotsOfReplies", request)
    as_json = await run_micro(
        etcd, "stream", "greeter", "Greeter.LotsOfReplies", request, "-o", "json"
    )

    assert table.code == 0, table
    assert replies(table.stdout) == ["Hello Ada #1", "Hello Ada #2", "Hello Ada #3"]
    assert as_json.stdout == table.stdout


async def test_server_stream_request_from_stdin(etcd: EtcdProcess) -> None:
    result = await run_micro(
        etcd, "stream", "greeter", "Greeter.LotsOfReplies", stdin='{"count": 1}'
    )

    assert replies(result.stdout) == ["Hello  #1"]


async def test_client_stream_reads_stdin_lines(etcd: EtcdProcess) -> None:
    names = '{"name": "Alan"}\n\n{"name": "Barbara"}\n{"name": "Edsger"}\n'

    result = await run_micro(
        etcd, "stream", "greeter", "Greeter.LotsOfGreetings", "-o", "json", stdin=names
    )

    assert result.code == 0, result
    assert replies(result.stdout) == ["Hello Alan, Barbara, Edsger"]


async def test_bidi_stream_answers_each_line(etcd: EtcdProcess) -> None:
    names = "".join(f'{{"name": "n{i}"}}\n' for i in range(5))

    result = await run_micro(
        etcd, "stream", "greeter", "Greeter.BidiHello", stdin=names
    )
    one = await run_micro(
        etcd, "stream", "greeter", "Greeter.BidiHello", '{"name": "solo"}'
    )

    assert result.code == 0, result
    assert replies(result.stdout) == [f"Hello n{i}" for i in range(5)]
    assert replies(one.stdout) == ["Hello solo"]


async def test_bad_input_line_is_named(etcd: EtcdProcess) -> None:
    malformed = await run_micro(
        etcd,
        "stream",
        "greeter",
        "Greeter.BidiHello",
        stdin='{"name": "a"}\n{"name": "b"\n{"name": "c"}\n',
    )
    unknown = await run_micro(
        etcd,
        "stream",
        "greeter",
        "Greeter.LotsOfGreetings",
        stdin='{"name": "a"}\n{"nam": "b"}\n',
    )

    assert_fails(malformed, 2, "malformed JSON at input line 2, column 13")
    assert_fails(
        unknown, 2, 'unknown field "nam" in greeter.v1.HelloRequest on input line 2'
    )
    assert unknown.stdout == ""


async def test_remote_error_mid_stream(etcd: EtcdProcess, serve: ServeFactory) -> None:
    await serve("probe", ProbeGreeter())

    result = await run_micro(
        etcd, "stream", "probe", "Greeter.LotsOfReplies", '{"name": "fail", "count": 5}'
    )

    assert replies(result.stdout) == ["fail 0", "fail 1"]
    assert_fails(
        result, 1, "probe Greeter.LotsOfReplies answered NOT_FOUND: ran out at 2"
    )


async def test_unary_endpoint_wants_call(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "stream", "greeter", "Greeter.Hello", "{}")

    assert_fails(result, 2, "use: micro call greeter Greeter.Hello")
