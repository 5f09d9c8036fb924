"""Choosing the node a call goes to.

A strategy is a callable `(service, nodes) -> node`, given the nodes of
every version the registry holds for `service`; it is never given an empty
list. Strategies are built by name from `STRATEGIES` so that each client
gets its own state (round robin keeps a position per service).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence

from micro_grpc.errors import ConfigError
from micro_grpc.registry import Node

__all__ = ["STRATEGIES", "RoundRobin", "Strategy", "random_choice", "strategy"]

Strategy = Callable[[str, Sequence[Node]], Node]


def random_choice(service: str, nodes: Sequence[Node]) -> Node:
    """Any node, uniformly."""
    return nodes[random.randrange(len(nodes))] if len(nodes) > 1 else nodes[0]


class RoundRobin:
    """Each node in turn, per service, starting at a random place."""

    def __init__(self) -> None:
        self._counters: dict[str, Iterator[int]] = {}

    def __call__(self, service: str, nodes: Sequence[Node]) -> Node:
        counter = self._counters.get(service)
        if counter is None:
            counter = self._counters[service] = itertools.count(
                random.randrange(1 << 16)
            )
        return nodes[next(counter) % len(nodes)]


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "random": lambda: random_choice,
    "round_robin": RoundRobin,
}


def strategy(name: str) -> Strategy:
    """A fresh strategy of the given name (MICRO_SELECTOR)."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(f"unknown selector {name!r}; known: {known}") from None
