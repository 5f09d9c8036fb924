"""Turning a user's handler methods into grpc method handlers.

Each wrapper gives the handler a `Context` and maps what it raises onto the
call's status: a `StatusError` becomes its own code and message; anything
else becomes INTERNAL with no detail for the caller, and is logged here
with the method named.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc

from micro_grpc.errors import StatusError
from micro_grpc.methods import Cardinality, MethodSpec, ServiceSpec
from micro_grpc.server.context import Context

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


def _unary(method: MethodSpec[Any, Any], fn: Callable[..., Any]) -> Callable[..., Any]:
    async def handle(request: Any, ctx: ServicerContext) -> Any:
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
        try:
            async for reply in fn(request, Context(ctx, method)):
                yield reply
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(ctx, method, exc)

    return handle


_FACTORIES = {
    Cardinality.UNARY_UNARY: (_unary, grpc.unary_unary_rpc_method_handler),
    Cardinality.UNARY_STREAM: (_streaming, grpc.unary_stream_rpc_method_handler),
    Cardinality.STREAM_UNARY: (_unary, grpc.stream_unary_rpc_method_handler),
    Cardinality.STREAM_STREAM: (_streaming, grpc.stream_stream_rpc_method_handler),
}


def method_handlers(
    spec: ServiceSpec, impl: object
) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
    """One grpc handler per rpc of `spec`, calling the methods of `impl`."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method in spec.methods:
        wrap, make = _FACTORIES[method.cardinality]
        handlers[method.name] = make(
            wrap(method, getattr(impl, method.attr)),
            request_deserializer=method.request.FromString,
            response_serializer=method.response.SerializeToString,
        )
    return handlers
