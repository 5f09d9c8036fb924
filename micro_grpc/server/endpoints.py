"""The endpoints a node advertises, drawn from the generated method specs."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from micro_grpc.methods import MethodSpec
from micro_grpc.registry import Endpoint, Value

__all__ = ["endpoint", "message_value"]

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}


def message_value(
    descriptor: Descriptor, name: str = "", _path: frozenset[str] = frozenset()
) -> Value:
    """The schema of a message: its fields, nested messages expanded once.

    A message that contains itself (directly or not) is named at the point
    it recurs, not expanded again.
    """
    path = _path | {descriptor.full_name}
    fields = []
    for field in descriptor.fields:
        fields.append(_field_value(field, path))
    return Value(
        name=name or descriptor.name, type=descriptor.full_name, values=tuple(fields)
    )


def _field_value(field: FieldDescriptor, path: frozenset[str]) -> Value:
    if field.message_type is not None:
        if field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields
            type_name = f"map<{_type_name(key)}, {_type_name(value)}>"
            return Value(name=field.name, type=type_name)
        if field.message_type.full_name in path:
            return Value(name=field.name, type=_type_name(field))
        inner = message_value(field.message_type, field.name, path)
        return Value(name=field.name, type=_type_name(field), values=inner.values)
    return Value(name=field.name, type=_type_name(field))


def _type_name(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        base = field.message_type.full_name
    elif field.enum_type is not None:
        base = field.enum_type.full_name
    else:
        base = _SCALARS.get(field.type, "unknown")
    # protobuf 6.31 added `is_repeated` and deprecated `label`.
    repeated: Any = getattr(field, "is_repeated", None)
    if not isinstance(repeated, bool):
        repeated = getattr(field, "label", 0) == FieldDescriptor.LABEL_REPEATED
    is_repeated = repeated
    return f"repeated {base}" if is_repeated else base


def endpoint(method: MethodSpec[Any, Any]) -> Endpoint:
    """The registry's record of one rpc: name, schemas, path and shape."""
    shape = method.cardinality
    return Endpoint(
        name=method.endpoint,
        request=message_value(method.request.DESCRIPTOR),
        response=message_value(method.response.DESCRIPTOR),
        metadata={
            "path": method.path,
            "client_stream": str(shape.client_streaming).lower(),
            "server_stream": str(shape.server_streaming).lower(),
        },
    )
