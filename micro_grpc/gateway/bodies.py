"""Request and reply bodies: proto3 JSON, or protobuf passed through.

JSON follows the proto3 mapping that `google.protobuf.json_format`
implements: replies keep zero values, name enums, write 64-bit integers as
strings and use lowerCamelCase names; requests may use either lowerCamelCase
or the proto's snake_case names. Anything a request cannot hold (malformed
JSON, a wrong type, an unknown field) is an `InvalidField` naming the field.

A request sent as `application/protobuf` (or `application/x-protobuf`, or
`application/grpc+proto`) is the serialized message itself, and its reply
comes back in the same form.
"""

from __future__ import annotations

import json
import re
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from micro_grpc.gateway.errors import HttpError, InvalidField

__all__ = [
    "JSON",
    "PROTO_TYPES",
    "decode_json",
    "encode",
    "merge_dict",
    "parse",
    "reply_type",
    "to_dict",
]

JSON = "application/json"
PROTO_TYPES = frozenset(
    {"application/protobuf", "application/x-protobuf", "application/grpc+proto"}
)
# Types read as JSON: browsers' form posts and plain text included, as
# Micro's gateway read them, since curl sends form encoding by default.
_JSON_TYPES = frozenset(
    {
        "",
        JSON,
        "application/x-ndjson",
        "application/x-www-form-urlencoded",
        "text/json",
        "text/plain",
    }
)

_PARSE_FAILED = re.compile(r"Failed to parse (\w+) field: ")
_NO_FIELD = re.compile(r'has no field named "([^"]*)"')
_WHERE = re.compile(r"( at [\w.\"]+)?\.*$")


def parse(body: bytes, content_type: str, message: Message) -> None:
    """Merge `body`, read as `content_type`, into `message`."""
    kind = media_type(content_type)
    if kind in PROTO_TYPES:
        try:
            message.MergeFromString(body)
        except (DecodeError, ValueError) as exc:
            raise InvalidField(
                "", f"body is not a serialized {_name(message)}"
            ) from exc
        return
    merge_dict(decode_json(body), message)


def decode_json(body: bytes, *, where: str = "body") -> dict[str, Any]:
    """The JSON object in `body`; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidField("", f"{where} is not valid JSON: {_reason(exc)}") from exc
    if not isinstance(value, dict):
        raise InvalidField("", f"{where} must be a JSON object")
    return value


def merge_dict(value: dict[str, Any], message: Message, *, prefix: str = "") -> None:
    """Merge a decoded JSON object into `message`, naming a bad field."""
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as exc:
        field, description = _field_error(str(exc))
        path = ".".join(p for p in (prefix, field) if p)
        raise InvalidField(path, description) from exc
    except (RecursionError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidField(prefix, f"cannot be read: {_reason(exc)}") from exc


def to_dict(message: Message) -> dict[str, Any]:
    """`message` in proto3 JSON form, zero values kept."""
    value: dict[str, Any] = json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True
    )
    return value


def encode(message: Message, kind: str) -> bytes:
    """The reply body of `message` in the media type `kind`."""
    if kind in PROTO_TYPES:
        return message.SerializeToString()
    return json.dumps(to_dict(message), ensure_ascii=False).encode()


def media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.partition(";")[0].strip().lower()


def request_type(content_type: str) -> str:
    """The media type the body will be read as; 415 when unreadable."""
    kind = media_type(content_type)
    if kind in PROTO_TYPES:
        return kind
    if kind in _JSON_TYPES or kind.endswith("+json"):
        return JSON
    raise HttpError(
        f"cannot read a body of type {kind!r}; send application/json or "
        "application/protobuf",
        http_status=415,
        code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def reply_type(content_type: str, accept: str) -> str:
    """The media type of the reply: protobuf when asked for or sent, else JSON."""
    for part in accept.split(","):
        if media_type(part) in PROTO_TYPES:
            return media_type(part)
    kind = media_type(content_type)
    return kind if kind in PROTO_TYPES else JSON


def _field_error(text: str) -> tuple[str, str]:
    # json_format nests its messages, one "Failed to parse X field: " per
    # level; the chain of X is the field's path.
    path: list[str] = []
    rest = text
    while match := _PARSE_FAILED.match(rest):
        path.append(match.group(1))
        rest = rest[match.end() :]
    unknown = _NO_FIELD.search(rest)
    if unknown:
        return ".".join([*path, unknown.group(1)]), "unknown field"
    description = _WHERE.sub("", rest.splitlines()[0] if rest else "").strip()
    return ".".join(path), description or "invalid value"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return str(exc)


def _name(message: Message) -> str:
    return str(message.DESCRIPTOR.full_name)
