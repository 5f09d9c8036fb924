"""From an HTTP request to a gRPC call and back.

Each request goes through the same steps: find its target (the `/rpc`
envelope, the Host map, a REST route, or Micro's path routing, in that
order), check the service is registered, learn the method by reflection,
build the request message, call, and write the reply in the shape the rpc
and the caller ask for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message

from micro_grpc.client import Client
from micro_grpc.client.dynamic import DynamicMethods
from micro_grpc.errors import NotFound
from micro_grpc.gateway import bodies, streaming
from micro_grpc.gateway.bodies import JSON, PROTO_TYPES
from micro_grpc.gateway.catalog import Catalog
from micro_grpc.gateway.errors import HttpError, InvalidField
from micro_grpc.gateway.headers import forwarded_metadata
from micro_grpc.gateway.options import GatewayOptions
from micro_grpc.gateway.routing import (
    Target,
    host_target,
    mapped_service,
    path_target,
)
from micro_grpc.gateway.rules import Route, query_fields, request_fields
from micro_grpc.methods import Cardinality, MethodSpec

__all__ = ["Handlers"]

AnySpec = MethodSpec[Message, Message]


@dataclass(slots=True)
class _Call:
    """One call to make: where, what, and with which metadata."""

    client: Client
    service: str
    spec: AnySpec
    metadata: list[tuple[str, str | bytes]]
    body_limit: int
    timeout: float


class Handlers:
    """The gateway's request handlers, sharing one client and one catalog."""

    def __init__(
        self,
        client: Client,
        methods: DynamicMethods,
        catalog: Catalog,
        options: GatewayOptions,
    ) -> None:
        self._client = client
        self._methods = methods
        self._catalog = catalog
        self._options = options

    async def rpc(self, request: web.Request) -> web.StreamResponse:
        """`POST /rpc` with `{"service", "endpoint", "request"}`."""
        _only(request, "POST")
        envelope = bodies.decode_json(await self._body(request))
        service = _name(envelope, "service")
        endpoint = _name(envelope, "endpoint")
        unknown = sorted(set(envelope) - {"service", "endpoint", "request"})
        if unknown:
            raise InvalidField(unknown[0], "unknown field")
        call = await self._prepare(request, Target(service, endpoint))

        payload = envelope.get("request", {})
        if isinstance(payload, str):
            payload = bodies.decode_json(payload.encode(), where="request")
        items = payload if isinstance(payload, list) else [payload]
        if len(items) != 1 and not call.spec.cardinality.client_streaming:
            raise InvalidField("request", "this endpoint takes one request")
        messages = []
        for i, item in enumerate(items):
            where = "request" if len(items) == 1 else f"request[{i}]"
            if not isinstance(item, dict):
                raise InvalidField(where, "must be a JSON object")
            message = call.spec.request()
            bodies.merge_dict(item, message, prefix=where)
            messages.append(message)
        return await self._answer(request, call, messages, JSON)

    async def route(self, request: web.Request) -> web.StreamResponse:
        """Every other path: the Host map, REST routes, then path routing."""
        mapped = mapped_service(request.host, self._options.host_map)
        if mapped is not None:
            target = host_target(mapped, request.path)
        else:
            path = request.raw_path.partition("?")[0]
            matched = self._catalog.routes.match(request.method, path)
            if matched is not None:
                return await self._rest(request, *matched)
            allowed = self._catalog.routes.methods_at(path)
            if allowed:
                raise _not_allowed(request, allowed)
            target = path_target(request.path, self._options.namespace)
        if target is None:
            raise NotFound(f"no route for {request.method} {request.path}")
        _only(request, "POST", "GET")

        call = await self._prepare(request, target)
        if _is_websocket(request):
            return await streaming.websocket(request, call)
        if call.spec.cardinality.client_streaming:
            return await self._answer(
                request, call, await self._lines(request, call), JSON
            )
        message = call.spec.request()
        kind = JSON
        if request.method == "GET":
            fields = query_fields(request.query_string, message.DESCRIPTOR)
            bodies.merge_dict(fields, message)
        else:
            raw = await self._body(request)
            kind = bodies.request_type(request.content_type)
            bodies.parse(raw, kind, message)
        return await self._answer(request, call, [message], kind)

    async def _rest(
        self, request: web.Request, route: Route, variables: dict[str, str]
    ) -> web.StreamResponse:
        self._catalog.check(route.service)
        spec = route.spec
        call = self._call(request, route.service, spec)
        if _is_websocket(request):
            return await streaming.websocket(request, call)

        message = spec.request()
        kind = JSON
        body: dict[str, Any] | None = None
        raw = await self._body(request) if route.body else b""
        if route.body:
            kind = bodies.request_type(request.content_type)
            if kind in PROTO_TYPES:
                bodies.parse(raw, kind, _body_message(message, route.body))
            elif raw.strip():
                body = bodies.decode_json(raw)
        fields = request_fields(route, variables, body, request.query_string)
        bodies.merge_dict(fields, message)
        return await self._answer(request, call, [message], kind, route.response_body)

    async def _prepare(self, request: web.Request, target: Target) -> _Call:
        self._catalog.check(target.service)
        # Endpoints the registry advertises are checked first: an unknown
        # one is then a 404 without a reflection round trip to the node.
        records = await self._client.lookup(target.service)
        advertised = {e.name for r in records for e in r.endpoints}
        if advertised and target.endpoint not in advertised:
            raise NotFound(
                f"endpoint {target.endpoint} not found in service {target.service}; "
                f"it has: {', '.join(sorted(advertised))}"
            )
        spec = await self._methods.method(target.service, target.endpoint)
        return self._call(request, target.service, spec)

    def _call(self, request: web.Request, service: str, spec: AnySpec) -> _Call:
        return _Call(
            client=self._client,
            service=service,
            spec=spec,
            metadata=forwarded_metadata(request.headers, self._options.allowed_headers),
            body_limit=self._options.body_limit,
            timeout=self._options.timeout,
        )

    async def _answer(
        self,
        request: web.Request,
        call: _Call,
        messages: list[Message],
        kind: str,
        response_body: str = "",
    ) -> web.StreamResponse:
        client, service, spec = call.client, call.service, call.spec
        options: dict[str, Any] = {"metadata": call.metadata, "timeout": call.timeout}
        shape = spec.cardinality
        reply_kind = bodies.reply_type(kind, request.headers.get("Accept", ""))

        if shape is Cardinality.UNARY_UNARY:
            reply = await client.unary(service, spec, messages[0], **options)
            return _reply(reply, reply_kind, response_body)
        if shape is Cardinality.STREAM_UNARY:
            async with client.client_stream(service, spec, **options) as sink:
                for message in messages:
                    await sink.send(message)
                return _reply(await sink.recv(), reply_kind, response_body)

        stream_kind = _stream_kind(request)
        if shape is Cardinality.UNARY_STREAM:
            async with client.server_stream(
                service, spec, messages[0], **options
            ) as out:
                return await streaming.reply_stream(request, out, stream_kind)
        async with client.bidi_stream(service, spec, **options) as both:
            for message in messages:
                await both.send(message)
            await both.done_writing()
            return await streaming.reply_stream(request, both, stream_kind)

    async def _body(self, request: web.Request) -> bytes:
        limit = self._options.body_limit
        length = request.content_length
        if length is not None and length > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _lines(self, request: web.Request, call: _Call) -> list[Message]:
        """A streamed request body: one JSON object per line (NDJSON)."""
        if bodies.request_type(request.content_type) in PROTO_TYPES:
            raise HttpError(
                "a stream of protobuf messages has no framing over plain HTTP; "
                "send NDJSON or use a websocket",
                http_status=415,
                code=grpc.StatusCode.INVALID_ARGUMENT,
            )
        messages = []
        raw = await self._body(request)
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            message = call.spec.request()
            where = f"line {number}"
            bodies.merge_dict(bodies.decode_json(line, where=where), message)
            messages.append(message)
        return messages


def _body_message(message: Message, body: str) -> Message:
    """The message a protobuf body fills: the request, or its `body` field."""
    if body == "*":
        return message
    if message.DESCRIPTOR.fields_by_name[body].message_type is None:
        raise HttpError(
            f"the body is the scalar field {body!r}; send it as JSON",
            http_status=415,
            code=grpc.StatusCode.INVALID_ARGUMENT,
        )
    field: Message = getattr(message, body)
    return field


def _reply(reply: Message, kind: str, response_body: str) -> web.Response:
    if response_body and kind not in PROTO_TYPES:
        field = reply.DESCRIPTOR.fields_by_name[response_body]
        value = bodies.to_dict(reply).get(field.json_name)
        return web.json_response(value)
    return web.Response(body=bodies.encode(reply, kind), content_type=kind)


def _stream_kind(request: web.Request) -> str:
    accept = request.headers.get("Accept", "")
    return streaming.SSE if streaming.SSE in accept else streaming.NDJSON


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _name(envelope: dict[str, Any], key: str) -> str:
    value = envelope.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidField(key, "must be a non-empty string")
    return value


def _only(request: web.Request, *methods: str) -> None:
    if request.method not in methods:
        raise _not_allowed(request, list(methods))


def _not_allowed(request: web.Request, methods: list[str]) -> HttpError:
    return HttpError(
        f"{request.method} is not allowed here; use {', '.join(methods)}",
        http_status=405,
        code=grpc.StatusCode.UNIMPLEMENTED,
        headers={"Allow": ", ".join(methods)},
    )


def _too_large(limit: int) -> HttpError:
    return HttpError(
        f"request body is larger than {limit} bytes",
        http_status=413,
        code=grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
