"""The client: resolve a service name, select a node, call it, retry.

Each call reads the registry cache, runs the filters and the strategy
(`micro_grpc.selector`), skips nodes marked NOT_SERVING or ejected as
outliers, and calls the node over its pooled channel. A failure with a
retryable status (UNAVAILABLE by default) is retried after an exponential,
jittered backoff on another node when there is one, all within the
caller's deadline. That deadline is the smaller of the call's timeout and
the time left to the call being handled, when the client is used inside a
handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from random import random
from typing import Any, TypedDict, TypeVar, Unpack

import grpc
from google.protobuf.message import Message

from micro_grpc.client.pool import ChannelPool
from micro_grpc.client.retry import NO_RETRY, RetryPolicy
from micro_grpc.client.streams import BidiStream, ClientStream, ServerStream
from micro_grpc.errors import (
    Cancelled,
    ConfigError,
    DeadlineExceeded,
    NotFound,
    StatusError,
    Unknown,
    from_rpc_error,
)
from micro_grpc.methods import Cardinality, MethodSpec
from micro_grpc.middleware import ClientCall, ClientMiddleware, Next, Refused, compose
from micro_grpc.registry import Node, Registry, Service
from micro_grpc.registry.cache import Cache
from micro_grpc.selector import (
    Filter,
    InFlightTracker,
    Strategy,
    random_choice,
    serving,
    strategy,
)
from micro_grpc.selector.outlier import DEFAULT_EJECTION, Ejection, OutlierEjector
from micro_grpc.server.context import DEADLINE, current_deadline
from micro_grpc.tls import ClientTLS

__all__ = ["NO_RETRY", "CallOptions", "Client", "Metadata", "RetryPolicy"]

log = logging.getLogger(__name__)

# Calls in flight to a node that has left the registry get this long to
# end before its channel is closed: a node that drains answers them.
_LEFT_GRACE = 5.0

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)

Metadata = Mapping[str, str | bytes] | Sequence[tuple[str, str | bytes]]
Pairs = tuple[tuple[str, str | bytes], ...]


class CallOptions(TypedDict, total=False):
    """Per-call settings, accepted by every generated client method.

    timeout: seconds before the call fails with DEADLINE_EXCEEDED (inside
        a handler, never more than the time left to the call handled).
    metadata: sent with the call; keys are lower case.
    address: call this `host:port` instead of asking the registry.
    selector: the strategy (or its name) for this call.
    filters: applied after the client's own filters, for this call.
    retry: the retry policy for this call (`NO_RETRY` for none).
    """

    timeout: float | None
    metadata: Metadata
    address: str
    selector: Strategy | str
    filters: Sequence[Filter]
    retry: RetryPolicy


class Client:
    """Calls services by name: registry cache, selection, channel, retries.

    `selector` is a strategy or its name (`random`, `round_robin`,
    `weighted`, `least_in_flight`); `filters` apply to every call;
    `middleware` runs around every attempt, in list order; `retry` is the
    default retry policy; `ejection` sets when failing nodes are skipped
    (None turns outlier ejection off). With no registry the client can only
    call fixed addresses (the `address` call option). Nodes that register
    with TLS are dialled with `tls` (or the system trust roots when it is
    None); plaintext nodes in plaintext.
    """

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        selector: Strategy | str = "random",
        filters: Sequence[Filter] = (),
        middleware: Sequence[ClientMiddleware] = (),
        retry: RetryPolicy | None = None,
        ejection: Ejection | None = DEFAULT_EJECTION,
        tls: ClientTLS | None = None,
        timeout: float | None = None,
        query_timeout: float = 5.0,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.registry = registry
        self._cache = (
            Cache(registry, query_timeout=query_timeout, on_gone=self._node_gone)
            if registry
            else None
        )
        self._named: dict[str, tuple[Strategy, InFlightTracker | None]] = {}
        self._select, self._tracker = self._strategy(selector)
        self._filters = tuple(filters)
        self._retry = retry or RetryPolicy()
        self._outliers = OutlierEjector(ejection) if ejection is not None else None
        self._chain: Next[ClientCall] | None = (
            compose(middleware, self._invoke) if middleware else None
        )
        self._secure_default = tls is not None
        self._timeout = timeout
        self._pool = ChannelPool(tls=tls, options=channel_options)
        self._closing: set[asyncio.Future[list[None]]] = set()
        # service -> its nodes, as drawn from the cache's records
        self._routes: dict[str, _Route] = {}
        # What `unary` reads on every call, bound once. A call skips the
        # general loop when nothing but the node is to be decided: the
        # default random pick, no filters, no middleware, no default
        # timeout, and no option given.
        self._plain = (
            self._cache is not None
            and self._select is random_choice
            and not self._filters
            and self._chain is None
            and timeout is None
        )
        self._held = self._cache.services if self._cache is not None else {}
        outliers = self._outliers or OutlierEjector()
        self._failures = outliers.failures
        self._ejections = outliers.ejections
        self._succeeded = outliers.succeeded

    @property
    def outliers(self) -> OutlierEjector | None:
        """The outlier ejector's view of the nodes, None when it is off."""
        return self._outliers

    async def unary(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
        selector: Strategy | str | None = None,
        filters: Sequence[Filter] | None = None,
        retry: RetryPolicy | None = None,
    ) -> ResponseT:
        """Send one request to a node of `service`, return its one reply."""
        failed: tuple[str, StatusError] | None = None
        route = self._routes.get(service) if self._plain else None
        if (
            route is not None
            and route.records is self._held.get(service)
            and not self._ejections
            and timeout is None
            and metadata is None
            and address is None
            and selector is None
            and filters is None
            and retry is None
        ):
            # The call made most often: no options, a service already
            # resolved, no node set aside. All that the loop below decides
            # is settled in `route` but the pick. With calls far apart the
            # CPU caches go cold between them, and each step not taken here
            # saves cache misses (see bench/FINDINGS.md). A failure goes on
            # to the loop as its first attempt.
            calls = route.calls.get(method.path) or self._bind(route, method)
            index = int(random() * len(calls))
            inherited = DEADLINE.get()
            try:
                reply = await calls[index](
                    request,
                    timeout=None
                    if inherited is None
                    else _remaining(inherited, service),
                )
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                error.__cause__ = exc
                failed = (route.nodes[index].address, error)
            else:
                if self._failures:
                    self._succeeded(route.nodes[index].address)
                return reply  # type: ignore[no-any-return]

        deadline = self._deadline(timeout)
        pairs = None if metadata is None else _pairs(metadata)
        policy = retry or self._retry
        tracker = self._tracker if selector is None else self._strategy(selector)[1]
        outliers = self._outliers
        tried: Sequence[str] = ()
        attempt = 0
        if failed is not None:
            attempt = 1
            tried = (failed[0],)
            await self._after(policy, attempt, failed[0], failed[1], deadline)
        while True:
            attempt += 1
            node, target, secure = await self._route(
                service, address, selector, filters, tried
            )
            remaining = _remaining(deadline, service)
            if tracker is not None:
                tracker.begin(target)
            try:
                if self._chain is None:
                    reply = await self._pool.callable(target, secure, method)(
                        request, timeout=remaining, metadata=pairs
                    )
                else:
                    call = ClientCall(
                        service,
                        method,
                        request,
                        metadata=list(pairs or ()),
                        timeout=remaining,
                        node=node,
                        address=target,
                        attempt=attempt,
                    )
                    reply = await self._chained(call)
            except grpc.aio.AioRpcError as exc:
                error = from_rpc_error(exc)
                error.__cause__ = exc
            except StatusError as exc:
                error = exc
            else:
                if outliers is not None:
                    outliers.succeeded(target)
                return reply  # type: ignore[no-any-return]
            finally:
                if tracker is not None:
                    tracker.end(target)

            await self._after(policy, attempt, target, error, deadline)
            tried = [*tried, target]

    async def _after(
        self,
        policy: RetryPolicy,
        attempt: int,
        target: str,
        error: StatusError,
        deadline: float | None,
    ) -> None:
        """Account for a failed attempt; raise `error` unless one more follows."""
        if isinstance(error, Refused):
            raise error
        if self._outliers is not None:
            self._outliers.failed(target, error.code)
        if not await self._backoff(policy, attempt, error, deadline):
            raise error

    def server_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        request: RequestT,
        **options: Unpack[CallOptions],
    ) -> ServerStream[ResponseT]:
        """One request out, a stream of replies back; see `CallOptions`."""
        return ServerStream(self._attempts(service, method, request, **options))

    def client_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        **options: Unpack[CallOptions],
    ) -> ClientStream[RequestT, ResponseT]:
        """A stream of requests out, one reply back; see `CallOptions`."""
        return ClientStream(self._attempts(service, method, None, **options))

    def bidi_stream(
        self,
        service: str,
        method: MethodSpec[RequestT, ResponseT],
        **options: Unpack[CallOptions],
    ) -> BidiStream[RequestT, ResponseT]:
        """Requests and replies both ways; see `CallOptions`."""
        return BidiStream(self._attempts(service, method, None, **options))

    async def close(self, grace: float | None = None) -> None:
        """Stop following the registry and close every channel.

        Calls in flight are cancelled, or given `grace` seconds to end.
        """
        if self._cache is not None:
            await self._cache.close()
        await self._pool.close(grace)
        if self._closing:
            # Channels of nodes that left, closing on their own grace.
            _, late = await asyncio.wait(self._closing, timeout=grace or 0)
            for closing in late:
                closing.cancel()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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
        return self._choose(service, await self.lookup(service), None, None, ())

    def channel(self, address: str, *, secure: bool | None = None) -> grpc.aio.Channel:
        """The pooled channel to `address`, for calls outside generated code."""
        return self._pool.channel(
            address, self._secure_default if secure is None else secure
        )

    def _node_gone(self, address: str) -> None:
        # A node left the registry: close its channel, unless another node
        # the cache still holds answers at the same address. Routes may
        # hold its callables; they are drawn again on their next call.
        if self._cache is not None and address not in self._cache.addresses():
            channels = self._pool.forget(address)
            self._routes.clear()
            closing = asyncio.gather(*(c.close(_LEFT_GRACE) for c in channels))
            self._closing.add(closing)  # kept until done
            closing.add_done_callback(self._closing.discard)

    def _deadline(self, timeout: float | None) -> float | None:
        """The `time.monotonic()` the whole call must end by, if any."""
        if timeout is None:
            timeout = self._timeout
        inherited = current_deadline()
        if timeout is None:
            return inherited
        own = time.monotonic() + timeout
        return own if inherited is None or own < inherited else inherited

    def _strategy(
        self, selector: Strategy | str
    ) -> tuple[Strategy, InFlightTracker | None]:
        if isinstance(selector, str):
            found = self._named.get(selector)
            if found is None:
                made = strategy(selector)
                tracker = made if isinstance(made, InFlightTracker) else None
                found = self._named[selector] = (made, tracker)
            return found
        return selector, selector if isinstance(selector, InFlightTracker) else None

    async def _route(
        self,
        service: str,
        address: str | None,
        selector: Strategy | str | None,
        filters: Sequence[Filter] | None,
        tried: Sequence[str],
    ) -> tuple[Node | None, str, bool]:
        if address is not None:
            return None, address, self._secure_default
        # Known services are read from the cache without an await: this
        # runs on every call.
        cache = self._cache
        records = cache.cached(service) if cache is not None else None
        if records is None:
            records = await self.lookup(service)
        node = self._choose(service, records, selector, filters, tried)
        return node, node.address, node.metadata.get("secure") == "true"

    def _choose(
        self,
        service: str,
        records: list[Service],
        selector: Strategy | str | None,
        filters: Sequence[Filter] | None,
        tried: Sequence[str],
    ) -> Node:
        if filters is None and not self._filters:
            # The cache hands out the same list until the registry changes,
            # so the nodes drawn from it are worked out once per change.
            route = self._routes.get(service)
            if route is None or route.records is not records:
                route = _Route(records, serving(_flatten(records)))
                self._routes[service] = route
            nodes = route.nodes
        else:
            nodes = self._filtered(service, records, filters)
        if self._outliers is not None:
            nodes = self._outliers.usable(nodes)
        if tried:
            untried = [n for n in nodes if n.address not in tried]
            nodes = untried or nodes

        select = self._select if selector is None else self._strategy(selector)[0]
        return select(service, nodes)

    def _filtered(
        self,
        service: str,
        records: Sequence[Service],
        filters: Sequence[Filter] | None,
    ) -> Sequence[Node]:
        kept: Sequence[Service] = records
        for each in (*self._filters, *(filters or ())):
            kept = each(kept)
        nodes = serving(_flatten(kept))
        if not nodes:
            named = ", ".join(repr(f) for f in (*self._filters, *(filters or ())))
            raise NotFound(f"no node of {service} passes the filters: {named}")
        return nodes

    def _bind(
        self, route: _Route, method: MethodSpec[Any, Any]
    ) -> tuple[Callable[..., Any], ...]:
        """The pooled callables of `method` on each of the route's nodes."""
        calls = tuple(
            self._pool.callable(
                node.address, node.metadata.get("secure") == "true", method
            )
            for node in route.nodes
        )
        route.calls[method.path] = calls
        return calls

    async def _chained(self, call: ClientCall) -> Any:
        assert self._chain is not None
        try:
            result = await self._chain(call)
        except BaseException as exc:
            call.end(_outcome(exc))
            raise
        if not call.streaming:
            call.end(None)
        return result

    async def _invoke(self, call: ClientCall) -> Any:
        """The end of the middleware chain: the attempt itself."""
        node = call.node
        secure = (
            node.metadata.get("secure") == "true"
            if node is not None
            else self._secure_default
        )
        target = self._pool.callable(call.address, secure, call.method)
        metadata = tuple(call.metadata)
        shape = call.method.cardinality
        if shape is Cardinality.UNARY_UNARY:
            try:
                return await target(
                    call.request, timeout=call.timeout, metadata=metadata
                )
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc) from exc
        if shape is Cardinality.UNARY_STREAM:
            return target(call.request, timeout=call.timeout, metadata=metadata)
        return target(timeout=call.timeout, metadata=metadata)

    async def _backoff(
        self,
        policy: RetryPolicy,
        attempt: int,
        error: StatusError,
        deadline: float | None,
    ) -> bool:
        """Wait before the next attempt; False when there is to be none."""
        if attempt >= policy.attempts or error.code not in policy.codes:
            return False
        delay = policy.delay(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return False
        log.debug("retrying in %.3fs after %s", delay, error)
        await asyncio.sleep(delay)
        return True

    def _attempts(
        self,
        service: str,
        method: MethodSpec[Any, Any],
        request: Any,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
        address: str | None = None,
        selector: Strategy | str | None = None,
        filters: Sequence[Filter] | None = None,
        retry: RetryPolicy | None = None,
    ) -> _StreamAttempts:
        return _StreamAttempts(
            self,
            service,
            method,
            request,
            deadline=self._deadline(timeout),
            pairs=_pairs(metadata),
            address=address,
            selector=selector,
            filters=filters,
            policy=retry or self._retry,
        )


class _StreamAttempts:
    """The attempts of one streaming call, opened and judged for the stream.

    The stream wrapper (`streams.py`) asks for a new attempt when one fails
    before the stream is committed, that is before any request has been
    sent or any reply received; this class decides whether a retry is due
    and keeps the node bookkeeping (outliers, in-flight counts, middleware
    call ends) for each attempt.
    """

    __slots__ = (
        "_call",
        "_client",
        "_open",
        "_target",
        "_tracker",
        "_tried",
        "address",
        "attempt",
        "deadline",
        "filters",
        "method",
        "pairs",
        "policy",
        "request",
        "selector",
        "service",
    )

    def __init__(
        self,
        client: Client,
        service: str,
        method: MethodSpec[Any, Any],
        request: Any,
        *,
        deadline: float | None,
        pairs: Pairs | None,
        address: str | None,
        selector: Strategy | str | None,
        filters: Sequence[Filter] | None,
        policy: RetryPolicy,
    ) -> None:
        self._client = client
        self.service = service
        self.method = method
        self.request = request
        self.deadline = deadline
        self.pairs = pairs
        self.address = address
        self.selector = selector
        self.filters = filters
        self.policy = policy
        self.attempt = 0
        self._tried: list[str] = []
        self._target = ""
        self._open = False
        self._call: ClientCall | None = None
        self._tracker = (
            client._tracker if selector is None else client._strategy(selector)[1]
        )

    async def open(self) -> Any:
        """Start a new attempt; grpc's call object for it."""
        client = self._client
        self.attempt += 1
        node, target, secure = await client._route(
            self.service, self.address, self.selector, self.filters, self._tried
        )
        remaining = _remaining(self.deadline, self.service)
        self._target = target
        self._open = True
        if self._tracker is not None:
            self._tracker.begin(target)
        if client._chain is None:
            callable_ = client._pool.callable(target, secure, self.method)
            if self.method.cardinality.client_streaming:
                return callable_(timeout=remaining, metadata=self.pairs)
            return callable_(self.request, timeout=remaining, metadata=self.pairs)
        call = self._call = ClientCall(
            self.service,
            self.method,
            self.request,
            metadata=list(self.pairs or ()),
            timeout=remaining,
            node=node,
            address=target,
            attempt=self.attempt,
        )
        try:
            return await client._chained(call)
        except BaseException as exc:
            self._close(_outcome(exc))
            raise

    async def retry(self, error: StatusError) -> bool:
        """End the failed attempt; True once a new one may be opened."""
        self._close(error)
        if isinstance(error, Refused):
            return False
        if not await self._client._backoff(
            self.policy, self.attempt, error, self.deadline
        ):
            return False
        self._tried.append(self._target)
        return True

    def end(self, error: StatusError | None) -> None:
        """The stream is over: close its last attempt."""
        self._close(error)

    def _close(self, error: StatusError | None) -> None:
        if not self._open:
            return
        self._open = False
        client = self._client
        if self._tracker is not None:
            self._tracker.end(self._target)
        if client._outliers is not None and not isinstance(error, Refused):
            if error is None:
                client._outliers.succeeded(self._target)
            else:
                client._outliers.failed(self._target, error.code)
        if self._call is not None:
            self._call.end(error)
            self._call = None


def _flatten(records: Sequence[Service]) -> Sequence[Node]:
    if len(records) == 1:
        return records[0].nodes
    return [node for record in records for node in record.nodes]


class _Route:
    """The nodes of a service drawn from one list of the cache's records.

    It holds while the cache still hands out that same list: a change in
    the registry replaces the list, and the route is drawn again. `calls`
    keeps, per method path, the pooled callable of each node, in order.
    """

    __slots__ = ("calls", "nodes", "records")

    def __init__(self, records: list[Service], nodes: Sequence[Node]) -> None:
        self.records = records
        self.nodes = nodes
        self.calls: dict[str, tuple[Callable[..., Any], ...]] = {}


def _remaining(deadline: float | None, service: str) -> float | None:
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(f"no time left for a call to {service}")
    return remaining


def _outcome(exc: BaseException) -> StatusError:
    if isinstance(exc, StatusError):
        return exc
    if isinstance(exc, asyncio.CancelledError):
        return Cancelled("the call was cancelled by this client")
    return Unknown(f"{type(exc).__name__}: {exc}")


def _pairs(metadata: Metadata | None) -> Pairs | None:
    if metadata is None:
        return None
    if isinstance(metadata, Mapping):
        return tuple(metadata.items())
    return tuple(metadata)
