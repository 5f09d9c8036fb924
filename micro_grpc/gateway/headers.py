"""Which headers cross the edge: metadata passed on, and CORS answers.

Only the request headers the operator allows become gRPC metadata, named
in lower case. A header value gRPC cannot carry (anything but printable
ASCII, or a `-bin` header that is not base64) is the caller's mistake and
answered with 400, rather than failing the call inside grpc.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping, Sequence

from aiohttp import web

from micro_grpc.gateway.errors import InvalidField

__all__ = ["Cors", "forwarded_metadata"]

_KEY = re.compile(r"[0-9a-z_.-]+$")
_PRINTABLE = re.compile(r"[\x20-\x7e]*$")
# Headers that belong to the HTTP hop or to gRPC itself, never passed on.
_NEVER = frozenset(
    {
        "connection",
        "content-length",
        "content-type",
        "host",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)


def forwarded_metadata(
    headers: Mapping[str, str], allowed: Sequence[str]
) -> list[tuple[str, str | bytes]]:
    """The metadata pairs for the allowed headers among `headers`."""
    if not allowed:
        return []
    patterns = [a.lower() for a in allowed]
    pairs: list[tuple[str, str | bytes]] = []
    for name, value in headers.items():
        key = name.lower()
        if key in _NEVER or key.startswith("grpc-") or not _allowed(key, patterns):
            continue
        if not _KEY.match(key):
            continue
        if key.endswith("-bin"):
            try:
                pairs.append((key, base64.b64decode(value, validate=True)))
            except (binascii.Error, ValueError):
                raise InvalidField(key, "a -bin header must be base64") from None
            continue
        if not _PRINTABLE.match(value):
            raise InvalidField(key, "header value must be printable ASCII")
        pairs.append((key, value))
    return pairs


def _allowed(key: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == key:
            return True
        if pattern.endswith("*") and key.startswith(pattern[:-1]):
            return True
    return False


class Cors:
    """Cross-origin answers for the origins the operator lists (`*` for any)."""

    MAX_AGE = "600"

    def __init__(self, origins: Sequence[str], allowed_headers: Sequence[str]) -> None:
        self._origins = frozenset(origins)
        self._headers = sorted(
            {"accept", "content-type", *(h.lower() for h in allowed_headers)} - {"*"}
        )
        self._any_header = any(h.endswith("*") for h in allowed_headers)

    @property
    def enabled(self) -> bool:
        return bool(self._origins)

    def allows(self, origin: str) -> bool:
        return "*" in self._origins or origin in self._origins

    def is_preflight(self, request: web.BaseRequest) -> bool:
        return (
            self.enabled
            and request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def preflight(self, request: web.BaseRequest) -> web.Response:
        """The answer to a preflight from an allowed origin."""
        response = web.Response(status=204)
        self.decorate(request, response)
        asked = request.headers.get("Access-Control-Request-Headers", "")
        headers = asked if self._any_header and asked else ", ".join(self._headers)
        response.headers["Access-Control-Allow-Methods"] = (
            "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        )
        response.headers["Access-Control-Allow-Headers"] = headers
        response.headers["Access-Control-Max-Age"] = self.MAX_AGE
        return response

    def decorate(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        """Add the CORS headers `response` needs, if the origin is allowed."""
        origin = request.headers.get("Origin")
        if not self.enabled or origin is None or not self.allows(origin):
            return
        response.headers["Access-Control-Allow-Origin"] = (
            "*" if "*" in self._origins else origin
        )
        response.headers.add("Vary", "Origin")
