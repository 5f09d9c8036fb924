"""The contenders: one echo service served and called three ways.

Each contender can serve `bench.echo.v1.Echo` and call it, with the same
messages and the same work in the handler (copy the request's name into
the reply):

- `grpc`: raw grpc.aio with the stubs grpc_tools generates, dialled at a
  fixed address. The baseline.
- `micro`: micro-grpc, a `Service` registered in etcd and a `Client` that
  resolves it through its registry cache, selects a node and calls it with
  its default middleware and policies.
- `grpclib`: grpclib's server and client with the stubs its plugin writes.

A caller hands out the contender's own bound methods (`unary`, and
`send`/`recv` on a stream), so the load loops add the same cost to all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple, Protocol

import grpc
import grpclib.client
import grpclib.server

from bench.gen import echo_grpc, echo_micro, echo_pb2_grpc
from bench.gen.echo_pb2 import EchoReply, EchoRequest
from micro_grpc import Client, Context, Service, ServiceNotFound
from micro_grpc.registry import Registry
from micro_grpc.registry.etcd import EtcdRegistry

__all__ = [
    "BASELINE",
    "CONTENDERS",
    "LABELS",
    "Caller",
    "Duplex",
    "Serving",
    "connect",
    "listed",
    "micro_service",
    "serve",
]

CONTENDERS = ("grpc", "micro", "grpclib")
BASELINE = "grpc"
LABELS = {"grpc": "raw grpc.aio", "micro": "micro-grpc", "grpclib": "grpclib"}

_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]


class Duplex(NamedTuple):
    """One open bidirectional stream: the contender's own send and recv."""

    send: Callable[[EchoRequest], Awaitable[None]]
    recv: Callable[[], Awaitable[Any]]


class Caller(Protocol):
    """A connected client of one contender."""

    @property
    def unary(self) -> Callable[[EchoRequest], Awaitable[EchoReply]]:
        """The contender's own unary method, bound."""
        ...

    def bidi(self) -> contextlib.AbstractAsyncContextManager[Duplex]: ...

    async def close(self) -> None: ...


class Serving(NamedTuple):
    """A started server: where it listens, and how to stop it."""

    address: str
    stop: Callable[[], Awaitable[None]]


# Servers -----------------------------------------------------------------


# grpc_tools and grpclib name handler methods after the rpcs, in CamelCase.


class GrpcEcho(echo_pb2_grpc.EchoServicer):
    async def Unary(self, request: EchoRequest, context: Any) -> EchoReply:
        return EchoReply(message=request.name)

    async def Bidi(
        self, request_iterator: Any, context: Any
    ) -> AsyncIterator[EchoReply]:
        async for request in request_iterator:
            yield EchoReply(message=request.name)


class MicroEcho(echo_micro.EchoBase):
    """The echo handler; with `pid` set it answers with its process id."""

    def __init__(self, pid: bool = False) -> None:
        self._pid = str(os.getpid()) if pid else ""

    async def unary(self, request: EchoRequest, context: Context) -> EchoReply:
        return EchoReply(message=self._pid or request.name)

    async def bidi(
        self, requests: AsyncIterator[EchoRequest], context: Context
    ) -> AsyncIterator[EchoReply]:
        async for request in requests:
            yield EchoReply(message=request.name)


class GrpclibEcho(echo_grpc.EchoBase):
    async def Unary(
        self, stream: grpclib.server.Stream[EchoRequest, EchoReply]
    ) -> None:
        request = await stream.recv_message()
        assert request is not None
        await stream.send_message(EchoReply(message=request.name))

    async def Bidi(self, stream: grpclib.server.Stream[EchoRequest, EchoReply]) -> None:
        async for request in stream:
            await stream.send_message(EchoReply(message=request.name))


async def serve(contender: str, registry: str, name: str) -> Serving:
    """Start `contender`'s echo server on 127.0.0.1, port 0.

    micro-grpc's registers as `name` in the etcd at `registry` and returns
    once etcd lists it.
    """
    if contender == "grpc":
        return await _serve_grpc()
    if contender == "micro":
        return await _serve_micro(registry, name)
    if contender == "grpclib":
        return await _serve_grpclib()
    raise ValueError(f"unknown contender {contender!r}")


async def _serve_grpc() -> Serving:
    server = grpc.aio.server()
    echo_pb2_grpc.add_EchoServicer_to_server(GrpcEcho(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()

    async def stop() -> None:
        await server.stop(0.5)

    return Serving(f"127.0.0.1:{port}", stop)


def micro_service(registry: str, name: str, pid: bool = False) -> Service:
    """The micro-grpc echo service, registered in the etcd at `registry`."""
    service = Service(name, registry=EtcdRegistry(endpoints=[registry]), grace=0.5)
    service.handle(MicroEcho(pid))
    return service


async def _serve_micro(registry: str, name: str) -> Serving:
    service = micro_service(registry, name)
    await service.start()
    # Registered means listed by etcd, not merely sent to it.
    while service.id not in await listed(service.registry, name):
        await asyncio.sleep(0.005)
    return Serving(service.address, service.stop)


async def listed(registry: Registry, name: str) -> set[str]:
    """The ids of the nodes of `name` that the registry lists now."""
    try:
        records = await registry.get_service(name)
    except ServiceNotFound:
        return set()
    return {node.id for record in records for node in record.nodes}


async def _serve_grpclib() -> Serving:
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off only on
    # sockets that say they are TCP, and a unary call would otherwise wait
    # out the peer's delayed ACK (40 ms) on every reply.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = grpclib.server.Server([GrpclibEcho()])
    await server.start(sock=sock)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return Serving(f"127.0.0.1:{sock.getsockname()[1]}", stop)


# Clients -----------------------------------------------------------------


def connect(contender: str, target: str, name: str) -> Caller:
    """A client of `contender`'s server.

    `target` is the server's address for grpc and grpclib, and the etcd
    endpoint for micro-grpc, which finds the service `name` there.
    """
    if contender == "grpc":
        return GrpcCaller(target)
    if contender == "micro":
        return MicroCaller(target, name)
    if contender == "grpclib":
        return GrpclibCaller(target)
    raise ValueError(f"unknown contender {contender!r}")


class GrpcCaller:
    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = echo_pb2_grpc.EchoStub(self._channel)
        self.unary = self._stub.Unary

    @contextlib.asynccontextmanager
    async def bidi(self) -> AsyncIterator[Duplex]:
        call = self._stub.Bidi(None)
        yield Duplex(call.write, call.read)
        await call.done_writing()
        while await call.read() is not _EOF:
            pass

    async def close(self) -> None:
        await self._channel.close(None)


class MicroCaller:
    def __init__(self, registry: str, name: str) -> None:
        self._registry = EtcdRegistry(endpoints=[registry])
        self._client = Client(self._registry)
        self._echo = echo_micro.EchoClient(self._client, name)
        self.unary = self._echo.unary

    @contextlib.asynccontextmanager
    async def bidi(self) -> AsyncIterator[Duplex]:
        async with self._echo.bidi() as stream:
            yield Duplex(stream.send, stream.recv)
            await stream.done_writing()
            while await stream.recv() is not None:
                pass

    async def close(self) -> None:
        await self._client.close()
        await self._registry.close()


class GrpclibCaller:
    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._channel = grpclib.client.Channel(host, int(port))
        self._stub = echo_grpc.EchoStub(self._channel)
        self.unary = self._stub.Unary

    @contextlib.asynccontextmanager
    async def bidi(self) -> AsyncIterator[Duplex]:
        async with self._stub.Bidi.open() as stream:
            await stream.send_request()
            yield Duplex(stream.send_message, stream.recv_message)
            await stream.end()
            while await stream.recv_message() is not None:
                pass

    async def close(self) -> None:
        self._channel.close()
