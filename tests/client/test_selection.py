"""Picking nodes: strategies over several real nodes, and channel reuse."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from micro_grpc import Client, ConfigError, Service
from micro_grpc.errors import NotFound
from micro_grpc.registry import Node
from micro_grpc.registry.memory import MemoryRegistry
from micro_grpc.selector import RoundRobin, random_choice, strategy
from micro_grpc.selector.filters import label, version
from micro_grpc.testing import eventually
from tests.conftest import ProbeGreeter


@pytest.fixture
async def three_nodes(
    registry: MemoryRegistry,
) -> AsyncIterator[list[ProbeGreeter]]:
    impls = [ProbeGreeter() for _ in range(3)]
    services = []
    for impl in impls:
        service = Service("greeter", registry=registry)
        service.handle(impl)
        await service.start()
        services.append(service)
    yield impls
    for service in services:
        await service.stop(0)


async def test_round_robin_visits_each_node_in_turn(
    registry: MemoryRegistry, three_nodes: list[ProbeGreeter]
) -> None:
    async with Client(registry, selector="round_robin") as client:
        greeter = GreeterClient(client, "greeter")
        for turn in range(1, 11):
            for _ in range(3):
                await greeter.hello(HelloRequest(name="x"))
            assert [impl.calls for impl in three_nodes] == [turn] * 3


async def test_random_reaches_every_node_over_one_channel_each(
    registry: MemoryRegistry, three_nodes: list[ProbeGreeter]
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(90):
            await greeter.hello(HelloRequest(name="x"))
        assert all(impl.calls > 0 for impl in three_nodes)
        assert sum(impl.calls for impl in three_nodes) == 90
        # One channel per node, reused by every call.
        assert len(client._pool._channels) == 3


def test_random_choice_spread() -> None:
    nodes = [Node(id=str(i), address=f"127.0.0.1:{i}") for i in range(3)]
    counts = Counter(random_choice("s", nodes).id for _ in range(3000))
    # Binomial(3000, 1/3): the standard deviation is about 26; 6 sigma is 155.
    assert all(abs(c - 1000) < 155 for c in counts.values())


def test_round_robin_is_per_service() -> None:
    nodes = [Node(id=str(i), address=f"127.0.0.1:{i}") for i in range(3)]
    rr = RoundRobin()
    a = [rr("a", nodes).id for _ in range(6)]
    rr("b", nodes)
    b = [rr("a", nodes).id for _ in range(3)]
    assert a[:3] == a[3:] and sorted(a[:3]) == ["0", "1", "2"]
    assert b == a[:3]


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown selector 'fastest'"):
        strategy("fastest")


@pytest.fixture
async def two_versions(
    registry: MemoryRegistry,
) -> AsyncIterator[dict[str, ProbeGreeter]]:
    impls: dict[str, ProbeGreeter] = {}
    services = []
    for number, zone in (("1.0.0", "a"), ("2.0.0", "b")):
        impl = impls[number] = ProbeGreeter()
        service = Service(
            "greeter", registry=registry, version=number, metadata={"zone": zone}
        )
        service.handle(impl)
        await service.start()
        services.append(service)
    yield impls
    for service in services:
        await service.stop(0)


async def test_filters_per_client_and_per_call(
    registry: MemoryRegistry, two_versions: dict[str, ProbeGreeter]
) -> None:
    async with Client(registry, filters=[label("zone", "b")]) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(10):
            await greeter.hello(HelloRequest(name="x"))
        assert two_versions["2.0.0"].calls == 10
        # A call's filters apply after the client's: nothing is left.
        with pytest.raises(NotFound, match=r"label\(zone=b\), version\(1.0.0\)"):
            await greeter.hello(HelloRequest(name="x"), filters=[version("1.0.0")])

    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(10):
            await greeter.hello(HelloRequest(name="x"), filters=[version("1.0.0")])
        assert two_versions["1.0.0"].calls == 10


async def test_a_named_selector_per_call_keeps_its_state(
    registry: MemoryRegistry, three_nodes: list[ProbeGreeter]
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(30):
            await greeter.hello(HelloRequest(name="x"), selector="round_robin")
        assert [impl.calls for impl in three_nodes] == [10, 10, 10]
        first = three_nodes[0]
        await greeter.hello(HelloRequest(name="x"), selector=lambda s, nodes: nodes[0])
        assert sum(impl.calls for impl in three_nodes) == 31
        assert first.calls in (10, 11)


async def test_a_node_that_leaves_has_its_channel_closed(
    registry: MemoryRegistry,
) -> None:
    staying, leaving = (Service("greeter", registry=registry) for _ in range(2))
    for service in (staying, leaving):
        service.handle(ProbeGreeter())
        await service.start()
    async with Client(registry, selector="round_robin") as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(4):
            await greeter.hello(HelloRequest(name="x"))
        assert {a for a, _ in client._pool._channels} == {
            staying.address,
            leaving.address,
        }

        gone = leaving.address
        await leaving.stop(0)
        await eventually(
            lambda: {a for a, _ in client._pool._channels} == {staying.address},
            what=f"the channel to {gone} closed",
        )
        for _ in range(4):
            await greeter.hello(HelloRequest(name="x"))
    await staying.stop(0)
