"""The call log: one structured line per call, on either side."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from micro_grpc.middleware import Call, ClientCall, Next

__all__ = ["CallLog"]

CallT = TypeVar("CallT", bound=Call)


class CallLog:
    """Logs each call when it ends: service, method, node, status, duration.

        client service=greeter method=Greeter.Hello node=127.0.0.1:40123
            attempt=2 status=OK duration_ms=1.3

    On a client each attempt is a line of its own, so retries show as an
    UNAVAILABLE line followed by one with `attempt=2`; on a server `peer`
    names the caller. The same fields go to the record as `extra["call"]`
    for structured formatters. Lines go to `logger` (by default
    `micro_grpc.calls`) at `level`.
    """

    def __init__(
        self, logger: logging.Logger | None = None, *, level: int = logging.INFO
    ) -> None:
        self.logger = logger or logging.getLogger("micro_grpc.calls")
        self.level = level
        self._on_done = self._line

    def __call__(self, call: CallT, proceed: Next[CallT]) -> Awaitable[Any]:
        call.add_done_callback(self._on_done)
        return proceed(call)

    def _line(self, call: Call) -> None:
        if not self.logger.isEnabledFor(self.level):
            return
        error = call.error
        status = "OK" if error is None else error.code.name
        duration = call.duration * 1000
        method = call.method.endpoint
        if isinstance(call, ClientCall):
            fields: dict[str, Any] = {
                "side": "client",
                "service": call.service,
                "method": method,
                "node": call.address,
                "attempt": call.attempt,
                "status": status,
                "duration_ms": round(duration, 3),
            }
            self.logger.log(
                self.level,
                "client service=%s method=%s node=%s attempt=%d status=%s "
                "duration_ms=%.1f",
                call.service,
                method,
                call.address,
                call.attempt,
                status,
                duration,
                extra={"call": fields},
            )
            return
        peer = call.remote
        fields = {
            "side": "server",
            "service": call.service,
            "method": method,
            "peer": peer,
            "status": status,
            "duration_ms": round(duration, 3),
        }
        self.logger.log(
            self.level,
            "server service=%s method=%s peer=%s status=%s duration_ms=%.1f",
            call.service,
            method,
            peer,
            status,
            duration,
            extra={"call": fields},
        )
