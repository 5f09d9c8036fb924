"""`micro server`: the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

from micro_grpc.local import answers
from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import Background, GreeterProcess, free_port, run_micro


async def test_starts_etcd_when_none_answers(etcd: EtcdProcess) -> None:
    address = f"127.0.0.1:{free_port()}"
    api = f"127.0.0.1:{free_port()}"
    server = await Background.start(
        etcd, "--registry-address", address, "server", "--api-address", api
    )
    lines = [await server.line(timeout=20) for _ in range(3)]
    assert "Ctrl-C stops it" in await server.line(err=True)

    listed = await run_micro(etcd, "--registry-address", address, "list", "services")
    ended = await server.interrupt()

    assert [line.split() for line in lines] == [
        ["PART", "ADDRESS", "STATE"],
        ["etcd", address, "started", "here"],
        ["gateway", api, "starting"],
    ]
    assert listed.code == 0, listed
    assert listed.stdout == ""
    assert ended.code == 0, ended
    assert "Traceback" not in ended.stderr
    assert not answers(address)  # the etcd it started went with it


async def test_uses_a_running_etcd_and_serves_the_gateway(
    etcd: EtcdProcess, greeter_process: GreeterProcess
) -> None:
    api = f"127.0.0.1:{free_port()}"
    server = await Background.start(etcd, "server", "--api-address", api, "-o", "json")
    parts = json.loads(await server.line(timeout=20))
    await server.line(err=True)

    reply = await asyncio.to_thread(
        _post, f"http://{api}/greeter/hello", b'{"name": "Ada"}'
    )
    ended = await server.interrupt()

    assert parts == {
        "etcd": {"address": etcd.endpoint, "state": "already running"},
        "gateway": {"address": api, "state": "starting"},
    }
    assert json.loads(reply) == {"message": "Hello Ada"}
    assert ended.code == 0, ended
    assert etcd.running  # not ours to stop


def _post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}
    )
    for _ in range(50):
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                data: bytes = answer.read()
                return data
        except ConnectionRefusedError:
            pass
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError):
                raise
        time.sleep(0.1)
    raise AssertionError(f"the gateway at {url} never answered")
