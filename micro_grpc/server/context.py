"""What a handler knows about the call it is answering.

The deadline of the call being handled is also kept in a context variable,
so the client a handler calls through passes the remaining time on: a
chain of calls never outlives its first caller's deadline. Tasks the
handler starts inherit it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

import grpc

from micro_grpc.errors import status_error
from micro_grpc.methods import MethodSpec

__all__ = ["DEADLINE", "Context", "bind_deadline", "current_deadline"]

DEADLINE: ContextVar[float | None] = ContextVar("micro_grpc_deadline", default=None)
"""The deadline `current_deadline()` reads, for code that reads it per call."""


def current_deadline() -> float | None:
    """The `time.monotonic()` by which the call being handled must end.

    None outside a handler, or when its caller set no deadline.
    """
    return DEADLINE.get()


def bind_deadline(remaining: float | None) -> None:
    """Make `remaining` seconds from now the deadline of this task's calls.

    The server calls it as each handler starts, with the caller's time
    remaining (None: no deadline).
    """
    DEADLINE.set(None if remaining is None else time.monotonic() + remaining)


class Context:
    """The call a handler answers: metadata, deadline, peer, trailers.

    `grpc_context` is grpc's own servicer context, for what this class
    does not cover.
    """

    __slots__ = ("_metadata", "grpc_context", "method")

    def __init__(
        self,
        grpc_context: grpc.aio.ServicerContext[Any, Any],
        method: MethodSpec[Any, Any],
    ) -> None:
        self.grpc_context = grpc_context
        self.method = method
        self._metadata: dict[str, str | bytes] | None = None

    @property
    def metadata(self) -> Mapping[str, str | bytes]:
        """The caller's metadata; a key sent more than once keeps its last value."""
        if self._metadata is None:
            pairs = self.grpc_context.invocation_metadata() or ()
            self._metadata = {key: value for key, value in pairs}
        return self._metadata

    def time_remaining(self) -> float | None:
        """Seconds left before the caller's deadline, or None without one."""
        remaining: float | None = self.grpc_context.time_remaining()
        return remaining

    @property
    def peer(self) -> str:
        """The caller's address as grpc names it, e.g. `ipv4:127.0.0.1:50312`."""
        return str(self.grpc_context.peer())

    def set_trailing_metadata(
        self, metadata: Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]
    ) -> None:
        pairs = (
            tuple(metadata.items())
            if isinstance(metadata, Mapping)
            else tuple(metadata)
        )
        self.grpc_context.set_trailing_metadata(pairs)

    def cancelled(self) -> bool:
        """True once the caller has gone away or the deadline has passed."""
        return bool(self.grpc_context.cancelled())

    async def abort(self, code: grpc.StatusCode, message: str = "") -> NoReturn:
        """End the call now with `code`; the caller receives it and `message`."""
        raise status_error(code, message)
