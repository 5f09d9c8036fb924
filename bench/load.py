"""A benchmark client process: `python -m bench.load CONTENDER SHAPE ...`.

The runner and this process speak in lines. After connecting and warming
up this process prints `ready` and waits; the runner reads both processes'
CPU clocks and answers `go`. The load then runs for `--duration` seconds;
calls in flight at the end are let finish and counted. It prints `done`
and waits again, so the runner reads the clocks with nothing else running
here, then answers `report`, and this process prints its numbers as one
JSON line: calls, elapsed seconds, p50 and p99 latency, and for `--spread`
how many replies came from each answering process.

Shapes: `unary` with `--in-flight` concurrent callers; `ping_pong`, one
bidirectional stream where each message waits for its reply; `pipelined`,
one stream with up to `--in-flight` messages sent ahead of their replies.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from collections.abc import Callable

from bench.contenders import CONTENDERS, Caller, Duplex, connect
from bench.gen.echo_pb2 import EchoRequest

SHAPES = ("unary", "ping_pong", "pipelined")

# One request for every call: what is measured is the call, not the
# building of a message.
REQUEST = EchoRequest(name="bench")

Clock = Callable[[], int]
_now: Clock = time.perf_counter_ns


async def unary(
    caller: Caller,
    in_flight: int,
    until: float,
    spread: collections.Counter[str] | None = None,
) -> list[int]:
    """Latencies (ns) of unary calls made by `in_flight` loops until `until`."""
    latencies: list[int] = []
    call = caller.unary
    record = latencies.append

    async def loop() -> None:
        while time.perf_counter() < until:
            start = _now()
            reply = await call(REQUEST)
            record(_now() - start)
            if spread is not None:
                spread[reply.message] += 1

    await asyncio.gather(*(loop() for _ in range(in_flight)))
    return latencies


async def ping_pong(duplex: Duplex, until: float) -> list[int]:
    """Round trips on one stream, each message sent once its reply is in."""
    latencies: list[int] = []
    send, recv, record = duplex.send, duplex.recv, latencies.append
    while time.perf_counter() < until:
        start = _now()
        await send(REQUEST)
        await recv()
        record(_now() - start)
    return latencies


async def pipelined(duplex: Duplex, window: int, until: float) -> list[int]:
    """Messages sent ahead of their replies, at most `window` unanswered."""
    latencies: list[int] = []
    sent: collections.deque[int] = collections.deque()
    room = asyncio.Semaphore(window)
    more = asyncio.Event()
    finished = False

    async def sender() -> None:
        nonlocal finished
        while time.perf_counter() < until:
            await room.acquire()
            sent.append(_now())
            more.set()
            await duplex.send(REQUEST)
        finished = True
        more.set()

    async def receiver() -> None:
        # A stream keeps order: each reply answers the oldest unanswered.
        while sent or not finished:
            if not sent:
                more.clear()
                await more.wait()
                continue
            await duplex.recv()
            latencies.append(_now() - sent.popleft())
            room.release()

    await asyncio.gather(sender(), receiver())
    return latencies


async def _phase(
    caller: Caller,
    duplex: Duplex | None,
    args: argparse.Namespace,
    seconds: float,
    spread: collections.Counter[str] | None,
) -> tuple[list[int], float]:
    start = time.perf_counter()
    until = start + seconds
    if args.shape == "unary":
        latencies = await unary(caller, args.in_flight, until, spread)
    elif args.shape == "ping_pong":
        assert duplex is not None
        latencies = await ping_pong(duplex, until)
    else:
        assert duplex is not None
        latencies = await pipelined(duplex, args.in_flight, until)
    return latencies, time.perf_counter() - start


async def _run(args: argparse.Namespace) -> None:
    caller = connect(args.contender, args.target, args.name)
    spread: collections.Counter[str] | None = (
        collections.Counter() if args.spread else None
    )
    try:
        if args.shape == "unary":
            await _measure(caller, None, args, spread)
        else:
            async with caller.bidi() as duplex:
                await _measure(caller, duplex, args, spread)
    finally:
        await caller.close()


async def _measure(
    caller: Caller,
    duplex: Duplex | None,
    args: argparse.Namespace,
    spread: collections.Counter[str] | None,
) -> None:
    await _phase(caller, duplex, args, args.warmup, None)
    _say("ready")
    _wait_for("go")

    latencies, elapsed = await _phase(caller, duplex, args, args.duration, spread)

    _say("done")
    _wait_for("report")
    latencies.sort()
    n = len(latencies)
    result = {
        "calls": n,
        "elapsed_s": elapsed,
        "p50_us": latencies[(n - 1) // 2] / 1e3 if n else 0.0,
        "p99_us": latencies[(n - 1) * 99 // 100] / 1e3 if n else 0.0,
        "spread": dict(spread or {}),
    }
    _say(json.dumps(result))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _wait_for(word: str) -> None:
    # Blocking on purpose: nothing of this process should run meanwhile.
    line = sys.stdin.readline().strip()
    if line != word:
        raise SystemExit(f"expected {word!r} from the runner, got {line!r}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("shape", choices=SHAPES)
    parser.add_argument(
        "--target", required=True, help="server address; for micro, etcd's"
    )
    parser.add_argument("--name", default="bench-echo")
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--spread", action="store_true")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
