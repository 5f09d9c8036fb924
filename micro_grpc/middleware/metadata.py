"""Metadata injection: headers added to every call a client makes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from micro_grpc.errors import ConfigError
from micro_grpc.middleware import ClientCall, Next

__all__ = ["InjectMetadata"]

Value = str | bytes | Callable[[], str | bytes]


class InjectMetadata:
    """Client middleware adding `metadata` to each call's outgoing metadata.

    A value may be a callable, asked afresh for every call (a token that
    rotates). Keys the caller set on the call itself are left alone.
    """

    def __init__(self, metadata: Mapping[str, Value]) -> None:
        bad = [k for k in metadata if k != k.lower() or not k]
        if bad:
            raise ConfigError(f"metadata keys must be lower case: {bad}")
        self._static = tuple(
            (k, v) for k, v in metadata.items() if isinstance(v, str | bytes)
        )
        self._dynamic = tuple(
            (k, v) for k, v in metadata.items() if not isinstance(v, str | bytes)
        )
        self._keys = frozenset(metadata)

    def __call__(self, call: ClientCall, proceed: Next[ClientCall]) -> Awaitable[Any]:
        outgoing = call.metadata
        if outgoing and any(k in self._keys for k, _ in outgoing):
            present = {k for k, _ in outgoing}
            outgoing.extend((k, v) for k, v in self._static if k not in present)
            outgoing.extend((k, v()) for k, v in self._dynamic if k not in present)
        else:
            outgoing.extend(self._static)
            outgoing.extend((k, v()) for k, v in self._dynamic)
        return proceed(call)
