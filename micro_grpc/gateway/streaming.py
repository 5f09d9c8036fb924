"""Streams over HTTP: NDJSON and server-sent events out, websockets both ways.

A server stream is answered as newline-delimited JSON, one
`{"result": ...}` line per reply, or, when the caller accepts
`text/event-stream`, as server-sent events: one `data:` event per reply and
a final `end` event. The first reply is awaited before the response starts,
so a call that fails at once is answered with its own HTTP status; a
failure after that is a last `{"error": ...}` line (an `error` event).

Over a websocket each text frame the caller sends is one JSON request and
each reply comes back as a `{"result": ...}` frame; an empty text frame
says the caller has no more requests (gRPC's half-close), and closing the
socket cancels the call. Binary frames are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from google.protobuf.message import Message

from micro_grpc.client import Client
from micro_grpc.errors import Cancelled, StatusError
from micro_grpc.gateway.bodies import decode_json, merge_dict, to_dict
from micro_grpc.gateway.errors import InvalidField, error_body
from micro_grpc.methods import Cardinality, MethodSpec

__all__ = ["BODY_BYTES", "NDJSON", "SSE", "Call", "reply_stream", "websocket"]

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
# Where a streamed response keeps the body bytes it wrote, for the access
# log: aiohttp counts the headers and chunk framing in too.
BODY_BYTES = web.ResponseKey("micro_body_bytes", int)

AnySpec = MethodSpec[Message, Message]


class Replies(Protocol):
    async def recv(self) -> Message | None: ...


class Call(Protocol):
    """What a websocket needs to know of the call it carries."""

    client: Client
    service: str
    spec: AnySpec
    metadata: list[tuple[str, str | bytes]]
    body_limit: int


async def reply_stream(
    request: web.BaseRequest, replies: Replies, kind: str
) -> web.StreamResponse:
    """Answer with every reply of `replies`, as NDJSON or SSE (`kind`)."""
    first = await replies.recv()

    response = web.StreamResponse(
        headers={"Content-Type": kind, "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    response[BODY_BYTES] = 0

    async def write(chunk: bytes) -> None:
        await response.write(chunk)
        response[BODY_BYTES] += len(chunk)

    message = first
    try:
        while message is not None:
            await write(_frame(kind, "result", to_dict(message)))
            message = await replies.recv()
        if kind == SSE:
            await write(b"event: end\ndata: {}\n\n")
    except StatusError as exc:
        await write(_frame(kind, "error", error_body(exc)))
    except ConnectionError:
        # The caller went away; leaving the stream's block cancels the call.
        log.debug("caller of a stream disconnected")
        return response
    await response.write_eof()
    return response


async def websocket(request: web.Request, call: Call) -> web.WebSocketResponse:
    """Carry `call` over a websocket, in whichever shape its rpc has."""
    ws = web.WebSocketResponse(max_msg_size=call.body_limit)
    await ws.prepare(request)
    try:
        await _converse(ws, call)
    except StatusError as exc:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps({"error": error_body(exc)}))
    finally:
        await ws.close()
    return ws


async def _converse(ws: web.WebSocketResponse, call: Call) -> None:
    client, service, spec, metadata = (
        call.client,
        call.service,
        call.spec,
        call.metadata,
    )
    shape = spec.cardinality
    if shape is Cardinality.UNARY_UNARY:
        first = await _next_request(ws, spec)
        if first is not None:
            reply = await client.unary(service, spec, first, metadata=metadata)
            await _send_result(ws, reply)
    elif shape is Cardinality.UNARY_STREAM:
        first = await _next_request(ws, spec)
        if first is not None:
            stream = client.server_stream(service, spec, first, metadata=metadata)
            async with stream:
                while (item := await stream.recv()) is not None:
                    await _send_result(ws, item)
    elif shape is Cardinality.STREAM_UNARY:
        async with client.client_stream(service, spec, metadata=metadata) as sink:
            await _pump(ws, spec, sink.send, sink.done_writing)
            await _send_result(ws, await sink.recv())
    else:
        async with client.bidi_stream(service, spec, metadata=metadata) as both:
            await _both_ways(ws, spec, both)


async def _both_ways(ws: web.WebSocketResponse, spec: AnySpec, stream: Any) -> None:
    # Requests and replies flow at once; whichever side fails first ends
    # the other, and its error is the one the caller hears about.
    loop = asyncio.get_running_loop()
    pump = loop.create_task(_pump(ws, spec, stream.send, stream.done_writing))
    relay = loop.create_task(_relay(ws, stream))
    try:
        await asyncio.wait({pump, relay}, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in (pump, relay):
            task.cancel()
    for task in (pump, relay):
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _relay(ws: web.WebSocketResponse, stream: Any) -> None:
    while (reply := await stream.recv()) is not None:
        await _send_result(ws, reply)


async def _pump(
    ws: web.WebSocketResponse,
    spec: AnySpec,
    send: Callable[[Message], Awaitable[None]],
    done_writing: Callable[[], Awaitable[None]],
) -> None:
    while (message := await _next_request(ws, spec)) is not None:
        await send(message)
    if ws.closed:
        raise Cancelled("the websocket closed")
    await done_writing()


async def _next_request(ws: web.WebSocketResponse, spec: AnySpec) -> Message | None:
    """The next request frame, or None at a half-close or a closed socket."""
    async for frame in ws:
        if frame.type is WSMsgType.TEXT:
            if frame.data == "":
                return None
            message = spec.request()
            merge_dict(decode_json(frame.data.encode(), where="frame"), message)
            return message
        if frame.type is WSMsgType.BINARY:
            raise InvalidField("", "binary frames are not read; send JSON text")
    return None


async def _send_result(ws: web.WebSocketResponse, reply: Message) -> None:
    await ws.send_str(json.dumps({"result": to_dict(reply)}, ensure_ascii=False))


def _frame(kind: str, name: str, value: dict[str, Any]) -> bytes:
    if kind == SSE:
        event = "" if name == "result" else f"event: {name}\n"
        return f"{event}data: {json.dumps(value, ensure_ascii=False)}\n\n".encode()
    return (json.dumps({name: value}, ensure_ascii=False) + "\n").encode()
