"""Typed wrappers of grpc's streaming calls, with retries before commit.

Each stream starts its call on first use (entering `async with`, the first
`send`, `recv` or `async for`), because picking a node needs the registry
cache and so an await. Leaving the `async with` block cancels a call that
has not finished. Failures are raised as `StatusError` subclasses.

When a stream is retried: a failure with a retryable status (the call's
`RetryPolicy`) starts the call again on another node only while the
stream is uncommitted, that is until the first `send` has completed or
the first reply has been received, whichever comes first. The operation
that failed then runs again on the new call (a `done_writing` already
made is repeated). A server-streaming call's one request belongs to its
opening, so such a call is retried until its first reply arrives, like a
unary call whose reply has not come. After commit a failure ends the
stream with that error: messages already exchanged could not be replayed
faithfully.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import grpc

from micro_grpc.errors import Cancelled, StatusError, from_rpc_error, status_error

__all__ = ["BidiStream", "ClientStream", "Opener", "ServerStream"]

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")

# grpc's end-of-stream marker; the type stubs do not know it yet.
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]


class Opener(Protocol):
    """What a stream needs from the client: attempts, and a verdict on them."""

    async def open(self) -> Any:
        """Start an attempt; grpc's call object."""
        ...

    async def retry(self, error: StatusError) -> bool:
        """The attempt failed before commit: True if another should start."""
        ...

    def end(self, error: StatusError | None) -> None:
        """The stream is over, with `error` or without."""
        ...


class _Stream:
    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._call: Any = None
        self._lock: asyncio.Lock | None = None
        self._cancelled = False
        self._committed = False
        self._half_closed = False
        self._ended = False

    async def _ensure(self) -> Any:
        if self._cancelled:
            # grpc raises asyncio.CancelledError here, which would read as
            # the caller's own task being cancelled.
            raise Cancelled("the stream was cancelled by this client")
        call = self._call
        if call is None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if self._call is None:
                    self._call = await self._opener.open()
                call = self._call
        return call

    async def __aenter__(self) -> Any:
        await self._ensure()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        call = self._call
        if call is not None and not self._ended and call.done():
            # Finished without the caller reading its end: learn how.
            self._end(await _status(call))
        self.cancel()

    def cancel(self) -> bool:
        """Cancel the call if it is still running; True if it was."""
        if self._call is None or self._call.done():
            return False
        self._cancelled = True
        self._end(Cancelled("the stream was cancelled by this client"))
        return bool(self._call.cancel())

    def _end(self, error: StatusError | None) -> None:
        if not self._ended:
            self._ended = True
            self._opener.end(error)

    async def _failed(self, call: Any, error: StatusError, cause: Exception) -> None:
        """Start a new call if `call` may be retried; raise `error` if not."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._call is not call:
                return  # another task already replaced it
            if (
                not self._committed
                and not self._cancelled
                and await self._opener.retry(error)
            ):
                self._call = None
                fresh = self._call = await self._opener.open()
                if self._half_closed:
                    await fresh.done_writing()
                return
            self._end(error)
        raise error from cause

    async def _read(self) -> Any:
        while True:
            # Once the call runs, skip `_ensure`: this runs per message.
            call = self._call
            if call is None or self._cancelled:
                call = await self._ensure()
            try:
                message = await call.read()
            except grpc.aio.AioRpcError as exc:
                await self._failed(call, from_rpc_error(exc), exc)
                continue
            if message is _EOF:
                self._end(None)
                return None
            self._committed = True
            return message

    async def _write(self, message: Any) -> None:
        while True:
            call = self._call
            if call is None or self._cancelled:
                call = await self._ensure()
            try:
                await call.write(message)
            except grpc.aio.AioRpcError as exc:
                await self._failed(call, from_rpc_error(exc), exc)
                continue
            except asyncio.InvalidStateError:
                # grpc refuses a write once the call has ended: say how.
                error = await _status(call)
                if error is None:
                    raise
                self._end(error)
                raise error from None
            self._committed = True
            return

    async def _done_writing(self) -> None:
        self._half_closed = True
        while True:
            call = await self._ensure()
            try:
                await call.done_writing()
            except grpc.aio.AioRpcError as exc:
                await self._failed(call, from_rpc_error(exc), exc)
                continue
            except Exception as exc:
                # grpc fails this on a call that has ended or is ending
                # with an error of its own rather than the call's status.
                try:
                    error = await asyncio.wait_for(_status(call), 5.0)
                except TimeoutError:
                    raise exc from None
                if error is None:
                    return
                await self._failed(call, error, exc)
                continue
            return

    async def _reply(self) -> Any:
        while True:
            call = await self._ensure()
            try:
                reply = await call
            except grpc.aio.AioRpcError as exc:
                await self._failed(call, from_rpc_error(exc), exc)
                continue
            self._end(None)
            return reply

    async def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """The trailers the server sent, once the call has ended."""
        call = await self._ensure()
        return tuple(await call.trailing_metadata() or ())


async def _status(call: Any) -> StatusError | None:
    """How a finished call ended: None for OK."""
    code = await call.code()
    if code is grpc.StatusCode.OK:
        return None
    return status_error(code, await call.details() or "")


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

    async def __aenter__(self) -> ClientStream[RequestT, ResponseT]:
        await self._ensure()
        return self

    async def send(self, request: RequestT) -> None:
        await self._write(request)

    async def done_writing(self) -> None:
        if not self._half_closed:
            await self._done_writing()

    async def recv(self) -> ResponseT:
        """Finish sending and wait for the server's one reply."""
        await self.done_writing()
        reply: ResponseT = await self._reply()
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
        call = self._call
        if self._committed and not self._cancelled:
            # Committed: no retry can follow, so write straight to grpc and
            # leave a failure to `_write`, where the call's status is raised
            # again. One frame fewer per message.
            try:
                await call.write(request)
                return
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                pass
        await self._write(request)

    async def done_writing(self) -> None:
        await self._done_writing()

    async def recv(self) -> ResponseT | None:
        """The next reply, or None once the server has finished."""
        call = self._call
        if self._committed and not self._cancelled:
            # As in `send`; the end of the stream is also left to `_read`.
            try:
                reply: ResponseT | None = await call.read()
            except grpc.aio.AioRpcError:
                reply = _EOF
            if reply is not _EOF:
                return reply
        message: ResponseT | None = await self._read()
        return message

    async def __aiter__(self) -> AsyncIterator[ResponseT]:
        while (message := await self.recv()) is not None:
            yield message
