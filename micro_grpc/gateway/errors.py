"""How failures reach HTTP callers: a status code and a JSON body.

Every error the gateway answers has the body of a `google.rpc.Status` in
proto3 JSON form, `{"code": 5, "message": "...", "details": [...]}`, with
`code` the gRPC status number. The HTTP status comes from the gRPC code:

    INVALID_ARGUMENT 400    RESOURCE_EXHAUSTED 429
    UNAUTHENTICATED 401     UNAVAILABLE 503
    PERMISSION_DENIED 403   DEADLINE_EXCEEDED 504
    NOT_FOUND 404           anything else 500

Failures of the HTTP exchange itself (a body too large, a method the route
does not take, a media type the gateway cannot read) are `HttpError`s,
which carry their own HTTP status next to the closest gRPC code.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError

# googleapis-common-protos ships .pyi files but no py.typed marker.
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from micro_grpc.errors import InvalidArgument, StatusError

__all__ = [
    "HttpError",
    "InvalidField",
    "error_body",
    "error_response",
    "http_status",
]

log = logging.getLogger(__name__)

_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# Where a service attaches a serialized google.rpc.Status with details.
_DETAILS_KEY = "grpc-status-details-bin"

# The detail types a service most often sends; importing them makes
# json_format able to render them by name.
_KNOWN_DETAILS = error_details_pb2


class HttpError(StatusError):
    """A failure of the HTTP exchange, answered with `http_status`."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        code: grpc.StatusCode,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status
        self.headers = dict(headers or {})


class InvalidField(InvalidArgument):
    """A request field the gateway could not read; `field` names it."""

    def __init__(self, field: str, description: str) -> None:
        message = f"invalid field {field!r}: {description}" if field else description
        super().__init__(message)
        self.field = field
        self.description = description


def http_status(code: grpc.StatusCode) -> int:
    """The HTTP status a caller expects for a gRPC status code."""
    return _HTTP_STATUS.get(code, 500)


def error_body(error: StatusError) -> dict[str, Any]:
    """The `google.rpc.Status` JSON of `error`."""
    details: list[dict[str, Any]] = []
    if isinstance(error, InvalidField) and error.field:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": error.field, "description": error.description}
                ],
            }
        )
    details.extend(_remote_details(error))
    return {"code": error.code.value[0], "message": error.message, "details": details}


def error_response(error: StatusError) -> web.Response:
    """The complete HTTP answer to `error`."""
    status, headers = http_status(error.code), {}
    if isinstance(error, HttpError):
        status, headers = error.http_status, error.headers
    return web.Response(
        status=status,
        text=json.dumps(error_body(error), ensure_ascii=False),
        content_type="application/json",
        headers=headers,
    )


def _remote_details(error: StatusError) -> list[dict[str, Any]]:
    for key, value in error.trailing_metadata:
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except DecodeError:
            log.debug("unreadable %s from a service ignored", _DETAILS_KEY)
            return []
        return [_detail(any_) for any_ in status.details]
    return []


def _detail(any_: Any) -> dict[str, Any]:
    try:
        rendered: dict[str, Any] = json_format.MessageToDict(any_)
    except (json_format.Error, TypeError, KeyError):
        # A detail type this process has no descriptor for: pass it on
        # opaque, as proto3 JSON renders bytes.
        return {
            "@type": any_.type_url,
            "value": base64.b64encode(any_.value).decode("ascii"),
        }
    return rendered
