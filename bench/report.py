"""RESULTS.md: the run's medians, CPU per call and ratios, as Markdown."""

from __future__ import annotations

import math
import statistics

from bench.cases import LOAD_CASES
from bench.codegen import PARSE_ONLY
from bench.contenders import BASELINE, CONTENDERS, LABELS
from bench.results import Case, LoadSample, Results, median

__all__ = ["TIMES", "figure", "paired_ratio", "render", "summary"]

OURS = "micro"
PEER = "grpclib"
TIMES = "\u00d7"
RATE_BAR = 0.95
CPU_BAR = 1.05

_INTRO = """\
Produced by `make bench` (`python -m bench`). Every case runs each
contender once per round, rotating which goes first; the figures are
medians over the rounds, and a load run's own figures are taken over all
its calls. Servers and load generators are separate processes; CPU time
per call is the kernel's per-process CPU clock (all threads) of the load
process and of the server process over the measured window, divided by
the calls completed in it. The ratios are the figures to read: this
machine is shared with other engineers' test runs, and absolute rates
move with what else runs on its two cores, by as much as a factor of two
between rounds. So a ratio is taken within each round, between runs seconds
apart, and the tables give the median of those per-round ratios.

Contenders: **raw grpc.aio** (the baseline: grpc_tools stubs, a fixed
address), **micro-grpc** (a `Service` registered in a real etcd; a
`Client` that resolves it through its registry cache and selector, with
its default middleware and policies) and **grpclib**. All serve the same
proto (`bench/protos/bench/gen/echo.proto`) with the same handler work.
With 64 calls in flight both cores are saturated, so the rate follows the
CPU time spent per call.

Profiles of micro-grpc's extra cost, and what was tried to close the
gaps: `bench/FINDINGS.md`.
"""


def render(results: Results) -> str:
    s = results.settings
    lines = ["# micro-grpc benchmarks", "", _INTRO]
    lines += ["## Machine", ""]
    lines += [f"- {label}: {text}" for label, text in results.machine.items()]
    lines += [
        f"- run: {s.rounds} round(s), {s.duration:g} s per load run after "
        f"{s.warmup:g} s of warm-up; {results.wall_s:.0f} s in all"
        + (" (--quick: numbers for the harness's sake only)" if s.quick else ""),
        "",
    ]
    lines += ["## micro-grpc against the bar", "", *_bar(results), ""]
    for case in results.cases:
        lines += [f"## {case.title}", ""]
        lines += _load_table(case) if case.kind == "load" else _time_table(case)
        lines.append("")
    if results.workers:
        lines += [
            f"## micro-grpc from {s.workers} worker processes",
            "",
            *_workers(results),
            "",
        ]
    return "\n".join(lines)


def summary(results: Results) -> str:
    """A few lines for the terminal: the bar table."""
    return "\n".join(["micro-grpc against raw grpc.aio and grpclib", *_bar(results)])


def _bar(results: Results) -> list[str]:
    rows = [
        f"| case | rate {TIMES} raw (≥ 0.95) | client CPU {TIMES} raw "
        f"| server CPU {TIMES} raw | CPU {TIMES} raw (≤ 1.05) "
        f"| rate {TIMES} grpclib | bar met | middle half of the rounds: "
        f"rate, CPU {TIMES} raw |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for case in results.cases:
        if case.kind != "load":
            continue
        rate = _paired(case, OURS, BASELINE, "rate")
        client = _paired(case, OURS, BASELINE, "client")
        server = _paired(case, OURS, BASELINE, "server")
        total = _paired(case, OURS, BASELINE, "both")
        peer = _paired(case, OURS, PEER, "rate")
        met = rate >= RATE_BAR and total <= CPU_BAR
        spread = (
            f"{_span(case, 'rate')}, {_span(case, 'both')}"
            if len(case.load(OURS)) >= 4
            else "—"
        )
        rows.append(
            f"| {case.title} | {_x(rate)} | {_x(client)} | {_x(server)} "
            f"| {_x(total)} | {_x(peer)} | {'yes' if met else 'no'} | {spread} |"
        )
    return rows


def _span(case: Case, name: str) -> str:
    """The first to the third quartile of micro-grpc's per-round ratios."""
    pairs = zip(case.load(OURS), case.load(BASELINE), strict=False)
    ratios = [_ratio(figure(a, name), figure(b, name)) for a, b in pairs]
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"{low:.2f} to {high:.2f}"


def _load_table(case: Case) -> list[str]:
    rows = [
        f"| contender | {case.unit} | p50 µs | p99 µs | client CPU µs/call "
        f"| server CPU µs/call | rate {TIMES} raw | CPU {TIMES} raw "
        f"| rate {TIMES} grpclib "
        "| rate by round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for contender in CONTENDERS:
        samples = case.load(contender)
        if not samples:
            continue
        rounds = " / ".join(f"{s.rate:,.0f}" for s in samples)
        rows.append(
            f"| {LABELS[contender]} | {_rate(case, contender):,.0f} "
            f"| {median([s.p50_us for s in samples]):,.0f} "
            f"| {median([s.p99_us for s in samples]):,.0f} "
            f"| {_cpu(case, contender, 'client'):,.0f} "
            f"| {_cpu(case, contender, 'server'):,.0f} "
            f"| {_x(_paired(case, contender, BASELINE, 'rate'))} "
            f"| {_x(_paired(case, contender, BASELINE, 'both'))} "
            f"| {_x(_paired(case, contender, PEER, 'rate'))} "
            f"| {rounds} |"
        )
    return rows


def _time_table(case: Case) -> list[str]:
    first, second = case.headers
    codegen = PARSE_ONLY in case.samples
    extra = " | plugin's share (ms) |" if codegen else " |"
    rows = [
        f"| contender | {first} | {second}{extra} {TIMES} raw | {TIMES} grpclib |",
        "|---|---:|---:|" + ("---:|" if codegen else "") + "---:|---:|",
    ]
    parse = _seconds(case, PARSE_ONLY)
    labels = {**LABELS, PARSE_ONLY: "protoc parsing only, no plugin"}
    if codegen:
        labels[BASELINE] = "grpc_tools' grpc_python plugin"
        labels[OURS] = "protoc-gen-micro"
        labels[PEER] = "grpclib's plugin"
    for contender in (*CONTENDERS, PARSE_ONLY):
        samples = case.times(contender)
        if not samples:
            continue
        seconds = _seconds(case, contender)
        share = ""
        if codegen:
            # What the plugin adds to protoc's own parsing; within noise of
            # zero for grpc_tools' plugin, which runs inside protoc.
            share = f" | {max(0.0, seconds - parse) * 1e3:,.0f}"
        rows.append(
            f"| {labels[contender]} | {seconds * 1e3:,.1f} "
            f"| {median([s.other_seconds for s in samples]) * 1e3:,.1f}{share} "
            f"| {_x(_ratio(seconds, _seconds(case, BASELINE)))} "
            f"| {_x(_ratio(seconds, _seconds(case, PEER)))} |"
        )
    rows += [
        "",
        "Ratios here are of times: below 1 is faster. "
        + (
            "Each run starts Python and protoc (grpc_tools) and parses the "
            "set; the plugin's share is the run less the median run that "
            "only parses."
            if codegen
            else "micro-grpc's start includes its etcd lease, its registration "
            "and a read-back from etcd; the others only bind and serve."
        ),
    ]
    return rows


def _workers(results: Results) -> list[str]:
    single = next((c for c in results.cases if c.key == LOAD_CASES[1].key), None)
    rows = [
        "Unary, 64 calls in flight, from one load process, against micro-grpc "
        "served by worker processes, each registered as its own node; the "
        "client's selector spreads the calls. On this 2-core machine the load "
        "process competes with the workers for the same cores, so the rate "
        "says nothing of scaling; what shows is the spread, and what each "
        "worker spends per call it answers.",
        "",
        "| round | calls/s | client CPU µs/call | per worker: share of calls, "
        "CPU µs per call answered | supervisor CPU (ms) |",
        "|---|---:|---:|---|---:|",
    ]
    for n, sample in enumerate(results.workers, 1):
        total = sum(calls for calls, _ in sample.workers.values()) or 1
        workers = "; ".join(
            f"pid {pid}: {calls / total:.0%}, {cpu:,.0f} µs"
            for pid, (calls, cpu) in sorted(sample.workers.items())
        )
        rows.append(
            f"| {n} | {sample.rate:,.0f} | {sample.client_cpu_us:,.0f} | {workers} "
            f"| {sample.supervisor_cpu_s * 1e3:,.1f} |"
        )
    if single is not None and single.load(OURS):
        rows += [
            "",
            f"One micro-grpc server process in the same run: "
            f"{_rate(single, OURS):,.0f} calls/s, "
            f"{_cpu(single, OURS, 'server'):,.0f} µs server CPU per call.",
        ]
    return rows


def _rate(case: Case, contender: str) -> float:
    return median([s.rate for s in case.load(contender)])


def _cpu(case: Case, contender: str, side: str = "both") -> float:
    samples = case.load(contender)
    if side == "client":
        return median([s.client_cpu_us for s in samples])
    if side == "server":
        return median([s.server_cpu_us for s in samples])
    return median([s.client_cpu_us + s.server_cpu_us for s in samples])


def figure(sample: LoadSample, name: str) -> float:
    """One figure of a load run: "rate", "client", "server" or "both" (CPU)."""
    if name == "rate":
        return sample.rate
    if name == "client":
        return sample.client_cpu_us
    if name == "server":
        return sample.server_cpu_us
    return sample.client_cpu_us + sample.server_cpu_us


def paired_ratio(runs: list[LoadSample], base: list[LoadSample], name: str) -> float:
    """The median over the rounds of a figure of `runs` over that of `base`.

    Both ran in the same round, seconds apart, so each ratio compares runs
    under the same load on the machine; the median of those ratios is
    steadier than a ratio of two medians taken from different rounds.
    """
    pairs = zip(runs, base, strict=False)
    return median([_ratio(figure(a, name), figure(b, name)) for a, b in pairs])


def _paired(case: Case, contender: str, other: str, name: str) -> float:
    return paired_ratio(case.load(contender), case.load(other), name)


def _seconds(case: Case, contender: str) -> float:
    return median([s.seconds for s in case.times(contender)])


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(b) else float("nan")


def _x(ratio: float) -> str:
    return "—" if math.isnan(ratio) else f"{ratio:.2f}{TIMES}"
