"""The client: resolve a service name, select a node, call it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, TypeVar

import grpc
from google.protobuf.message import Message

from micro_grpc.client.pool import ChannelPool
from micro_grpc.client.streams import BidiStream, ClientStream, ServerStream
from micro_grpc.errors import ConfigError, from_rpc_error
from micro_grpc.methods import MethodSpec
from micro_grpc.registry import Node, Registry, Service
from micro_grpc.registry.cache import Cache
from micro_grpc.selector import Strategy, strategy
from micro_grpc.tls import ClientTLS

__all__ = ["CallOptions", "Client", "Metadata"]

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)

Metadata = Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]


class CallOptions(TypedDict, total=False):
    """Per-call settings, accepted by every generated client method.

    timeout: seconds before the call fails with DEADLINE_EXCEEDED.
    metadata: sent with the call; keys are lower case.
    address: call this `host:port` instead of asking the registry.
    """

    timeout: float | None
    metadata: Metadata
    address: str


class Client:
    """Calls services by name: registry cache, then selector, then channel.

    With no registry the client can only call fixed addresses (the
    `address` call option). Nodes that register with TLS are dialled with
    `tls` (or the system trust roots when it is None); plaintext nodes in
    plaintext.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        selector: Strategy | str = "random",
        tls: ClientTLS | None = None,
        timeout: float | None = None,
        query_timeout: float = 5.0,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.registry = registry
        self._cache = Cache(registry, query_timeout=query_timeout) if registry else None
        self._select = strategy(selector) if isinstance(selector, str) else selector
        self._secure_default = tls is not None
        self._timeout = timeout
        self._pool = ChannelPool(tls=tls, options=channel_options)

    async def unary(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
    ) -> ResponseT:
        """Send one request to a node of `service`, return its one reply."""
        call = await self._callable(service, method, address)
        try:
            reply: ResponseT = await call(
                request,
                timeout=timeout if timeout is not None else self._timeout,
                metadata=_pairs(metadata),
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        return reply

    def server_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
    ) -> ServerStream[ResponseT]:
        async def start() -> Any:
            call = await self._callable(service, method, address)
            return call(
                request, timeout=self._deadline(timeout), metadata=_pairs(metadata)
            )

        return ServerStream(start)

    def client_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
    ) -> ClientStream[RequestT, ResponseT]:
        async def start() -> Any:
            call = await self._callable(service, method, address)
            return call(timeout=self._deadline(timeout), metadata=_pairs(metadata))

        return ClientStream(start)

    def bidi_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
    ) -> BidiStream[RequestT, ResponseT]:
        async def start() -> Any:
            call = await self._callable(service, method, address)
            return call(timeout=self._deadline(timeout), metadata=_pairs(metadata))

        return BidiStream(start)

    async def close(self) -> None:
        """Close every channel and stop following the registry."""
        if self._cache is not None:
            await self._cache.close()
        await self._pool.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _deadline(self, timeout: float | None) -> float | None:
        return timeout if timeout is not None else self._timeout

    async def _callable(
        self, service: str, method: MethodSpec[Any, Any], address: str | None
    ) -> Any:
        if address is not None:
            return self._pool.callable(address, self._secure_default, method)
        node = await self.pick(service)
        secure = node.metadata.get("secure") == "true"
        return self._pool.callable(node.address, secure, method)

    async def lookup(self, service: str) -> list[Service]:
        """Every version of `service` the registry cache holds."""
        if self._cache is None:
            raise ConfigError(
                f"cannot resolve {service!r}: this client has no registry; "
                "pass address= to call a fixed node"
            )
        return await self._cache.get_service(service)

    async def pick(self, service: str) -> Node:
        """The node the selector chooses for the next call to `service`."""
        services = await self.lookup(service)
        return self._select(service, [node for s in services for node in s.nodes])

    def channel(self, address: str, *, secure: bool | None = None) -> grpc.aio.Channel:
        """The pooled channel to `address`, for calls outside generated code."""
        return self._pool.channel(
            address, self._secure_default if secure is None else secure
        )


def _pairs(metadata: Metadata | None) -> tuple[tuple[str, str | bytes], ...] | None:
    if metadata is None:
        return None
    if isinstance(metadata, Mapping):
        return tuple(metadata.items())
    return tuple(metadata)
