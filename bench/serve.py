"""A benchmark server process: `python -m bench.serve CONTENDER ...`.

Starts the contender's echo server, prints one JSON line (the address, the
seconds from the start call to serving, the pids of the processes doing
the work), then serves until SIGTERM. With `--workers N` micro-grpc serves
from N worker processes, each its own node answering with its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import time

from bench.contenders import CONTENDERS, listed, micro_service, serve
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.server.workers import Workers


async def _serve(contender: str, registry: str, name: str) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)

    started = time.perf_counter()
    serving = await serve(contender, registry, name)
    ready = time.perf_counter() - started

    _report(serving.address, ready, [os.getpid()])
    await stopping.wait()
    await serving.stop()


async def _serve_workers(registry: str, name: str, n: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)

    started = time.perf_counter()
    workers = Workers(functools.partial(micro_service, registry, name, True), n)
    workers.start()
    etcd = EtcdRegistry(endpoints=[registry])
    while len(await listed(etcd, name)) < n:
        await asyncio.sleep(0.02)
    await etcd.close()
    ready = time.perf_counter() - started

    _report("", ready, workers.pids)
    await stopping.wait()
    await asyncio.to_thread(workers.stop)


def _report(address: str, ready: float, pids: list[int]) -> None:
    line = {"address": address, "ready_s": ready, "pids": pids}
    print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("--registry", required=True, help="etcd endpoint")
    parser.add_argument("--name", default="bench-echo")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    if args.workers:
        asyncio.run(_serve_workers(args.registry, args.name, args.workers))
    else:
        asyncio.run(_serve(args.contender, args.registry, args.name))


if __name__ == "__main__":
    main()
