"""The access log, one line per request in Apache's combined format.

    127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "POST /greeter/hello HTTP/1.1"
        200 23 "-" "curl/8.5.0"

(one line in the log; folded here).

aiohttp calls the logger once each request is answered, including requests
it rejects itself before any handler runs; the same call feeds the `/stats`
counters, so the log and the page always agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from micro_grpc.gateway.streaming import BODY_BYTES

__all__ = ["AccessLog", "combined_line", "observer_class"]

log = logging.getLogger("micro_grpc.gateway.access")

Observer = Callable[[BaseRequest, StreamResponse], None]


class AccessLog:
    """Writes combined-format lines to the access logger and, if set, a file."""

    def __init__(self, path: str = "") -> None:
        self._path = path
        self._file: TextIO | None = None

    def open(self) -> None:
        if self._path:
            # Held open for the gateway's life, closed by close().
            self._file = Path(self._path).open(  # noqa: SIM115
                "a", encoding="utf-8", buffering=1
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(
        self, request: BaseRequest, response: StreamResponse, took: float
    ) -> None:
        line = combined_line(request, response, took)
        log.info("%s", line)
        if self._file is not None:
            self._file.write(line + "\n")


def combined_line(request: BaseRequest, response: StreamResponse, took: float) -> str:
    """The Apache combined log line of one answered request."""
    started = datetime.now().astimezone() - timedelta(seconds=took)
    when = started.strftime("%d/%b/%Y:%H:%M:%S %z")
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    line = f"{request.method} {request.raw_path} {version}"
    size = response.get(BODY_BYTES)
    if size is None:
        size = response.content_length if response.content_length is not None else 0
    referer = request.headers.get("Referer", "-")
    agent = request.headers.get("User-Agent", "-")
    return (
        f'{request.remote or "-"} - - [{when}] "{_escape(line)}" '
        f"{response.status} {size if size else '-'} "
        f'"{_escape(referer)}" "{_escape(agent)}"'
    )


def observer_class(
    access_log: AccessLog, observers: Sequence[Observer]
) -> type[AbstractAccessLogger]:
    """An aiohttp access-logger class bound to this gateway's log and counters.

    aiohttp builds the logger itself from a class, so the class carries the
    gateway's objects.
    """

    class _Observer(AbstractAccessLogger):
        def log(
            self, request: BaseRequest, response: StreamResponse, time: float
        ) -> None:
            for observe in observers:
                observe(request, response)
            access_log.write(request, response, time)

        @property
        def enabled(self) -> bool:
            # Counting must not depend on whether the logger is enabled.
            return True

    return _Observer


def _escape(text: str) -> str:
    # Apache escapes quotes, backslashes and control bytes in logged fields.
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)
