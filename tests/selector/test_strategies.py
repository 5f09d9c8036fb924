"""Strategies, filters and outlier ejection on plain values, no network."""

from __future__ import annotations

import time
from collections import Counter

import grpc
import pytest

from micro_grpc import ConfigError
from micro_grpc.registry import Endpoint, Node, Service
from micro_grpc.selector import (
    LeastInFlight,
    Weighted,
    serving,
    strategy,
)
from micro_grpc.selector.filters import endpoint, label, split_versions, version
from micro_grpc.selector.outlier import Ejection, OutlierEjector

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def _nodes(count: int, **metadata: str) -> list[Node]:
    return [
        Node(id=str(i), address=f"127.0.0.1:{1000 + i}", metadata=dict(metadata))
        for i in range(count)
    ]


def test_weighted_follows_the_weight_metadata() -> None:
    nodes = [
        Node(id=str(w), address=f"127.0.0.1:{w}", metadata={"weight": str(w)})
        for w in (1, 2, 3)
    ]
    pick = Weighted()
    counts = Counter(pick("s", nodes).id for _ in range(6000))
    # Binomial(6000, w/6): sigma is at most 39; 6 sigma is 234.
    for w in (1, 2, 3):
        assert abs(counts[str(w)] - 1000 * w) < 234


def test_weighted_reads_missing_or_bad_weights_as_one_and_zero_as_never() -> None:
    nodes = [
        Node(id="zero", address="a:1", metadata={"weight": "0"}),
        Node(id="bad", address="a:2", metadata={"weight": "lots"}),
        Node(id="none", address="a:3"),
    ]
    counts = Counter(Weighted()("s", nodes).id for _ in range(600))
    assert counts["zero"] == 0
    assert counts["bad"] > 200 and counts["none"] > 200
    all_zero = [
        Node(id=str(i), address=f"a:{i}", metadata={"weight": "0"}) for i in range(2)
    ]
    assert {Weighted()("s", all_zero).id for _ in range(100)} == {"0", "1"}


def test_least_in_flight_prefers_the_less_busy_of_two() -> None:
    nodes = _nodes(2)
    pick = LeastInFlight()
    for _ in range(3):
        pick.begin(nodes[0].address)
    assert all(pick("s", nodes) is nodes[1] for _ in range(50))
    for _ in range(3):
        pick.end(nodes[0].address)
    pick.begin(nodes[1].address)
    assert all(pick("s", nodes) is nodes[0] for _ in range(50))
    assert pick.in_flight(nodes[1].address) == 1
    assert pick.in_flight(nodes[0].address) == 0


def test_strategies_by_name_are_fresh_objects() -> None:
    assert strategy("weighted") is not strategy("weighted")
    assert isinstance(strategy("least_in_flight"), LeastInFlight)
    with pytest.raises(ConfigError, match="known: least_in_flight, random"):
        strategy("fastest")


def _records() -> list[Service]:
    hello = Endpoint(name="Greeter.Hello")
    return [
        Service(
            name="greeter",
            version="1.0.0",
            endpoints=(hello,),
            nodes=(
                Node(id="a", address="h:1", metadata={"zone": "a"}),
                Node(id="b", address="h:2", metadata={"zone": "b"}),
            ),
        ),
        Service(
            name="greeter",
            version="2.0.0",
            endpoints=(hello, Endpoint(name="Greeter.Bye")),
            nodes=(Node(id="c", address="h:3", metadata={"zone": "a"}),),
        ),
    ]


def _ids(records: object) -> set[str]:
    assert isinstance(records, list | tuple)
    return {n.id for r in records for n in r.nodes}


def test_label_version_and_endpoint_filters() -> None:
    records = _records()
    assert _ids(label("zone", "a")(records)) == {"a", "c"}
    assert _ids(label("zone", "z")(records)) == set()
    assert _ids(version("2.0.0")(records)) == {"c"}
    assert _ids(version("1.0.0", "2.0.0")(records)) == {"a", "b", "c"}
    assert _ids(endpoint("Greeter.Bye")(records)) == {"c"}
    assert repr(label("zone", "a")) == "label(zone=a)"


def test_split_versions_holds_the_share_over_any_run() -> None:
    records = _records()
    split = split_versions({"2.0.0": 0.1})
    picks = ["c" in _ids(split(records)) for _ in range(3000)]
    # A golden-ratio sequence: every window is within a few calls of 10 %.
    assert abs(sum(picks) - 300) <= 3
    assert abs(sum(picks[:100]) - 10) <= 2
    assert _ids(split_versions({"3.0.0": 1.0})(records)) == {"a", "b", "c"}
    with pytest.raises(ConfigError, match="add up to at most 1"):
        split_versions({"1.0.0": 0.7, "2.0.0": 0.5})


def test_not_serving_nodes_are_skipped_unless_none_is_left() -> None:
    nodes = _nodes(3)
    sick = Node(id="x", address="h:9", metadata={"status": "not_serving"})
    assert list(serving([*nodes, sick])) == nodes
    assert serving(nodes) is nodes
    assert list(serving([sick])) == [sick]


def test_a_node_failing_in_a_row_is_ejected_for_a_growing_cooldown() -> None:
    ejector = OutlierEjector(Ejection(failures=3, cooldown=0.05, max_cooldown=0.15))
    nodes = _nodes(2)
    bad = nodes[0].address
    for _ in range(2):
        ejector.failed(bad, UNAVAILABLE)
    assert not ejector.ejected(bad)
    ejector.failed(bad, grpc.StatusCode.NOT_FOUND)  # not counted
    assert not ejector.ejected(bad)
    ejector.failed(bad, UNAVAILABLE)
    assert ejector.ejected(bad)
    assert list(ejector.usable(nodes)) == [nodes[1]]

    # Every node ejected: all are tried rather than none.
    for _ in range(3):
        ejector.failed(nodes[1].address, UNAVAILABLE)
    assert list(ejector.usable(nodes)) == nodes

    # After the cool-down it is tried again; one more failure ejects it for
    # twice as long, up to the ceiling.
    time.sleep(0.06)
    assert not ejector.ejected(bad)
    ejector.failed(bad, UNAVAILABLE)
    started = time.monotonic()
    assert ejector.ejected(bad)
    while ejector.ejected(bad):
        time.sleep(0.005)
    assert 0.08 < time.monotonic() - started < 0.2

    # One success forgives it.
    ejector.succeeded(bad)
    ejector.failed(bad, UNAVAILABLE)
    assert not ejector.ejected(bad)


def test_ejection_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        Ejection(failures=0)
    with pytest.raises(ConfigError):
        Ejection(cooldown=5, max_cooldown=1)
