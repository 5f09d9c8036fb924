"""The built-in strategies: random, round robin, weighted, least in-flight."""

from __future__ import annotations

import bisect
import itertools
import logging
import random
from collections.abc import Iterator, Sequence

from micro_grpc.registry import Node

__all__ = ["WEIGHT_KEY", "LeastInFlight", "RoundRobin", "Weighted", "random_choice"]

log = logging.getLogger(__name__)

WEIGHT_KEY = "weight"
"""Node metadata read by `Weighted`: a number >= 0, 1 when absent."""


def random_choice(service: str, nodes: Sequence[Node]) -> Node:
    """Any node, uniformly."""
    # random() is one C call; randrange() is several Python ones.
    return nodes[int(random.random() * len(nodes))]


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


class Weighted:
    """A node at random, in proportion to its `weight` metadata.

    A node without a readable weight counts as 1; weight 0 takes no calls
    unless every node has weight 0, when the choice is uniform. The
    cumulative weights are kept for the last list seen, which the client
    hands over unchanged until the registry changes.
    """

    def __init__(self) -> None:
        self._nodes: Sequence[Node] | None = None
        self._cumulative: list[float] = []

    def __call__(self, service: str, nodes: Sequence[Node]) -> Node:
        if nodes is not self._nodes:
            self._cumulative = list(itertools.accumulate(_weight(n) for n in nodes))
            self._nodes = nodes
        total = self._cumulative[-1]
        if total <= 0:
            return random_choice(service, nodes)
        return nodes[bisect.bisect_right(self._cumulative, random.random() * total)]


def _weight(node: Node) -> float:
    raw = node.metadata.get(WEIGHT_KEY)
    if raw is None:
        return 1.0
    try:
        weight = float(raw)
    except ValueError:
        weight = -1.0
    if not weight >= 0:
        log.warning("node %s has weight %r; counting it as 1", node.id, raw)
        return 1.0
    return weight


class LeastInFlight:
    """The less busy of two nodes drawn at random (power of two choices).

    It counts the calls in flight on each node of this client (the client
    reports starts and ends through `begin` and `end`). Two random
    candidates rather than the global minimum keep many clients from
    piling onto the same idle node at once.
    """

    def __init__(self) -> None:
        self._in_flight: dict[str, int] = {}

    def __call__(self, service: str, nodes: Sequence[Node]) -> Node:
        count = len(nodes)
        if count == 1:
            return nodes[0]
        first = random.randrange(count)
        second = random.randrange(count - 1)
        if second >= first:
            second += 1
        a, b = nodes[first], nodes[second]
        busy = self._in_flight
        return b if busy.get(b.address, 0) < busy.get(a.address, 0) else a

    def in_flight(self, address: str) -> int:
        return self._in_flight.get(address, 0)

    def begin(self, address: str) -> None:
        self._in_flight[address] = self._in_flight.get(address, 0) + 1

    def end(self, address: str) -> None:
        left = self._in_flight.get(address, 0) - 1
        if left > 0:
            self._in_flight[address] = left
        else:
            self._in_flight.pop(address, None)
