"""`micro watch`: registry events as they happen, until Ctrl-C."""

from __future__ import annotations

import json

from micro_grpc.registry import Node, Service
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import Background, assert_fails, free_port, run_micro


def record(address: str, zone: str) -> Service:
    node = Node("watched-1", address, {"zone": zone})
    return Service(name="watched", version="3.0.0", nodes=(node,))


async def test_events_as_table_lines(etcd: EtcdProcess, registry: EtcdRegistry) -> None:
    watch = await Background.start(etcd, "watch")
    assert "watching every service" in await watch.line(err=True)

    await registry.register(record("10.0.0.1:1", "a"))
    await registry.register(record("10.0.0.1:1", "b"))
    await registry.deregister(record("10.0.0.1:1", "b"))
    lines = [await watch.line() for _ in range(3)]
    ended = await watch.interrupt()

    cells = [line.split()[1:] for line in lines]
    assert cells == [
        ["added", "watched", "3.0.0", "watched-1", "10.0.0.1:1"],
        ["updated", "watched", "3.0.0", "watched-1", "10.0.0.1:1"],
        ["removed", "watched", "3.0.0", "watched-1", "10.0.0.1:1"],
    ]
    assert ended.code == 0, ended
    assert "Traceback" not in ended.stderr


async def test_events_as_json_for_one_service(
    etcd: EtcdProcess, registry: EtcdRegistry
) -> None:
    watch = await Background.start(etcd, "watch", "watched", "-o", "json")
    await watch.line(err=True)

    other = Service(name="other", nodes=(Node("other-1", "10.0.0.2:1"),))
    await registry.register(other)
    await registry.register(record("10.0.0.1:2", "a"))
    await registry.deregister(record("10.0.0.1:2", "a"))
    events = [json.loads(await watch.line()) for _ in range(2)]
    ended = await watch.interrupt()

    assert [e["event"] for e in events] == ["added", "removed"]
    assert events[0]["service"]["name"] == "watched"  # not "other"
    assert events[0]["service"]["nodes"][0]["metadata"] == {"zone": "a"}
    assert events[0]["time"]
    assert ended.code == 0
    assert ended.stdout == ""


async def test_unreachable_registry(etcd: EtcdProcess) -> None:
    nowhere = f"127.0.0.1:{free_port()}"

    result = await run_micro(etcd, "--registry-address", nowhere, "watch")

    assert_fails(result, 4, "registry: etcd")
    assert nowhere in result.stderr
