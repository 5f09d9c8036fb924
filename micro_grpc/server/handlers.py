"""Turning a user's handler methods into grpc method handlers.

Each wrapper gives the handler a `Context`, makes the caller's deadline the
deadline of the calls the handler makes in turn, runs the server's
middleware, and maps what the handler raises onto the call's status: a
`StatusError` becomes its own code and message; anything else becomes
INTERNAL with no detail for the caller, and is logged here with the method
named. Without middleware a call costs what it did before middleware
existed: no call object is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from time import monotonic
from typing import Any, NoReturn

import grpc

from micro_grpc.errors import Cancelled, Internal, StatusError, Unknown
from micro_grpc.methods import Cardinality, MethodSpec, ServiceSpec
from micro_grpc.middleware import Next, ServerCall, ServerMiddleware, compose
from micro_grpc.server.context import DEADLINE, Context, bind_deadline

__all__ = ["method_handlers"]

log = logging.getLogger(__name__)

ServicerContext = grpc.aio.ServicerContext[Any, Any]


async def _fail(
    ctx: ServicerContext, method: MethodSpec[Any, Any], exc: Exception
) -> NoReturn:
    if isinstance(exc, StatusError):
        if exc.trailing_metadata:
            ctx.set_trailing_metadata(exc.trailing_metadata)
        await ctx.abort(exc.code, exc.message)
    log.error("handler of %s failed", method.path, exc_info=exc)
    await ctx.abort(grpc.StatusCode.INTERNAL, "internal error")


def _outcome(exc: BaseException) -> StatusError:
    """The status a call that raised `exc` ends with, for middleware."""
    if isinstance(exc, StatusError):
        return exc
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return Cancelled("the call was cancelled")
    if isinstance(exc, grpc.aio.AbortError):
        return Unknown("aborted through grpc's context")
    return Internal("internal error")


def _unary(method: MethodSpec[Any, Any], fn: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(request: Any, ctx: ServicerContext) -> Any:
        # bind_deadline, written out: with calls far apart this runs with
        # cold CPU caches, where each function call costs cache misses.
        remaining = ctx.time_remaining()
        DEADLINE.set(None if remaining is None else monotonic() + remaining)
        try:
            return await fn(request, Context(ctx, method))
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(ctx, method, exc)

    return handle


def _streaming(
    method: MethodSpec[Any, Any], fn: Callable[..., Any]
) -> Callable[..., Any]:
    async def handle(request: Any, ctx: ServicerContext) -> AsyncIterator[Any]:
        bind_deadline(ctx.time_remaining())
        try:
            async for reply in fn(request, Context(ctx, method)):
                yield reply
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(ctx, method, exc)

    return handle


def _unary_chained(
    method: MethodSpec[Any, Any], chain: Next[ServerCall], service: str
) -> Callable[..., Any]:
    async def handle(request: Any, ctx: ServicerContext) -> Any:
        bind_deadline(ctx.time_remaining())
        call = ServerCall(service, method, request, Context(ctx, method))
        try:
            reply = await chain(call)
        except BaseException as exc:
            call.end(_outcome(exc))
            if isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
                await _fail(ctx, method, exc)
            raise
        call.end(None)
        return reply

    return handle


def _streaming_chained(
    method: MethodSpec[Any, Any], chain: Next[ServerCall], service: str
) -> Callable[..., Any]:
    async def handle(request: Any, ctx: ServicerContext) -> AsyncIterator[Any]:
        bind_deadline(ctx.time_remaining())
        call = ServerCall(service, method, request, Context(ctx, method))
        try:
            replies = await chain(call)
            async for reply in replies:
                yield reply
        except BaseException as exc:
            call.end(_outcome(exc))
            if isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
                await _fail(ctx, method, exc)
            raise
        call.end(None)

    return handle


def _terminal(fn: Callable[..., Any], streaming: bool) -> Next[ServerCall]:
    if streaming:

        async def replies(call: ServerCall) -> Any:
            # The handler's async generator, not yet started: the wrapper
            # iterates it, so middleware sees the stream begin, not end.
            return fn(call.request, call.context)

        return replies

    def reply(call: ServerCall) -> Any:
        return fn(call.request, call.context)

    return reply


_FACTORIES = {
    Cardinality.UNARY_UNARY: grpc.unary_unary_rpc_method_handler,
    Cardinality.UNARY_STREAM: grpc.unary_stream_rpc_method_handler,
    Cardinality.STREAM_UNARY: grpc.stream_unary_rpc_method_handler,
    Cardinality.STREAM_STREAM: grpc.stream_stream_rpc_method_handler,
}


def method_handlers(
    spec: ServiceSpec,
    impl: object,
    middleware: Sequence[ServerMiddleware] = (),
    service: str = "",
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """One grpc handler per rpc of `spec`, calling the methods of `impl`.

    `middleware` runs around each call, composed here once per method;
    `service` is the name middleware sees (the proto service's by default).
    """
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in spec.methods:
        fn = getattr(impl, method.attr)
        streaming = method.cardinality.server_streaming
        if middleware:
            chain = compose(middleware, _terminal(fn, streaming))
            name = service or method.service
            wrap = _streaming_chained if streaming else _unary_chained
            handler = wrap(method, chain, name)
        else:
            handler = (_streaming if streaming else _unary)(method, fn)
        handlers[method.name] = _FACTORIES[method.cardinality](
            handler,
            request_deserializer=method.request.FromString,
            response_serializer=method.response.SerializeToString,
        )
    return handlers
