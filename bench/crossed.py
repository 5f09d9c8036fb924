"""Which side a difference comes from: each client against each server.

`python -m bench.crossed` runs one load case (unary, 1 call in flight, by
default) from raw grpc.aio's client and from micro-grpc's against raw
grpc.aio's server and micro-grpc's, all four pairings in every round, in
an order that rotates. The raw server is entered in the same etcd by this
runner, so micro-grpc's client finds it the way it finds any service,
while the raw server's own process stays as plain as in `python -m bench`.

Per pairing it prints the medians, and the median over the rounds of each
pairing's ratio to raw client against raw server in the same round. The
client's share of a difference is the micro-grpc client against the raw
one, with the server fixed; the server's share is the other way round.

    python -m bench.crossed --rounds 20 --duration 1
    python -m bench.crossed --case unary_64
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.cases import LOAD_CASES, SERVICE, ServerProcess, measure, start_server
from bench.report import TIMES, paired_ratio
from bench.results import LoadSample, Results, Settings, median
from micro_grpc.registry import Node, Service
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

__all__ = ["main"]

RAW_NAME = "bench-echo-raw"

# (client, server) pairings; raw → raw is what the others are read against.
PAIRINGS = (("grpc", "grpc"), ("grpc", "micro"), ("micro", "grpc"), ("micro", "micro"))
LABELS = {"grpc": "raw", "micro": "micro-grpc"}


@contextmanager
def entered(endpoint: str, name: str, address: str) -> Iterator[None]:
    """`address` listed in etcd as the one node of `name`, while in the block.

    The lease is kept by a thread of this process, so the server itself
    does no registry work.
    """
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None

    async def hold() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        registry = EtcdRegistry(endpoints=[endpoint])
        node = Node("raw-1", address, {"transport": "grpc", "secure": "false"})
        await registry.register(Service(name, nodes=(node,)))
        ready.set()
        await stop.wait()
        await registry.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError(f"could not enter {name} in etcd at {endpoint}")
    try:
        yield
    finally:
        assert loop is not None and stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def run(case_key: str, settings: Settings) -> dict[tuple[str, str], list[LoadSample]]:
    load = next(c for c in LOAD_CASES if c.key == case_key)
    results = Results(settings, {})
    samples: dict[tuple[str, str], list[LoadSample]] = {p: [] for p in PAIRINGS}
    with EtcdProcess() as etcd:
        servers: dict[str, ServerProcess] = {}
        try:
            for contender in ("grpc", "micro"):
                servers[contender] = start_server(contender, etcd.endpoint, SERVICE)
            with entered(etcd.endpoint, RAW_NAME, servers["grpc"].address):
                for r in range(settings.rounds):
                    shift = r % len(PAIRINGS)
                    for client, server in (*PAIRINGS[shift:], *PAIRINGS[:shift]):
                        target, name = _target(client, server, servers, etcd.endpoint)
                        sample, _ = measure(
                            load, client, target, servers[server], results, name
                        )
                        samples[client, server].append(sample)
                    print(f"round {r + 1} of {settings.rounds}", file=sys.stderr)
        finally:
            for each in servers.values():
                each.child.stop()
    return samples


def _target(
    client: str, server: str, servers: dict[str, ServerProcess], registry: str
) -> tuple[str, str]:
    """Where the load process connects, and the service name it resolves."""
    if client == "grpc":
        return servers[server].address, SERVICE
    return registry, SERVICE if server == "micro" else RAW_NAME


def render(samples: dict[tuple[str, str], list[LoadSample]]) -> str:
    base = samples["grpc", "grpc"]
    rows = [
        "| client → server | calls/s | client CPU µs/call | server CPU µs/call "
        f"| rate {TIMES} raw→raw | client CPU {TIMES} | server CPU {TIMES} "
        f"| CPU {TIMES} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pairing, runs in samples.items():
        rows.append(
            f"| {LABELS[pairing[0]]} → {LABELS[pairing[1]]} "
            f"| {median([s.rate for s in runs]):,.0f} "
            f"| {median([s.client_cpu_us for s in runs]):,.1f} "
            f"| {median([s.server_cpu_us for s in runs]):,.1f} "
            f"| {paired_ratio(runs, base, 'rate'):.3f} "
            f"| {paired_ratio(runs, base, 'client'):.3f} "
            f"| {paired_ratio(runs, base, 'server'):.3f} "
            f"| {paired_ratio(runs, base, 'both'):.3f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crossed", description=__doc__
    )
    parser.add_argument(
        "--case", default="unary_1", choices=[c.key for c in LOAD_CASES]
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    args = parser.parse_args(argv)
    settings = Settings(rounds=args.rounds, duration=args.duration, warmup=args.warmup)
    started = time.perf_counter()
    samples = run(args.case, settings)
    print(render(samples))
    print(f"{args.rounds} rounds in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
