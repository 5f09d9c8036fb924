"""A circuit breaker per service and method, on the client.

    closed --(failures in a row)--> open --(cooldown)--> half-open
    half-open --(trial call succeeds)--> closed
    half-open --(trial call fails)--> open

While open, calls fail at once with `BreakerOpen` (UNAVAILABLE), naming the
breaker, without reaching any node; the client does not retry them.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import grpc

from micro_grpc.errors import ConfigError, Unavailable
from micro_grpc.middleware import ClientCall, Next, Refused

__all__ = ["BreakerOpen", "BreakerSettings", "CircuitBreaker", "State"]

log = logging.getLogger(__name__)

_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
    }
)


class State(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class BreakerOpen(Refused, Unavailable):
    """The circuit breaker of a service and method is open; nothing was sent."""

    def __init__(self, message: str, breaker: str) -> None:
        super().__init__(message)
        self.breaker = breaker


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """`failures` in a row with one of `codes` open the breaker for
    `cooldown` seconds; then `trial_calls` calls may test the service."""

    failures: int = 5
    cooldown: float = 5.0
    trial_calls: int = 1
    codes: frozenset[grpc.StatusCode] = _FAILURES

    def __post_init__(self) -> None:
        if self.failures < 1 or self.trial_calls < 1 or self.cooldown <= 0:
            raise ConfigError(
                "BreakerSettings needs failures >= 1, trial_calls >= 1 and "
                f"cooldown > 0, got {self.failures}, {self.trial_calls}, "
                f"{self.cooldown}"
            )


class CircuitBreaker:
    """Client middleware holding one breaker per (service, method)."""

    def __init__(
        self,
        *,
        failures: int = 5,
        cooldown: float = 5.0,
        trial_calls: int = 1,
        codes: frozenset[grpc.StatusCode] = _FAILURES,
    ) -> None:
        self.settings = BreakerSettings(failures, cooldown, trial_calls, codes)
        self._breakers: dict[tuple[str, str], _Breaker] = {}

    def state(self, service: str, method: str) -> State:
        """The state of the breaker of `service` and `method` (its path)."""
        breaker = self._breakers.get((service, method))
        return State.CLOSED if breaker is None else breaker.current()

    def __call__(self, call: ClientCall, proceed: Next[ClientCall]) -> Awaitable[Any]:
        key = (call.service, call.method.path)
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = _Breaker(
                f"{call.service} {call.method.path}", self.settings
            )
        breaker.admit()
        call.add_done_callback(breaker.record)
        return proceed(call)


class _Breaker:
    __slots__ = ("failures", "name", "opened", "settings", "state", "trials")

    def __init__(self, name: str, settings: BreakerSettings) -> None:
        self.name = name
        self.settings = settings
        self.state = State.CLOSED
        self.failures = 0
        self.opened = 0.0
        self.trials = 0

    def current(self) -> State:
        if (
            self.state is State.OPEN
            and time.monotonic() - self.opened >= self.settings.cooldown
        ):
            self.state = State.HALF_OPEN
            self.trials = 0
            log.info("circuit breaker %s is half-open", self.name)
        return self.state

    def admit(self) -> None:
        state = self.state if self.state is State.CLOSED else self.current()
        if state is State.CLOSED:
            return
        if state is State.OPEN:
            left = self.settings.cooldown - (time.monotonic() - self.opened)
            raise BreakerOpen(
                f"circuit breaker {self.name} is open; next trial in {left:.1f}s",
                self.name,
            )
        if self.trials >= self.settings.trial_calls:
            raise BreakerOpen(
                f"circuit breaker {self.name} is half-open; its trial calls "
                "are under way",
                self.name,
            )
        self.trials += 1

    def record(self, call: Any) -> None:
        error = call.error
        if isinstance(error, Refused):
            # Refused further down the chain: the service was not asked.
            if self.state is State.HALF_OPEN:
                self.trials -= 1
            return
        if error is None or error.code not in self.settings.codes:
            if self.state is State.HALF_OPEN:
                log.info("circuit breaker %s closed", self.name)
            self.state = State.CLOSED
            self.failures = 0
            return
        self.failures += 1
        if self.state is State.HALF_OPEN or (
            self.state is State.CLOSED and self.failures >= self.settings.failures
        ):
            log.warning(
                "circuit breaker %s opened after %d failures (%s) for %.1fs",
                self.name,
                self.failures,
                error.code.name,
                self.settings.cooldown,
            )
            self.state = State.OPEN
            self.opened = time.monotonic()
