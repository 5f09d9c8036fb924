"""The cases, and the rounds that run every contender through each of them.

Every case runs each contender once per round, in an order that rotates
from round to round, so that no contender always goes first or last while
the machine warms up or others' work comes and goes.

- Load cases (unary with 1 and 64 calls in flight; a bidirectional
  stream, ping-pong and pipelined) run against servers started once for
  the whole run, one process per contender, from a fresh load process per
  round.
- Server start: a fresh server process per round, from the call that
  starts it to serving (micro-grpc: registered, listed by etcd, health
  SERVING); the time from spawning the process is given beside it.
- Code generation: see `codegen`.
- Workers: micro-grpc served by several worker processes, to show calls
  spread over them and what each costs per call.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import codegen
from bench.contenders import CONTENDERS
from bench.harness import Child, cpu_seconds
from bench.results import Case, LoadSample, Results, TimeSample, WorkerSample
from micro_grpc.testing import EtcdProcess

__all__ = [
    "CASE_KEYS",
    "LOAD_CASES",
    "SERVICE",
    "LoadCase",
    "ServerProcess",
    "measure",
    "run",
    "start_server",
]

log = logging.getLogger(__name__)

SERVICE = "bench-echo"


@dataclass(frozen=True, slots=True)
class LoadCase:
    key: str
    title: str
    shape: str
    in_flight: int
    unit: str


LOAD_CASES = (
    LoadCase("unary_1", "Unary, 1 call in flight", "unary", 1, "calls/s"),
    LoadCase("unary_64", "Unary, 64 calls in flight", "unary", 64, "calls/s"),
    LoadCase("ping_pong", "Bidi stream, ping-pong", "ping_pong", 1, "msgs/s"),
    LoadCase(
        "pipelined", "Bidi stream, pipelined (64 ahead)", "pipelined", 64, "msgs/s"
    ),
)


@dataclass(frozen=True, slots=True)
class ServerProcess:
    child: Child
    address: str
    pids: list[int]
    ready_s: float  # the server's own count, from its start call to serving
    spawn_s: float  # from spawning its process to its first line


Progress = Callable[[str], None]


CASE_KEYS = (*(c.key for c in LOAD_CASES), "start", "workers", "codegen")


def run(
    results: Results, progress: Progress, only: frozenset[str] = frozenset()
) -> None:
    """Run the cases into `results`, saying what runs through `progress`.

    `only` names the cases to run (see CASE_KEYS); empty runs them all.
    """
    settings = results.settings

    def wanted(key: str) -> bool:
        return not only or key in only

    with EtcdProcess() as etcd:
        servers = {c: start_server(c, etcd.endpoint, SERVICE) for c in CONTENDERS}
        try:
            for load in filter(lambda c: wanted(c.key), LOAD_CASES):
                case = Case(load.key, load.title, "load", load.unit)
                results.cases.append(case)
                for contender in _rounds(settings.rounds):
                    progress(f"{load.key}: {contender}")
                    target = (
                        etcd.endpoint
                        if contender == "micro"
                        else servers[contender].address
                    )
                    sample, _ = measure(
                        load, contender, target, servers[contender], results
                    )
                    case.add(contender, sample)
        finally:
            for server in servers.values():
                server.child.stop()

        if wanted("start"):
            results.cases.append(_startup(etcd.endpoint, settings.rounds, progress))
        if wanted("workers"):
            progress("workers: micro")
            results.workers.extend(_workers(etcd.endpoint, results))
    if wanted("codegen"):
        services, rounds = settings.codegen_services, settings.rounds
        results.cases.append(_codegen(services, rounds, progress))


def _rounds(rounds: int) -> list[str]:
    """Contenders in the order they run: rotated by one each round."""
    order = []
    for r in range(rounds):
        shift = r % len(CONTENDERS)
        order += [*CONTENDERS[shift:], *CONTENDERS[:shift]]
    return order


def start_server(
    contender: str, registry: str, name: str, *extra: str
) -> ServerProcess:
    child = Child(
        "bench.serve", contender, "--registry", registry, "--name", name, *extra
    )
    try:
        info = child.read_json(timeout=60)
    except BaseException:
        child.stop()
        raise
    spawn_s = time.perf_counter() - child.started
    return ServerProcess(child, info["address"], info["pids"], info["ready_s"], spawn_s)


def measure(
    load: LoadCase,
    contender: str,
    target: str,
    server: ServerProcess,
    results: Results,
    name: str = SERVICE,
    spread: bool = False,
) -> tuple[LoadSample, dict[int, tuple[int, float]]]:
    """One load process's run against `server`.

    Also, per server process: the calls it answered (when `spread` has the
    replies name their process) and its CPU microseconds per call answered.
    """
    settings = results.settings
    args = [
        contender,
        load.shape,
        f"--target={target}",
        f"--name={name}",
        f"--in-flight={load.in_flight}",
        f"--warmup={settings.warmup}",
        f"--duration={settings.duration}",
    ]
    child = Child("bench.load", *args, *(["--spread"] if spread else []))
    try:
        child.expect("ready", timeout=60)
        client_before = cpu_seconds(child.pid)
        server_before = {pid: cpu_seconds(pid) for pid in server.pids}
        child.say("go")
        child.expect("done", timeout=settings.duration + 60)
        client_cpu = cpu_seconds(child.pid) - client_before
        server_cpu = {pid: cpu_seconds(pid) - server_before[pid] for pid in server.pids}
        child.say("report")
        report = child.read_json()
        child.wait()
    finally:
        child.stop()

    calls = int(report["calls"]) or 1
    answered = {int(pid): int(n) for pid, n in report["spread"].items()}
    per_worker = {
        pid: (answered.get(pid, 0), cpu * 1e6 / max(answered.get(pid, 0), 1))
        for pid, cpu in server_cpu.items()
    }
    sample = LoadSample(
        calls=int(report["calls"]),
        rate=report["calls"] / report["elapsed_s"],
        p50_us=report["p50_us"],
        p99_us=report["p99_us"],
        client_cpu_us=client_cpu * 1e6 / calls,
        server_cpu_us=sum(server_cpu.values()) * 1e6 / calls,
    )
    return sample, per_worker


def _startup(registry: str, rounds: int, progress: Progress) -> Case:
    case = Case(
        "start",
        "Server start to registered and SERVING",
        "time",
        "ms",
        ("start → serving (ms)", "spawn → serving (ms)"),
    )
    for contender in _rounds(rounds):
        progress(f"start: {contender}")
        server = start_server(contender, registry, "bench-start")
        server.child.stop()
        case.add(contender, TimeSample(server.ready_s, server.spawn_s))
    return case


def _workers(registry: str, results: Results) -> list[WorkerSample]:
    """micro-grpc from N worker processes, each its own node, under 64 calls."""
    load = LOAD_CASES[1]
    samples = []
    server = start_server(
        "micro", registry, "bench-workers", f"--workers={results.settings.workers}"
    )
    try:
        for _ in range(results.settings.rounds):
            supervisor_before = cpu_seconds(server.child.pid)
            sample, per_worker = measure(
                load, "micro", registry, server, results, "bench-workers", True
            )
            samples.append(
                WorkerSample(
                    rate=sample.rate,
                    client_cpu_us=sample.client_cpu_us,
                    workers=per_worker,
                    supervisor_cpu_s=cpu_seconds(server.child.pid) - supervisor_before,
                )
            )
    finally:
        server.child.stop()
    return samples


def _codegen(services: int, rounds: int, progress: Progress) -> Case:
    case = Case(
        "codegen",
        f"Code generation, {services} services in {len(range(0, services, 10))} files",
        "time",
        "ms",
        ("protoc run (ms)", "CPU, protoc + plugin (ms)"),
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = codegen.generate_protos(root, services)
        for contender in _rounds(rounds):
            progress(f"codegen: {contender}")
            if contender == CONTENDERS[0]:
                # Once a round: protoc parsing the set with no plugin at all.
                wall, cpu = codegen.time_plugin(codegen.PARSE_ONLY, root, files)
                case.add(codegen.PARSE_ONLY, TimeSample(wall, cpu))
            wall, cpu = codegen.time_plugin(contender, root, files)
            case.add(contender, TimeSample(wall, cpu))
    return case
