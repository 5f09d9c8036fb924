"""Choosing the node a call goes to.

Selection runs in three steps, all in the caller's process and none of them
asking the registry (the client reads its watch-fed cache):

1. filters narrow the records of the service (`filters.version("2.0.0")`,
   `filters.label("zone", "a")`, `filters.endpoint("Greeter.Hello")`,
   `filters.split_versions({"2.0.0": 0.1})` for canaries);
2. nodes that declared themselves NOT_SERVING (node metadata
   `status=not_serving`) and nodes the outlier ejector has set aside are
   dropped, unless that would leave none;
3. a strategy picks one of the nodes left.

A strategy is a callable `(service, nodes) -> node`; it is never given an
empty list. `strategy(name)` builds a fresh one from `STRATEGIES` so that
each client keeps its own state (round robin's position, least in-flight's
counts). A filter is a callable from the service's records (one per
version) to the records to keep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from micro_grpc.errors import ConfigError
from micro_grpc.registry import Node, Service
from micro_grpc.selector.strategies import (
    LeastInFlight,
    RoundRobin,
    Weighted,
    random_choice,
)

__all__ = [
    "NOT_SERVING",
    "STATUS_KEY",
    "STRATEGIES",
    "Filter",
    "InFlightTracker",
    "LeastInFlight",
    "RoundRobin",
    "Strategy",
    "Weighted",
    "random_choice",
    "serving",
    "strategy",
]

Strategy = Callable[[str, Sequence[Node]], Node]
"""Picks the node for one call from a non-empty list."""

Filter = Callable[[Sequence[Service]], Sequence[Service]]
"""Keeps the service records (and nodes within them) a call may go to."""

STATUS_KEY = "status"
NOT_SERVING = "not_serving"
"""Node metadata `status=not_serving`: the node asks not to be sent calls."""


@runtime_checkable
class InFlightTracker(Protocol):
    """A strategy that wants to know when calls start and end on a node.

    The client calls `begin(address)` before each attempt and `end(address)`
    once it has finished, whatever its outcome.
    """

    def begin(self, address: str) -> None: ...

    def end(self, address: str) -> None: ...


STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "random": lambda: random_choice,
    "round_robin": RoundRobin,
    "weighted": Weighted,
    "least_in_flight": LeastInFlight,
}


def strategy(name: str) -> Strategy:
    """A fresh strategy of the given name (MICRO_SELECTOR)."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(f"unknown selector {name!r}; known: {known}") from None


def serving(nodes: Sequence[Node]) -> Sequence[Node]:
    """The nodes not marked NOT_SERVING, or all of them if every one is.

    Falling back keeps calls flowing when every node is degraded: the
    nodes still answer, and a stale mark must not turn into an outage.
    """
    for node in nodes:
        if node.metadata.get(STATUS_KEY) == NOT_SERVING:
            break
    else:
        return nodes
    kept = [n for n in nodes if n.metadata.get(STATUS_KEY) != NOT_SERVING]
    return kept or nodes
