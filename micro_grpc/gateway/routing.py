"""Micro's path routing: which service and endpoint a URL path names.

    /greeter/hello             greeter   Greeter.Hello
    /greeter/say/hello         greeter   Say.Hello
    /v1/greeter/say/hello      v1.greeter  Say.Hello   (all but the last two)
    /greeter/lots-of-replies   greeter   Greeter.LotsOfReplies

A namespace, when set, prefixes the service name with a dot, as Micro's
`go.micro.api` did. With a host map, a request whose Host is mapped goes to
that service, and its path names only the endpoint (`/hello` or
`/say/hello`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Target", "camel", "host_target", "mapped_service", "path_target"]

_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*$")
_ENDPOINT_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Target:
    """A registered service's name and one of its endpoints, `Greeter.Hello`."""

    service: str
    endpoint: str


def path_target(path: str, namespace: str = "") -> Target | None:
    """The target a path names, Micro's way; None if it names none."""
    parts = _parts(path)
    if parts is None or len(parts) < 2:
        return None
    if len(parts) == 2:
        service_parts, method_parts = parts[:1], [parts[0], parts[1]]
    else:
        service_parts, method_parts = parts[:-2], parts[-2:]
    if not all(_ENDPOINT_PART.match(p) for p in method_parts):
        return None
    service = ".".join(service_parts)
    if namespace:
        service = f"{namespace}.{service}"
    return Target(service, ".".join(camel(p) for p in method_parts))


def mapped_service(host: str, host_map: Mapping[str, str]) -> str | None:
    """The service the Host header is mapped to, with or without its port."""
    if not host_map:
        return None
    host = host.lower()
    return host_map.get(host) or host_map.get(host.rpartition(":")[0] or host)


def host_target(service: str, path: str) -> Target | None:
    """The target of a request to a mapped Host: the path names the endpoint."""
    parts = _parts(path)
    if parts is None or not 1 <= len(parts) <= 2:
        return None
    if not all(_ENDPOINT_PART.match(p) for p in parts):
        return None
    if len(parts) == 1:
        parts = [service.rpartition(".")[2], parts[0]]
    return Target(service, ".".join(camel(p) for p in parts))


def camel(part: str) -> str:
    """`lots-of-replies` and `lots_of_replies` -> `LotsOfReplies`."""
    words = [w for w in re.split(r"[-_]", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)


def _parts(path: str) -> list[str] | None:
    parts = [p for p in path.split("/") if p]
    if not parts or not all(_PART.match(p) for p in parts):
        return None
    return parts
