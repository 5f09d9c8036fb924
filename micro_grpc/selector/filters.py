"""Filters: which of a service's records and nodes a call may go to.

Each returns a `Filter`, a callable from the records of one service (one
record per version, holding that version's nodes) to the records to keep.
Filters given to a client apply to all its calls; those given to one call
apply after them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from micro_grpc.errors import ConfigError
from micro_grpc.registry import Service

__all__ = ["SplitVersions", "endpoint", "label", "split_versions", "version"]

Records = Sequence[Service]

# The golden ratio's fractional part: stepping by it spreads points over
# [0, 1) as evenly as any sequence can, whatever the number of steps.
_STEP = 0.6180339887498949


def label(key: str, value: str) -> _Label:
    """Nodes whose metadata has `key` set to `value`."""
    return _Label(key, value)


def version(*versions: str) -> _Version:
    """Records of the given versions."""
    if not versions:
        raise ConfigError("version() needs at least one version")
    return _Version(frozenset(versions))


def endpoint(name: str) -> _Endpoint:
    """Records that advertise the endpoint `name` (`Greeter.Hello`)."""
    return _Endpoint(name)


def split_versions(shares: Mapping[str, float]) -> SplitVersions:
    """Send each call to one version, with the share of calls given.

    `split_versions({"2.0.0": 0.1})` sends 10 % of calls to version 2.0.0
    and the rest to the other versions present (a canary).
    """
    return SplitVersions(shares)


class _Label:
    __slots__ = ("key", "value")

    def __init__(self, key: str, value: str) -> None:
        self.key = key
        self.value = value

    def __call__(self, records: Records) -> Records:
        kept = []
        for record in records:
            nodes = tuple(
                n for n in record.nodes if n.metadata.get(self.key) == self.value
            )
            if nodes:
                same = len(nodes) == len(record.nodes)
                kept.append(record if same else replace(record, nodes=nodes))
        return kept

    def __repr__(self) -> str:
        return f"label({self.key}={self.value})"


class _Version:
    __slots__ = ("versions",)

    def __init__(self, versions: frozenset[str]) -> None:
        self.versions = versions

    def __call__(self, records: Records) -> Records:
        return [r for r in records if r.version in self.versions]

    def __repr__(self) -> str:
        return f"version({', '.join(sorted(self.versions))})"


class _Endpoint:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, records: Records) -> Records:
        return [r for r in records if any(e.name == self.name for e in r.endpoints)]

    def __repr__(self) -> str:
        return f"endpoint({self.name})"


class SplitVersions:
    """Weighted routing across versions, for canaries and gradual rollouts.

    Each call draws a point in [0, 1): the listed versions own consecutive
    slices of their share, the rest belongs to the versions not listed. The
    points follow a golden-ratio sequence from a random start, so over any
    run of calls through one filter the split is within a few calls of the
    shares, and a filter used once still picks at random with the right
    odds. A chosen version with no node falls back to the others.
    """

    def __init__(self, shares: Mapping[str, float]) -> None:
        total = sum(shares.values())
        if any(s < 0 for s in shares.values()) or total > 1 + 1e-9:
            raise ConfigError(
                f"version shares must be >= 0 and add up to at most 1: {dict(shares)}"
            )
        self._shares = dict(shares)
        self._listed = frozenset(shares)
        self._slices: list[tuple[float, str]] = []
        edge = 0.0
        for name, share in shares.items():
            edge += share
            self._slices.append((edge, name))
        self._point = random.random()

    def __call__(self, records: Records) -> Records:
        point = self._point
        self._point = (point + _STEP) % 1.0
        chosen = None
        for edge, name in self._slices:
            if point < edge:
                chosen = name
                break
        if chosen is None:
            kept = [r for r in records if r.version not in self._listed]
        else:
            kept = [r for r in records if r.version == chosen]
        return kept or records

    def __repr__(self) -> str:
        shares = ", ".join(f"{n}={s:g}" for n, s in self._shares.items())
        return f"split_versions({shares})"
