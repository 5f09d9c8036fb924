"""Unary calls with no options, to a service the client has resolved before.

Those take the short path at the top of `Client.unary`; these tests hold
it to what the general path does: the node chosen among
the serving ones, a failure retried on another node and counted against
its node, an ejected node skipped, a registry change followed, and the
deadline of the call being handled passed on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest

from micro_grpc import Client, Context, Service
from micro_grpc.errors import Unavailable
from micro_grpc.registry import Node
from micro_grpc.registry import Service as Record
from micro_grpc.registry.memory import MemoryRegistry
from tests.conftest import ProbeGreeter


class Named(ProbeGreeter):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        await super().hello(request, context)
        return HelloReply(message=self.name)


async def _answers(greeter: GreeterClient, calls: int) -> Counter[str]:
    """Which node answered, over `calls` calls made one after another."""
    return Counter(
        [(await greeter.hello(HelloRequest(name="x"))).message for _ in range(calls)]
    )


@pytest.fixture
async def nodes(registry: MemoryRegistry) -> AsyncIterator[list[Service]]:
    """Two nodes of "greeter", answering "a" and "b"."""
    services = [Service("greeter", registry=registry) for _ in "ab"]
    for service, name in zip(services, "ab", strict=True):
        service.handle(Named(name))
        await service.start()
    yield services
    for service in services:
        await service.stop(0)


async def test_calls_spread_over_the_nodes_and_follow_a_node_leaving(
    registry: MemoryRegistry, nodes: list[Service]
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        seen = await _answers(greeter, 200)
        # Random over two nodes: each gets 100 ± 50 (7 sigma).
        assert set(seen) == {"a", "b"} and min(seen.values()) > 50

        await nodes[0].stop(0)
        after = await _answers(greeter, 50)
        assert after == {"b": 50}


class Failing(ProbeGreeter):
    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        self.calls += 1
        raise Unavailable("overloaded")


async def test_a_failure_is_retried_elsewhere_and_its_node_ejected(
    registry: MemoryRegistry,
) -> None:
    live, failing = Named("live"), Failing()
    services = [Service("greeter", registry=registry) for _ in range(2)]
    services[0].handle(live)
    services[1].handle(failing)
    async with services[0], services[1], Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(60):
            reply = await greeter.hello(HelloRequest(name="x"))
            assert reply.message == "live"
        assert live.calls == 60
        # Three failures in a row eject the node (for 1 s, longer than
        # these calls take): no call reaches it after the third.
        assert failing.calls == 3
        assert client.outliers is not None
        assert client.outliers.ejected(services[1].address)


async def test_the_deadline_of_the_call_handled_is_passed_on() -> None:
    registry = MemoryRegistry()
    downstream = ProbeGreeter()
    inner = Service("inner", registry=registry)
    inner.handle(downstream)

    class Relay(ProbeGreeter):
        def __init__(self) -> None:
            super().__init__()
            self.client = Client(registry)

        async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
            greeter = GreeterClient(self.client, "inner")
            # The first call resolves "inner"; the second takes the short
            # path, and must still carry the time left to this call.
            await greeter.hello(HelloRequest(name="warm"))
            return await greeter.hello(HelloRequest(name="deadline"))

    relay = Relay()
    outer = Service("outer", registry=registry)
    outer.handle(relay)
    async with inner, outer, Client(registry) as client:
        reply = await GreeterClient(client, "outer").hello(HelloRequest(), timeout=2.0)
        await relay.client.close()
    remaining = float(reply.message)
    assert 0 < remaining < 2.0


async def test_a_node_marked_not_serving_is_skipped(
    registry: MemoryRegistry, nodes: list[Service]
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        await greeter.hello(HelloRequest(name="x"))
        await nodes[0].set_serving(False)
        await asyncio.sleep(0)
        seen = await _answers(greeter, 50)
        assert seen == {"b": 50}


async def test_a_node_that_leaves_and_returns_at_once_keeps_answering(
    registry: MemoryRegistry,
) -> None:
    # Served elsewhere, entered here by hand, so the test decides when the
    # registry loses the node and gets it back.
    server = Service("greeter", registry=MemoryRegistry())
    server.handle(Named("back"))
    async with server, Client(registry) as client:
        record = Record("greeter", nodes=(Node("n1", server.address),))
        await registry.register(record)
        greeter = GreeterClient(client, "greeter")
        assert await _answers(greeter, 3) == {"back": 3}

        await registry.deregister(record)
        await registry.register(record)
        # The channel of the node that left is closed; the one that came
        # back gets a fresh one, on the very next call and after.
        assert await _answers(greeter, 20) == {"back": 20}
        await asyncio.sleep(0.1)
        assert await _answers(greeter, 20) == {"back": 20}
