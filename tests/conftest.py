"""Fixtures shared by the runtime tests: a greeter served on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from greeter.v1.greeter_micro import GreeterBase, GreeterClient
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest, LotsOfRepliesRequest

from micro_grpc import Context, Service
from micro_grpc.errors import InvalidArgument, NotFound
from micro_grpc.registry.memory import MemoryRegistry


class ProbeGreeter(GreeterBase):
    """A greeter whose request names steer it, for tests of the runtime.

    `sleep:<s>` waits that long; `missing` raises NotFound (also midway
    through a bidirectional stream); `boom` raises a
    plain exception; `meta:<key>` echoes that incoming metadata value and
    sets a trailer; `deadline` reports the time remaining.
    """

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stream_cancelled = asyncio.Event()
        self.calls = 0

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        name = request.name
        self.calls += 1
        self.started.set()
        if name.startswith("sleep:"):
            await asyncio.sleep(float(name.split(":", 1)[1]))
        elif name == "missing":
            raise NotFound("no such greeting")
        elif name == "boom":
            raise RuntimeError("secret detail")
        elif name == "":
            raise InvalidArgument("name must not be empty")
        elif name.startswith("meta:"):
            context.set_trailing_metadata({"x-trailer": "bye"})
            return HelloReply(message=str(context.metadata.get(name[5:], "")))
        elif name == "deadline":
            return HelloReply(message=f"{context.time_remaining()}")
        elif name == "peer":
            return HelloReply(message=context.peer)
        return HelloReply(message=f"Hello {name}")

    async def lots_of_replies(
        self, request: LotsOfRepliesRequest, context: Context
    ) -> AsyncIterator[HelloReply]:
        try:
            for i in range(request.count):
                if request.name == "fail" and i == 2:
                    raise NotFound("ran out at 2")
                yield HelloReply(message=f"{request.name} {i}")
                if request.name == "slow":
                    await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.stream_cancelled.set()
            raise

    async def lots_of_greetings(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> HelloReply:
        names = [r.name async for r in requests]
        return HelloReply(message=",".join(names))

    async def bidi_hello(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> AsyncIterator[HelloReply]:
        async for request in requests:
            if request.name == "missing":
                raise NotFound("no such greeting")
            yield HelloReply(message=f"Hello {request.name}")


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def greeter_impl() -> ProbeGreeter:
    return ProbeGreeter()


@pytest.fixture
async def greeter_service(
    registry: MemoryRegistry, greeter_impl: ProbeGreeter
) -> AsyncIterator[Service]:
    service = Service("greeter", registry=registry, version="1.0.0", grace=2.0)
    service.handle(greeter_impl)
    async with service:
        yield service


@pytest.fixture
async def greeter(greeter_service: Service) -> GreeterClient:
    return GreeterClient(greeter_service.client, "greeter")
