"""Middleware: code that runs around every call, on either side.

A middleware is a callable `(call, proceed) -> awaitable`. It may look at
or change `call`, then `await proceed(call)` to run the rest of the chain
(or refuse by raising a `StatusError`), and returns what `proceed`
returned. A list of middleware runs in list order: the first entered
first, left last. The chain is composed once, when the client or server
is built.

- A unary call's `proceed` returns the reply once it has come.
- A streaming call's `proceed` returns as soon as the stream has started;
  its end, like a unary call's, is reported to the callbacks given to
  `call.add_done_callback`, with the `StatusError` it ended with or None.

On the client the chain runs once per attempt: a retried call passes
through it again, with `call.attempt` counting up and `call.node` naming
the node of that attempt. On the server it runs once per call, after the
request has been received (for a client stream: before it is read).

Built in: `log.CallLog`, `breaker.CircuitBreaker` (client),
`ratelimit.RateLimiter` (both sides) and `metadata.InjectMetadata`
(client).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from micro_grpc.errors import StatusError
from micro_grpc.methods import MethodSpec
from micro_grpc.registry import Node

if TYPE_CHECKING:
    from micro_grpc.server.context import Context

__all__ = [
    "Call",
    "ClientCall",
    "ClientMiddleware",
    "Next",
    "Refused",
    "ServerCall",
    "ServerMiddleware",
    "compose",
]

log = logging.getLogger(__name__)

CallT = TypeVar("CallT", bound="Call")

Next = Callable[[CallT], Awaitable[Any]]
"""The rest of the chain: the next middleware, or the call itself."""


class Refused(StatusError):
    """A call a middleware refused in this process, before any node saw it.

    The client neither retries it nor counts it against a node.
    """


class Call:
    """One call (on the client: one attempt) as middleware sees it.

    `service` is the service's registry name, `method` the rpc, `started`
    the `time.monotonic()` at which the call (attempt) began, `error` the
    `StatusError` it ended with (None while running or after success).
    """

    __slots__ = ("_callbacks", "done", "error", "method", "service", "started")

    side: ClassVar[str] = ""

    def __init__(self, service: str, method: MethodSpec[Any, Any]) -> None:
        self.service = service
        self.method = method
        self.started = time.monotonic()
        self.done = False
        self.error: StatusError | None = None
        self._callbacks: list[Callable[[Any], None]] | None = None

    @property
    def streaming(self) -> bool:
        """True for the three streaming shapes of rpc."""
        shape = self.method.cardinality
        return shape.client_streaming or shape.server_streaming

    @property
    def remote(self) -> str:
        """The other end: the node's address, or the caller's peer."""
        raise NotImplementedError

    @property
    def duration(self) -> float:
        """Seconds since the call started."""
        return time.monotonic() - self.started

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(call)` when the call ends (`call.error` tells how)."""
        if self.done:
            callback(self)
        elif self._callbacks is None:
            self._callbacks = [callback]
        else:
            self._callbacks.append(callback)

    def end(self, error: StatusError | None) -> None:
        """Record how the call ended and run the callbacks; once only.

        The runtime calls this; middleware does not.
        """
        if self.done:
            return
        self.done = True
        self.error = error
        callbacks = self._callbacks
        if callbacks is not None:
            self._callbacks = None
            for callback in callbacks:
                try:
                    callback(self)
                except Exception:
                    log.exception("done callback of %s failed", self.method.path)


class ClientCall(Call):
    """One attempt of a call made by a client.

    `request` is the request message (None when the client streams),
    `metadata` the outgoing metadata (a list a middleware may extend),
    `timeout` the seconds left for this attempt (None without deadline),
    `node` the chosen node (None when the caller gave `address`),
    `address` where the attempt goes, `attempt` counts from 1.
    """

    __slots__ = ("address", "attempt", "metadata", "node", "request", "timeout")

    side = "client"

    def __init__(
        self,
        service: str,
        method: MethodSpec[Any, Any],
        request: Any,
        *,
        metadata: list[tuple[str, str | bytes]],
        timeout: float | None,
        node: Node | None,
        address: str,
        attempt: int,
    ) -> None:
        super().__init__(service, method)
        self.request = request
        self.metadata = metadata
        self.timeout = timeout
        self.node = node
        self.address = address
        self.attempt = attempt

    @property
    def remote(self) -> str:
        return self.address


class ServerCall(Call):
    """One call a server is answering.

    `request` is the request message, or for a client-streaming rpc the
    async iterator of requests; `context` is what the handler receives.
    """

    __slots__ = ("context", "request")

    side = "server"

    def __init__(
        self,
        service: str,
        method: MethodSpec[Any, Any],
        request: Any,
        context: Context,
    ) -> None:
        super().__init__(service, method)
        self.request = request
        self.context = context

    @property
    def metadata(self) -> Mapping[str, str | bytes]:
        """The caller's metadata."""
        return self.context.metadata

    @property
    def remote(self) -> str:
        return self.context.peer


class ClientMiddleware(Protocol):
    """Runs around every attempt of every call a client makes."""

    def __call__(
        self, call: ClientCall, proceed: Next[ClientCall], /
    ) -> Awaitable[Any]: ...


class ServerMiddleware(Protocol):
    """Runs around every call a server answers."""

    def __call__(
        self, call: ServerCall, proceed: Next[ServerCall], /
    ) -> Awaitable[Any]: ...


def compose(
    middleware: Sequence[Callable[[CallT, Next[CallT]], Awaitable[Any]]],
    terminal: Next[CallT],
) -> Next[CallT]:
    """One callable that runs `middleware` in order, then `terminal`."""
    handler = terminal
    for outer in reversed(middleware):
        handler = _link(outer, handler)
    return handler


def _link(
    outer: Callable[[CallT, Next[CallT]], Awaitable[Any]], inner: Next[CallT]
) -> Next[CallT]:
    def step(call: CallT) -> Awaitable[Any]:
        return outer(call, inner)

    return step
