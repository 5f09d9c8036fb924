"""micro-grpc's own Python per unary call, with warm and with cold caches.

`python -m bench.cold` runs, in this one process, what micro-grpc adds to
a unary call on each side, against the bare call it wraps:

- client: the generated `EchoClient.unary` through `Client.unary` (the
  registry cache, the node's pick, the pooled callable), with the grpc
  call itself replaced by a bare coroutine that answers at once;
- server: the handler wrapper of `method_handlers` (deadline, `Context`,
  error mapping) around the echo handler, against grpc_tools' servicer
  method with the same body, both given a stand-in servicer context.

Each is timed warm (calls back to back) and cold: before each call the
process writes one byte per cache line over 32 MiB, so the call starts
with its code and data out of the CPU caches. That is what happens
between calls that come one at a time, when the other process and the
kernel run in between; `bench/FINDINGS.md` has what it explains.

    python -m bench.cold
    python -m bench.cold --calls 200 --rounds 3   # a moment
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.contenders import GrpcEcho, MicroEcho
from bench.gen import echo_micro
from bench.gen.echo_pb2 import EchoReply, EchoRequest
from micro_grpc import Client
from micro_grpc.registry import Node, Service
from micro_grpc.registry.memory import MemoryRegistry
from micro_grpc.server.handlers import method_handlers

__all__ = ["main"]

REQUEST = EchoRequest(name="bench")
REPLY = EchoReply(message="bench")
POLLUTION = 32 * 1024 * 1024
LINE = 64

Call = Callable[[], Awaitable[Any]]


class _Context:
    """The one thing the handlers ask of grpc's servicer context here."""

    def time_remaining(self) -> float | None:
        return None


async def _answer(request: EchoRequest, **_: Any) -> EchoReply:
    """Stands in for grpc's unary call: answers at once."""
    return REPLY


async def _pairs() -> dict[str, tuple[Call, Call]]:
    """Per side: (micro-grpc's path, the bare call it wraps)."""
    registry = MemoryRegistry()
    node = Node("echo-1", "127.0.0.1:1", {"secure": "false"})
    await registry.register(Service("echo", nodes=(node,)))
    client = Client(registry)
    # Every node's pooled callable becomes the stand-in: what is timed is
    # micro-grpc's Python up to grpc's door.
    setattr(client._pool, "callable", lambda *_: _answer)  # noqa: B010
    stub = echo_micro.EchoClient(client, "echo")
    await stub.unary(REQUEST)  # resolves "echo" once, as a first call would

    handler = method_handlers(echo_micro.ECHO_SERVICE, MicroEcho())["Unary"]
    wrapped = handler.unary_unary
    assert wrapped is not None
    bare = GrpcEcho().Unary
    context: Any = _Context()  # in the place of grpc's ServicerContext

    return {
        "client: generated stub → Client.unary → cache, pick, pool": (
            lambda: stub.unary(REQUEST),
            lambda: _answer(REQUEST),
        ),
        "server: handler wrapper → handler": (
            lambda: wrapped(REQUEST, context),
            lambda: bare(REQUEST, context),
        ),
    }


async def _time(call: Call, calls: int, pollute: Callable[[], None] | None) -> float:
    """Microseconds per call, with the caches polluted before each if asked."""
    clock = time.perf_counter_ns
    spent = 0
    for _ in range(calls):
        if pollute is not None:
            pollute()
        start = clock()
        await call()
        spent += clock() - start
    return spent / calls / 1e3


async def _run(calls: int, rounds: int) -> list[tuple[str, float, float]]:
    memory = bytearray(POLLUTION)
    ones = b"\x01" * (POLLUTION // LINE)

    def pollute() -> None:
        memory[::LINE] = ones

    rows = []
    for label, (ours, bare) in (await _pairs()).items():
        warm, cold = [], []
        for _ in range(rounds):
            # Warm calls are cheap: time many more of them.
            warm.append(
                await _time(ours, calls * 20, None)
                - await _time(bare, calls * 20, None)
            )
            cold.append(
                await _time(ours, calls, pollute) - await _time(bare, calls, pollute)
            )
        rows.append((label, statistics.median(warm), statistics.median(cold)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="cold calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rows = asyncio.run(_run(args.calls, args.rounds))
    print("| micro-grpc adds, per unary call | warm µs | cold µs |")
    print("|---|---:|---:|")
    for label, warm, cold in rows:
        print(f"| {label} | {warm:.2f} | {cold:.2f} |")
    print(f"medians of {args.rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
