"""Typed wrappers of grpc's streaming calls.

Each stream starts its call on first use (entering `async with`, the first
`send`, `recv` or `async for`), because picking a node needs the registry
cache and so an await. Leaving the `async with` block cancels a call that
has not finished. Failures are raised as `StatusError` subclasses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

import grpc

from micro_grpc.errors import Cancelled, from_rpc_error

__all__ = ["BidiStream", "ClientStream", "ServerStream"]

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")

Starter = Callable[[], Awaitable[Any]]

# grpc's end-of-stream marker; the type stubs do not know it yet.
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]


class _Stream:
    def __init__(self, start: Starter) -> None:
        self._start = start
        self._call: Any = None
        self._cancelled = False

    async def _ensure(self) -> Any:
        if self._cancelled:
            # grpc raises asyncio.CancelledError here, which would read as
            # the caller's own task being cancelled.
            raise Cancelled("the stream was cancelled by this client")
        if self._call is None:
            self._call = await self._start()
        return self._call

    async def __aenter__(self) -> Any:
        await self._ensure()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

    def cancel(self) -> bool:
        """Cancel the call if it is still running; True if it was."""
        if self._call is None or self._call.done():
            return False
        self._cancelled = True
        return bool(self._call.cancel())

    async def _read(self) -> Any:
        call = await self._ensure()
        try:
            message = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        return None if message is _EOF else message

    async def _write(self, message: Any) -> None:
        call = await self._ensure()
        try:
            await call.write(message)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    async def _done_writing(self) -> None:
        call = await self._ensure()
        try:
            await call.done_writing()
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    async def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """The trailers the server sent, once the call has ended."""
        call = await self._ensure()
        return tuple(await call.trailing_metadata() or ())


class ServerStream(_Stream, Generic[ResponseT]):
    """One request out, a stream of replies back: `async for reply in stream`."""

    async def __aenter__(self) -> ServerStream[ResponseT]:
        await self._ensure()
        return self

    async def recv(self) -> ResponseT | None:
        """The next reply, or None once the server has finished."""
        message: ResponseT | None = await self._read()
        return message

    async def __aiter__(self) -> AsyncIterator[ResponseT]:
        while (message := await self.recv()) is not None:
            yield message


class ClientStream(_Stream, Generic[RequestT, ResponseT]):
    """A stream of requests out, one reply back.

    `send` each request, then `recv()` ends the writing side and returns
    the reply.
    """

    def __init__(self, start: Starter) -> None:
        super().__init__(start)
        self._writing = True

    async def __aenter__(self) -> ClientStream[RequestT, ResponseT]:
        await self._ensure()
        return self

    async def send(self, request: RequestT) -> None:
        await self._write(request)

    async def done_writing(self) -> None:
        if self._writing:
            self._writing = False
            await self._done_writing()

    async def recv(self) -> ResponseT:
        """Finish sending and wait for the server's one reply."""
        await self.done_writing()
        call = await self._ensure()
        try:
            reply: ResponseT = await call
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        return reply


class BidiStream(_Stream, Generic[RequestT, ResponseT]):
    """Requests and replies flowing both ways at once.

    `send` and `recv` may be used from different tasks; `done_writing` tells
    the server no more requests will come.
    """

    async def __aenter__(self) -> BidiStream[RequestT, ResponseT]:
        await self._ensure()
        return self

    async def send(self, request: RequestT) -> None:
        await self._write(request)

    async def done_writing(self) -> None:
        await self._done_writing()

    async def recv(self) -> ResponseT | None:
        """The next reply, or None once the server has finished."""
        message: ResponseT | None = await self._read()
        return message

    async def __aiter__(self) -> AsyncIterator[ResponseT]:
        while (message := await self.recv()) is not None:
            yield message
