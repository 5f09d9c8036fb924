"""How a failed call is tried again: the retry policy and its backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass

import grpc

from micro_grpc.errors import ConfigError

__all__ = ["NO_RETRY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failed call is tried again.

    `attempts` counts the first try. A call that fails with one of `codes`
    is retried after `backoff * multiplier ** (n - 1)` seconds (capped at
    `max_backoff`), of which a random fraction up to `jitter` is taken
    off, on a node not tried yet when one is left. No retry starts that
    could not begin before the deadline; the last error is raised instead.
    Retry only statuses that are safe to repeat for your methods:
    UNAVAILABLE usually means the node never took the call.
    """

    attempts: int = 3
    codes: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE})
    backoff: float = 0.02
    max_backoff: float = 1.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"RetryPolicy(attempts={self.attempts}) must be >= 1")
        if self.backoff < 0 or self.max_backoff < self.backoff:
            raise ConfigError("RetryPolicy needs 0 <= backoff <= max_backoff")
        if not 0 <= self.jitter <= 1 or self.multiplier < 1:
            raise ConfigError("RetryPolicy needs 0 <= jitter <= 1, multiplier >= 1")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (from 1)."""
        base = min(self.max_backoff, self.backoff * self.multiplier ** (retry - 1))
        return base * (1 - self.jitter * random.random())


NO_RETRY = RetryPolicy(attempts=1)
"""One attempt and no more."""
