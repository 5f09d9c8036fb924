"""Requests from JSON text, checked against the method's input message.

Each mistake is named for a person: malformed JSON by its line and column,
an unknown field by its path and the fields the message does have, a value
of the wrong type by protobuf's own account, all on one line.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from micro_grpc.cli.failures import EXIT_USAGE, Failure

__all__ = ["parse_json", "parse_request"]

M = TypeVar("M", bound=Message)

# Well-known types whose JSON is not an object of their fields.
_OWN_JSON_FORM = frozenset(
    f"google.protobuf.{name}"
    for name in (
        "Any",
        "Duration",
        "FieldMask",
        "Timestamp",
        "Struct",
        "Value",
        "ListValue",
        "DoubleValue",
        "FloatValue",
        "Int64Value",
        "UInt64Value",
        "Int32Value",
        "UInt32Value",
        "BoolValue",
        "StringValue",
        "BytesValue",
    )
)


def parse_json(text: str, *, line: int | None = None) -> Any:
    """`text` as JSON; malformed JSON fails with its position.

    `line` numbers a one-line text that is one line of a longer input.
    """
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if line is None:
            place = f"line {exc.lineno}, column {exc.colno}"
        else:
            place = f"input line {line}, column {exc.colno}"
        raise Failure(f"malformed JSON at {place}: {exc.msg}") from None


def parse_request(data: Any, cls: type[M], *, where: str = "") -> M:
    """A `cls` message from decoded JSON, or a Failure naming what is wrong."""
    descriptor: Descriptor = cls.DESCRIPTOR  # type: ignore[assignment]
    if not isinstance(data, dict) and descriptor.full_name not in _OWN_JSON_FORM:
        raise Failure(
            f"the request{where} must be a JSON object for {descriptor.full_name}, "
            f"not {type(data).__name__}",
            EXIT_USAGE,
        )
    if descriptor.full_name not in _OWN_JSON_FORM:
        _check_fields(data, descriptor, "", where)
    try:
        return json_format.ParseDict(data, cls())
    except json_format.ParseError as exc:
        raise Failure(f"invalid request{where}: {exc}", EXIT_USAGE) from None


def _check_fields(
    data: dict[str, Any], descriptor: Descriptor, path: str, where: str
) -> None:
    # json_format names an unknown field too, but over several lines and
    # without saying where in a nested request it is.
    by_name: dict[str, FieldDescriptor] = {}
    for known in descriptor.fields:
        by_name[known.name] = known
        by_name[known.json_name] = known
    for key, value in data.items():
        field = by_name.get(key)
        if field is None:
            names = ", ".join(f.name for f in descriptor.fields) or "none"
            raise Failure(
                f'unknown field "{path}{key}" in {descriptor.full_name}{where}; '
                f"its fields: {names}",
                EXIT_USAGE,
            )
        inner = field.message_type
        if inner is None or inner.GetOptions().map_entry:
            continue
        if inner.full_name in _OWN_JSON_FORM:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                step = f"{key}[{index}]" if isinstance(value, list) else key
                _check_fields(item, inner, f"{path}{step}.", where)
