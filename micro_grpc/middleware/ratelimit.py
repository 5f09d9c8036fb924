"""A token-bucket rate limiter, for servers and clients.

On a server, a call over the limit is answered RESOURCE_EXHAUSTED. On a
client it waits for its turn (`wait=True`, never past the call's
deadline) or fails at once with `RateLimited` (RESOURCE_EXHAUSTED), which
is not retried.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from micro_grpc.errors import ConfigError, ResourceExhausted
from micro_grpc.middleware import Call, ClientCall, Next, Refused

__all__ = ["RateLimited", "RateLimiter", "RateSettings", "TokenBucket"]

CallT = TypeVar("CallT", bound=Call)


class RateLimited(Refused, ResourceExhausted):
    """The client's own limit refused the call; nothing was sent."""


@dataclass(frozen=True, slots=True)
class RateSettings:
    """`rate` calls per second with bursts of `burst`; see `RateLimiter`."""

    rate: float
    burst: int
    wait: bool = False

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ConfigError(
                f"a rate limit needs rate > 0 and burst >= 1, got {self.rate} "
                f"and {self.burst}"
            )


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; starts full."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> bool:
        """Take a token if there is one."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def delay(self) -> float:
        """Seconds until a token would be free for the next caller in line."""
        self._refill()
        return max(0.0, (1 - self.tokens) / self.rate)

    def reserve(self) -> float:
        """Take the next token, free or not; the seconds to wait for it."""
        self._refill()
        self.tokens -= 1
        return max(0.0, -self.tokens / self.rate)


class RateLimiter:
    """Middleware admitting at most `rate` calls a second.

    `burst` (by default a tenth of a second's worth, at least 1) is how
    many calls may pass at once after a quiet spell; a small burst holds
    the rate over short windows too. `key`, when given, keeps one bucket
    per value it returns for a call (for example `lambda c:
    c.method.path` for a limit per method); by default one bucket covers
    every call. `wait` applies to clients only.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: int | None = None,
        wait: bool = False,
        key: Callable[[Call], str] | None = None,
    ) -> None:
        if burst is None:
            burst = max(1, math.ceil(rate / 10)) if rate > 0 else 1
        self.settings = RateSettings(rate, burst, wait)
        self._key = key
        self._bucket = TokenBucket(rate, burst)
        self._buckets: dict[str, TokenBucket] = {}

    def __call__(self, call: CallT, proceed: Next[CallT]) -> Awaitable[Any]:
        bucket = self._bucket
        if self._key is not None:
            name = self._key(call)
            found = self._buckets.get(name)
            if found is None:
                found = self._buckets[name] = TokenBucket(
                    self.settings.rate, self.settings.burst
                )
            bucket = found
        if bucket.take():
            return proceed(call)
        settings = self.settings
        if not isinstance(call, ClientCall):
            raise ResourceExhausted(
                f"rate limit of {settings.rate:g} calls/s reached for "
                f"{call.method.endpoint}"
            )
        if settings.wait:
            timeout = call.timeout
            if timeout is None or bucket.delay() < timeout:
                return self._later(bucket.reserve(), call, proceed)
        raise RateLimited(
            f"client rate limit of {settings.rate:g} calls/s reached for "
            f"{call.service} {call.method.endpoint}"
        )

    async def _later(self, delay: float, call: CallT, proceed: Next[CallT]) -> Any:
        await asyncio.sleep(delay)
        if isinstance(call, ClientCall) and call.timeout is not None:
            call.timeout = max(0.0, call.timeout - delay)
        return await proceed(call)
