"""Outlier ejection: setting aside nodes that keep failing.

A node whose calls fail `failures` times in a row with one of `codes`
(UNAVAILABLE by default, which is also what a node that cannot be
connected yields) is skipped for `cooldown` seconds. Then it is tried
again: one more failure ejects it at once for twice as long, up to
`max_cooldown`; one success forgives it entirely. Each client keeps its
own view, as each sees its own calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from micro_grpc.errors import ConfigError
from micro_grpc.registry import Node

__all__ = ["DEFAULT_EJECTION", "Ejection", "OutlierEjector"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ejection:
    """When a node is set aside, and for how long."""

    failures: int = 3
    cooldown: float = 1.0
    max_cooldown: float = 30.0
    codes: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE})

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ConfigError(f"Ejection(failures={self.failures}) must be >= 1")
        if not 0 < self.cooldown <= self.max_cooldown:
            raise ConfigError(
                "Ejection needs 0 < cooldown <= max_cooldown, got "
                f"{self.cooldown} and {self.max_cooldown}"
            )


DEFAULT_EJECTION = Ejection()


class OutlierEjector:
    """Counts consecutive failures per node address and ejects outliers.

    `usable(nodes)` is on every call's path: while no node is ejected it
    returns its argument untouched. `failures` (address -> failed calls in
    a row) and `ejections` (address -> the `time.monotonic()` its ejection
    ends) are for reading: a client tests them for emptiness rather than
    calling in here on every call.
    """

    def __init__(self, settings: Ejection | None = None) -> None:
        self.settings = settings or Ejection()
        self.failures: dict[str, int] = {}
        self.ejections: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    def succeeded(self, address: str) -> None:
        if (
            self.failures
            and self.failures.pop(address, None) is not None
            and self._strikes.pop(address, None) is not None
        ):
            log.info("node %s answers again; no longer ejected", address)

    def failed(self, address: str, code: grpc.StatusCode) -> None:
        """Count a failed call; other codes than the settings' reset nothing."""
        settings = self.settings
        if code not in settings.codes:
            return
        failures = self.failures.get(address, 0) + 1
        if failures < settings.failures or self.ejected(address):
            self.failures[address] = failures
            return
        strikes = self._strikes.get(address, 0) + 1
        cooldown = min(settings.max_cooldown, settings.cooldown * 2 ** (strikes - 1))
        self._strikes[address] = strikes
        self.ejections[address] = time.monotonic() + cooldown
        # One more failure after the cool-down ejects it again.
        self.failures[address] = settings.failures - 1
        log.warning(
            "node %s ejected for %.1fs after %d failed calls in a row (%s)",
            address,
            cooldown,
            failures,
            code.name,
        )

    def ejected(self, address: str) -> bool:
        until = self.ejections.get(address)
        return until is not None and until > time.monotonic()

    def usable(self, nodes: Sequence[Node]) -> Sequence[Node]:
        """`nodes` less the ejected ones, or all of them if none would be left."""
        if not self.ejections:
            return nodes
        now = time.monotonic()
        for address in [a for a, until in self.ejections.items() if until <= now]:
            del self.ejections[address]
        if not self.ejections:
            return nodes
        kept = [n for n in nodes if n.address not in self.ejections]
        return kept or nodes
