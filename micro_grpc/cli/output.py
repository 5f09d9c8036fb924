"""Printing results: aligned tables for people, JSON for scripts.

Documents (a list of services, one service) print as indented JSON;
streams (watch events, streamed replies) print one compact JSON object per
line, so a script can read them as they come.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click
from google.protobuf import json_format
from google.protobuf.message import Message

from micro_grpc.registry import Endpoint, Service, Value

__all__ = [
    "describe_service",
    "echo_json",
    "echo_json_line",
    "message_dict",
    "shape_of",
    "table",
]


def echo_json(document: Any) -> None:
    """Print one JSON document, indented."""
    click.echo(json.dumps(document, indent=2, sort_keys=False))


def echo_json_line(document: Any) -> None:
    """Print one JSON document on one line, and flush it out at once."""
    click.echo(json.dumps(document, separators=(", ", ": ")))


def message_dict(message: Message) -> dict[str, Any]:
    """A reply as JSON: proto field names, fields at their defaults included."""
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns left-aligned, two spaces apart, headers in capitals."""
    cells = [[h.upper() for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def pairs(metadata: Mapping[str, str]) -> str:
    """`k=v k=v`, sorted, or `-` when empty."""
    return " ".join(f"{k}={v}" for k, v in sorted(metadata.items())) or "-"


def shape_of(endpoint: Endpoint) -> str:
    """`unary`, `server stream`, `client stream` or `bidi stream`."""
    client = endpoint.metadata.get("client_stream") == "true"
    server = endpoint.metadata.get("server_stream") == "true"
    return {
        (False, False): "unary",
        (False, True): "server stream",
        (True, False): "client stream",
        (True, True): "bidi stream",
    }[(client, server)]


def describe_service(versions: Sequence[Service]) -> str:
    """Every version of one service: metadata, nodes, endpoints and fields."""
    blocks = []
    for service in versions:
        lines = [
            f"service   {service.name}",
            f"version   {service.version or '-'}",
            f"metadata  {pairs(service.metadata)}",
            "",
            table(
                ["node", "address", "metadata"],
                [(n.id, n.address, pairs(n.metadata)) for n in service.nodes],
            ),
            "",
        ]
        if not service.endpoints:
            lines.append("no endpoints advertised")
        for index, endpoint in enumerate(service.endpoints):
            if index:
                lines.append("")
            lines.append(f"{endpoint.name}  ({shape_of(endpoint)})")
            lines += _message_lines("request ", endpoint.request)
            lines += _message_lines("response", endpoint.response)
        blocks.append("\n".join(lines).rstrip())
    return "\n\n".join(blocks)


def _message_lines(label: str, value: Value | None) -> list[str]:
    if value is None:
        return [f"  {label}  -"]
    lines = [f"  {label}  {value.type or value.name}"]
    lines += _field_lines(value.values, depth=2)
    return lines


def _field_lines(values: Sequence[Value], depth: int) -> list[str]:
    if not values:
        return []
    indent = "  " * depth
    width = max(len(v.name) for v in values)
    lines = []
    for value in values:
        lines.append(f"{indent}{value.name.ljust(width)}  {value.type}")
        lines += _field_lines(value.values, depth + 1)
    return lines
