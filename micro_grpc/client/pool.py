"""One channel per node address, reused by every call to that node."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from micro_grpc.methods import Cardinality, MethodSpec
from micro_grpc.tls import ClientTLS

__all__ = ["ChannelPool"]

_FACTORY: dict[Cardinality, str] = {
    Cardinality.UNARY_UNARY: "unary_unary",
    Cardinality.UNARY_STREAM: "unary_stream",
    Cardinality.STREAM_UNARY: "stream_unary",
    Cardinality.STREAM_STREAM: "stream_stream",
}


# grpc shares connections between the channels of a process by default, so
# a connection to a node that died stays in reconnect backoff for every
# later channel, even one made for a new node that took the same port.
# Each pool keeps connections of its own, and closes them with the node.
_DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (("grpc.use_local_subchannel_pool", 1),)


class ChannelPool:
    """Channels keyed by (address, secure), and their callables per method.

    A multi-callable is built once per channel and method and kept, so a
    call costs a dict lookup rather than a new grpc object.
    """

    def __init__(
        self,
        *,
        tls: ClientTLS | None = None,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._tls = tls
        self._options = (*_DEFAULT_OPTIONS, *options)
        self._channels: dict[tuple[str, bool], grpc.aio.Channel] = {}
        self._callables: dict[tuple[str, bool, str], Callable[..., Any]] = {}

    def callable(
        self, address: str, secure: bool, method: MethodSpec[Any, Any]
    ) -> Callable[..., Any]:
        key = (address, secure, method.path)
        found = self._callables.get(key)
        if found is None:
            channel = self.channel(address, secure)
            factory = getattr(channel, _FACTORY[method.cardinality])
            found = factory(
                method.path,
                request_serializer=method.request.SerializeToString,
                response_deserializer=method.response.FromString,
                _registered_method=True,
            )
            self._callables[key] = found
        return found

    def channel(self, address: str, secure: bool) -> grpc.aio.Channel:
        channel = self._channels.get((address, secure))
        if channel is None:
            if secure:
                tls = self._tls or ClientTLS()
                options = self._options
                if tls.server_name:
                    options = (
                        *options,
                        ("grpc.ssl_target_name_override", tls.server_name),
                    )
                channel = grpc.aio.secure_channel(
                    address, tls.credentials(), options=options
                )
            else:
                channel = grpc.aio.insecure_channel(address, options=self._options)
            self._channels[(address, secure)] = channel
        return channel

    def forget(self, address: str) -> list[grpc.aio.Channel]:
        """Stop handing out the channels to `address`; returns them to close.

        At once, so that no call made after a node has left is given a
        channel that is about to close.
        """
        for path_key in [k for k in self._callables if k[0] == address]:
            del self._callables[path_key]
        return [
            self._channels.pop(key)
            for key in [k for k in self._channels if k[0] == address]
        ]

    async def close(self, grace: float | None = None) -> None:
        """Close every channel; calls in flight get `grace` seconds to end."""
        channels = list(self._channels.values())
        self._channels.clear()
        self._callables.clear()
        await asyncio.gather(
            *(c.close(grace) for c in channels), return_exceptions=True
        )
