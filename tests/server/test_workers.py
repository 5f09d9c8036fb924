"""One service served from several worker processes, each its own node."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from greeter.v1.greeter_micro import GreeterBase, GreeterClient
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest

from micro_grpc import Client, ConfigError, Context, Service, ServiceNotFound
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.server.workers import Workers, worker_address
from micro_grpc.testing import EtcdProcess, eventually

NAME = "workers-greeter"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class PidGreeter(GreeterBase):
    """Answers with the id of the process that took the call."""

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        return HelloReply(message=str(os.getpid()))

    def lots_of_replies(self, request, context):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def lots_of_greetings(self, requests, context):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def bidi_hello(self, requests, context):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def make_service() -> Service:
    """The factory each worker calls; the registry comes from MICRO_* variables."""
    service = Service(NAME, grace=1.0)
    service.handle(PidGreeter())
    return service


@pytest.fixture
def etcd(monkeypatch: pytest.MonkeyPatch) -> Iterator[EtcdProcess]:
    with EtcdProcess(name="workers-tests") as process:
        # Workers are spawned with this process's environment.
        monkeypatch.setenv("MICRO_REGISTRY", "etcd")
        monkeypatch.setenv("MICRO_REGISTRY_ADDRESS", process.endpoint)
        monkeypatch.delenv("MICRO_SERVER_ADDRESS", raising=False)
        yield process


async def _node_ids(registry: EtcdRegistry) -> set[str]:
    try:
        records = await registry.get_service(NAME)
    except ServiceNotFound:
        return set()
    return {node.id for record in records for node in record.nodes}


async def test_calls_spread_over_the_workers(etcd: EtcdProcess) -> None:
    workers = Workers(make_service, 2)
    registry = EtcdRegistry(endpoints=[etcd.endpoint])
    workers.start()
    try:
        await eventually(
            lambda: _count(registry, 2), timeout=30, what="two workers registered"
        )
        async with Client(registry, selector="round_robin") as client:
            greeter = GreeterClient(client, NAME)
            pids = collections.Counter(
                [
                    (await greeter.hello(HelloRequest(name="x"))).message
                    for _ in range(100)
                ]
            )
        assert set(pids) == {str(pid) for pid in workers.pids}
        assert sorted(pids.values()) == [50, 50]
    finally:
        await asyncio.to_thread(workers.stop)

    # Stopping deregisters every worker before it drains.
    assert await _node_ids(registry) == set()
    await registry.close()


async def test_a_worker_that_dies_is_replaced(etcd: EtcdProcess) -> None:
    workers = Workers(make_service, 1)
    registry = EtcdRegistry(endpoints=[etcd.endpoint])
    workers.start()
    try:
        await eventually(lambda: _count(registry, 1), timeout=30, what="registered")
        first = workers.pids[0]
        first_nodes = await _node_ids(registry)
        os.kill(first, signal.SIGKILL)

        async def replaced() -> bool:
            await asyncio.to_thread(workers.supervise, 0.1)
            return bool(workers.pids) and workers.pids[0] != first

        await eventually(replaced, timeout=30, what="a new worker")
        await eventually(
            lambda: _has_new(registry, first_nodes), timeout=30, what="re-registered"
        )
    finally:
        await asyncio.to_thread(workers.stop)
        await registry.close()


async def test_run_workers_stops_cleanly_on_sigterm(etcd: EtcdProcess) -> None:
    code = (
        f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(ROOT)!r}]\n"
        "from test_workers import make_service\n"
        "from micro_grpc.server.workers import run_workers\n"
        "run_workers(make_service, 2)\n"
    )
    supervisor = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    registry = EtcdRegistry(endpoints=[etcd.endpoint])
    try:
        await eventually(lambda: _count(registry, 2), timeout=30, what="registered")
        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(supervisor.wait, 30) == 0
        assert await _node_ids(registry) == set()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        await registry.close()


async def _count(registry: EtcdRegistry, n: int) -> bool:
    return len(await _node_ids(registry)) == n


async def _has_new(registry: EtcdRegistry, old: set[str]) -> bool:
    return bool(await _node_ids(registry) - old)


def test_a_fixed_port_is_offset_by_the_worker_index() -> None:
    assert worker_address("0.0.0.0:8080", 0) == "0.0.0.0:8080"
    assert worker_address("0.0.0.0:8080", 3) == "0.0.0.0:8083"
    assert worker_address("[::]:8080", 1) == "[::]:8081"
    assert worker_address("127.0.0.1:0", 5) == "127.0.0.1:0"


def test_a_factory_that_cannot_reach_a_worker_is_refused() -> None:
    with pytest.raises(ConfigError, match="top level"):
        Workers(lambda: make_service(), 2)
    with pytest.raises(ConfigError, match="at least one"):
        Workers(make_service, 0)
