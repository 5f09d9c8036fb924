"""REST routes from `google.api.http` annotations.

A method annotated with an `HttpRule` is served at the rule's method and
path template, and at those of each of its `additional_bindings`. The
template grammar is the one `google/api/http.proto` defines:

    Template = "/" Segments [ ":" Verb ]
    Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}"

A request is built from three places, later ones winning: the body (the
whole request when `body: "*"`, one field when `body: "field"`, nothing
otherwise), the query string (fields the path and body do not set), then
the path variables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

# googleapis-common-protos ships .pyi files but no py.typed marker.
from google.api import annotations_pb2, http_pb2  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from micro_grpc.client.dynamic import spec_for
from micro_grpc.errors import ConfigError
from micro_grpc.methods import MethodSpec

__all__ = [
    "Route",
    "RouteTable",
    "Template",
    "compile_template",
    "query_fields",
    "request_fields",
    "routes_of",
    "rules_of",
]

log = logging.getLogger(__name__)

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_FIELD_PATH = re.compile(rf"{_IDENT}(\.{_IDENT})*$")


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled path template: its source, a regex and its variables."""

    source: str
    pattern: re.Pattern[str]
    variables: tuple[str, ...]
    literals: int
    verb: str

    def match(self, path: str) -> dict[str, str] | None:
        """The path variables of `path` (still %-encoded) or None."""
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: found.group(f"v{i}") for i, name in enumerate(self.variables)}


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP method and template leading to one rpc of one service."""

    service: str
    method: MethodDescriptor
    spec: MethodSpec[Message, Message]
    http_method: str
    template: Template
    body: str = ""
    response_body: str = ""

    @property
    def endpoint(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"


@dataclass(slots=True)
class RouteTable:
    """Every REST route the gateway knows, most specific first."""

    routes: list[Route] = field(default_factory=list)

    def add(self, route: Route) -> None:
        for known in self.routes:
            if (
                known.http_method == route.http_method
                and known.template.source == route.template.source
            ):
                log.warning(
                    "%s %s of %s %s is taken by %s %s; ignored",
                    route.http_method,
                    route.template.source,
                    route.service,
                    route.endpoint,
                    known.service,
                    known.endpoint,
                )
                return
        self.routes.append(route)
        # A verb or more literal segments make a template more specific.
        self.routes.sort(
            key=lambda r: (not r.template.verb, -r.template.literals, r.template.source)
        )

    def match(self, http_method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `http_method path` and its variables, decoded."""
        for route in self.routes:
            if route.http_method not in (http_method, "*"):
                continue
            variables = route.template.match(path)
            if variables is not None:
                return route, {k: unquote(v) for k, v in variables.items()}
        return None

    def methods_at(self, path: str) -> list[str]:
        """The HTTP methods some route takes at `path`, for a 405's Allow."""
        return sorted(
            {r.http_method for r in self.routes if r.template.match(path) is not None}
        )


def rules_of(method: MethodDescriptor) -> list[http_pb2.HttpRule]:
    """The HttpRule on `method` and its additional bindings, or none."""
    options = method.GetOptions()
    if not isinstance(options, descriptor_pb2.MethodOptions):
        return []
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def routes_of(service: str, method: MethodDescriptor) -> Iterable[Route]:
    """The routes of `method`'s annotations; a bad one is logged and skipped."""
    for rule in rules_of(method):
        kind = rule.WhichOneof("pattern")
        if kind is None:
            continue
        if kind == "custom":
            http_method, source = rule.custom.kind.upper(), rule.custom.path
        else:
            http_method, source = kind.upper(), getattr(rule, kind)
        try:
            template = compile_template(source)
            _check_fields(method, template.variables, rule.body)
        except ConfigError as exc:
            log.warning(
                "route %s %s of %s ignored: %s", http_method, source, service, exc
            )
            continue
        yield Route(
            service=service,
            method=method,
            spec=spec_for(method),
            http_method=http_method,
            template=template,
            body=rule.body,
            response_body=rule.response_body,
        )


def compile_template(source: str) -> Template:
    """Compile a path template; ConfigError names what does not parse."""
    if not source.startswith("/"):
        raise ConfigError(f"template {source!r} does not start with /")
    path, verb = source[1:], ""
    last_slash = path.rfind("/")
    last_brace = path.rfind("}")
    colon = path.rfind(":")
    if colon > max(last_slash, last_brace):
        path, verb = path[:colon], path[colon + 1 :]
    parts: list[str] = []
    variables: list[str] = []
    literals = 0
    for segment in _split(path, source):
        if segment.startswith("{"):
            name, _, inner = segment[1:-1].partition("=")
            if not _FIELD_PATH.match(name):
                raise ConfigError(f"template {source!r}: bad variable {name!r}")
            body = _segments("/".join(_split(inner, source)) if inner else "*", source)
            parts.append(f"(?P<v{len(variables)}>{body})")
            variables.append(name)
        else:
            parts.append(_segments(segment, source))
            literals += segment not in ("*", "**")
    pattern = "/" + "/".join(parts) + (re.escape(":" + verb) if verb else "")
    return Template(source, re.compile(pattern), tuple(variables), literals, verb)


def request_fields(
    route: Route,
    variables: Mapping[str, str],
    body: dict[str, Any] | None,
    query: str,
) -> dict[str, Any]:
    """The request as one JSON object: body, then query, then path."""
    request: dict[str, Any] = {}
    if route.body == "*":
        request = dict(body or {})
    elif route.body:
        if body is not None:
            request[route.body] = body
        _merge(request, query_fields(query, route.method.input_type))
    else:
        _merge(request, query_fields(query, route.method.input_type))
    for name, value in variables.items():
        _merge(request, _nested(name.split("."), value))
    return request


def query_fields(query: str, descriptor: Any) -> dict[str, Any]:
    """The query string as a JSON object of `descriptor`'s fields.

    `a.b=1` sets a nested field; a key given twice, or a repeated field,
    makes a list.
    """
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        names = key.split(".")
        repeated = _is_repeated(descriptor, names)
        if repeated:
            holder = out
            for name in names[:-1]:
                holder = holder.setdefault(name, {})
                if not isinstance(holder, dict):
                    break
            else:
                listed = holder.setdefault(names[-1], [])
                if isinstance(listed, list):
                    listed.append(value)
                    continue
        _merge(out, _nested(names, value))
    return out


def _is_repeated(descriptor: Any, names: list[str]) -> bool:
    for i, name in enumerate(names):
        found = descriptor.fields_by_name.get(name) or next(
            (f for f in descriptor.fields if f.json_name == name), None
        )
        if found is None:
            return False
        if i == len(names) - 1:
            return bool(found.is_repeated)
        if found.message_type is None:
            return False
        descriptor = found.message_type
    return False


def _nested(names: list[str], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {names[-1]: value}
    for name in reversed(names[:-1]):
        out = {name: out}
    return out


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        known = into.get(key)
        if isinstance(known, dict) and isinstance(value, dict):
            _merge(known, value)
        else:
            into[key] = value


def _split(path: str, source: str) -> list[str]:
    # Split on "/" outside braces: "{name=shelves/*}" is one segment.
    segments, depth, start = [], 0, 0
    for i, char in enumerate(path):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "/" and depth == 0:
            segments.append(path[start:i])
            start = i + 1
        if depth not in (0, 1):
            raise ConfigError(f"template {source!r}: unbalanced braces")
    segments.append(path[start:])
    if depth or any(not s for s in segments):
        raise ConfigError(f"template {source!r}: empty segment or open brace")
    return segments


def _segments(text: str, source: str) -> str:
    out = []
    for segment in text.split("/"):
        if segment == "*":
            out.append("[^/]+")
        elif segment == "**":
            out.append(".+")
        elif segment and not set(segment) & set("{}=*"):
            out.append(re.escape(segment))
        else:
            raise ConfigError(f"template {source!r}: bad segment {segment!r}")
    return "/".join(out)


def _check_fields(
    method: MethodDescriptor, variables: Iterable[str], body: str
) -> None:
    for name in [*variables, *([body] if body and body != "*" else [])]:
        descriptor: Any = method.input_type
        for part in name.split("."):
            found = descriptor.fields_by_name.get(part) if descriptor else None
            if found is None:
                raise ConfigError(
                    f"{method.input_type.full_name} has no field {name!r}"
                )
            descriptor = found.message_type
