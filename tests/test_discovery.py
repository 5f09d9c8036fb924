"""Services in separate processes finding each other through a real etcd."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from examples.greeter.server import Greeter
from micro_grpc import Client, Service
from micro_grpc.errors import RegistryUnavailable
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess, ServiceProcess, eventually

TTL = 2


@pytest.fixture
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess(name="discovery-tests") as process:
        yield process


def _env(etcd: EtcdProcess) -> dict[str, str]:
    return {
        "MICRO_REGISTRY": "etcd",
        "MICRO_REGISTRY_ADDRESS": etcd.endpoint,
        "MICRO_REGISTER_TTL": str(TTL),
    }


@pytest.fixture
async def client(etcd: EtcdProcess) -> AsyncIterator[Client]:
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
    async with Client(registry, query_timeout=2.0) as client:
        yield client
    await registry.close()


async def _addresses(client: Client) -> set[str]:
    return {n.address for s in await client.lookup("greeter") for n in s.nodes}


async def test_two_processes_discover_and_call_each_other(
    etcd: EtcdProcess, client: Client
) -> None:
    # This process calls a greeter served by another process ...
    async with ServiceProcess("examples.greeter.server", env=_env(etcd)) as server:
        reply = await GreeterClient(client, "greeter").hello(HelloRequest(name="A"))
        assert reply.message == "Hello A"
        assert await _addresses(client) == {server.address}

    # ... and another process calls a greeter served by this one.
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
    service = Service("greeter", registry=registry)
    service.handle(Greeter())
    async with service:
        caller = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "examples.greeter.client",
            env={**os.environ, **_env(etcd)},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(caller.communicate(), 30)
    assert caller.returncode == 0
    assert "unary:            Hello Ada" in out.decode()
    assert "bidirectional:    Hello Dennis" in out.decode()


async def test_a_killed_node_leaves_every_cache_within_the_ttl(
    etcd: EtcdProcess, client: Client
) -> None:
    async with (
        ServiceProcess("examples.greeter.server", env=_env(etcd)) as doomed,
        ServiceProcess("examples.greeter.server", env=_env(etcd)) as survivor,
    ):
        greeter = GreeterClient(client, "greeter")
        await eventually(
            lambda: _has(client, {doomed.address, survivor.address}), what="both nodes"
        )

        await doomed.kill()
        took = await eventually(
            lambda: _has(client, {survivor.address}),
            timeout=TTL + 1,
            what="the killed node gone from the cache",
        )
        assert took <= TTL + 1
        for _ in range(20):
            reply = await greeter.hello(HelloRequest(name="B"), timeout=2)
            assert reply.message == "Hello B"


async def _has(client: Client, addresses: set[str]) -> bool:
    return await _addresses(client) == addresses


async def test_calls_go_on_while_etcd_is_away_and_nodes_return_after(
    etcd: EtcdProcess, client: Client
) -> None:
    async with ServiceProcess("examples.greeter.server", env=_env(etcd)) as server:
        greeter = GreeterClient(client, "greeter")
        assert (await greeter.hello(HelloRequest(name="C"))).message == "Hello C"

        etcd.stop()
        loop = asyncio.get_running_loop()
        down_until = loop.time() + TTL + 1.5
        while loop.time() < down_until:
            reply = await greeter.hello(HelloRequest(name="D"), timeout=2)
            assert reply.message == "Hello D"
            await asyncio.sleep(0.1)

        etcd.restart(wipe=True)
        observer = EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
        try:

            async def registered() -> bool:
                try:
                    found = await observer.get_service("greeter")
                except Exception:
                    return False
                return {n.address for s in found for n in s.nodes} == {server.address}

            # One heartbeat is a third of the TTL; allow for etcd's own start.
            took = await eventually(registered, timeout=TTL, what="re-registration")
        finally:
            await observer.close()
        assert took < TTL
        assert (await greeter.hello(HelloRequest(name="E"))).message == "Hello E"


async def test_first_lookup_with_the_registry_down_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = f"127.0.0.1:{probe.getsockname()[1]}"
    registry = EtcdRegistry(endpoints=[nobody], dial_timeout=0.5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with Client(registry, query_timeout=1.0) as client:
        with pytest.raises(RegistryUnavailable, match="registry is unreachable"):
            await GreeterClient(client, "greeter").hello(HelloRequest(name="x"))
    await registry.close()
    assert loop.time() - start < 3.0
