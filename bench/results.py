"""What a benchmark run measured: samples per case and contender, rounds kept."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

__all__ = [
    "Case",
    "LoadSample",
    "Results",
    "Settings",
    "TimeSample",
    "WorkerSample",
    "median",
]


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how often each case runs."""

    rounds: int = 3
    duration: float = 2.0
    warmup: float = 0.5
    codegen_services: int = 200
    workers: int = 2
    quick: bool = False


@dataclass(frozen=True, slots=True)
class LoadSample:
    """One round of a load case for one contender."""

    calls: int
    rate: float
    p50_us: float
    p99_us: float
    client_cpu_us: float
    server_cpu_us: float


@dataclass(frozen=True, slots=True)
class TimeSample:
    """One round of a timed case: its main figure and a second one."""

    seconds: float
    other_seconds: float


@dataclass(frozen=True, slots=True)
class WorkerSample:
    """One round of micro-grpc served by several worker processes."""

    rate: float
    client_cpu_us: float
    # pid -> (calls it answered, its CPU microseconds per call answered)
    workers: dict[int, tuple[int, float]]
    supervisor_cpu_s: float


@dataclass(slots=True)
class Case:
    """A case and its samples by contender, in the order they were taken."""

    key: str
    title: str
    kind: str  # "load" or "time"
    unit: str = "calls/s"
    headers: tuple[str, str] = ("", "")  # the two figures of a timed case
    samples: dict[str, list[LoadSample | TimeSample]] = field(default_factory=dict)

    def add(self, contender: str, sample: LoadSample | TimeSample) -> None:
        self.samples.setdefault(contender, []).append(sample)

    def load(self, contender: str) -> list[LoadSample]:
        return [s for s in self.samples.get(contender, []) if isinstance(s, LoadSample)]

    def times(self, contender: str) -> list[TimeSample]:
        return [s for s in self.samples.get(contender, []) if isinstance(s, TimeSample)]


@dataclass(slots=True)
class Results:
    settings: Settings
    machine: dict[str, str]
    cases: list[Case] = field(default_factory=list)
    workers: list[WorkerSample] = field(default_factory=list)
    wall_s: float = 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
