"""Gateway throughput: HTTP requests/s through the gateway vs direct gRPC.

    python -m bench.gateway [--rounds 5] [--requests 2000] [--concurrency 32]

A child process serves the greeter and a gateway in front of it (memory
registry: the registry is off the hot path either way). This process then
sends the same `Greeter.Hello` calls both ways, in alternating rounds of
the same run: as gRPC unary calls straight to the service, and as
`POST /greeter/hello` JSON requests to the gateway. It prints the median
requests/s of each way and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from micro_grpc import Client


async def _serve() -> None:
    from examples.greeter.server import Greeter
    from micro_grpc import Service
    from micro_grpc.gateway import Gateway, GatewayOptions
    from micro_grpc.registry.memory import MemoryRegistry

    registry = MemoryRegistry()
    service = Service("greeter", registry=registry, version="bench")
    service.handle(Greeter())
    async with service:
        client = Client(registry)
        async with Gateway(client, GatewayOptions(address="127.0.0.1:0")) as gateway:
            print(f"READY {service.address} {gateway.url}", flush=True)
            # Serve until the parent closes our stdin.
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await client.close()


async def _rate(
    call: Callable[[], Awaitable[None]], requests: int, concurrency: int
) -> float:
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


async def _measure(rounds: int, requests: int, concurrency: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.gateway",
        "--serve",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdin is not None
    line = (await child.stdout.readline()).decode().split()
    if not line or line[0] != "READY":
        raise SystemExit("the bench server did not start")
    address, url = line[1], line[2]

    grpc_client = Client()
    greeter = GreeterClient(grpc_client, "greeter")
    connector = aiohttp.TCPConnector(limit=concurrency)
    http = aiohttp.ClientSession(connector=connector)
    request = HelloRequest(name="bench")

    async def direct() -> None:
        await greeter.hello(request, address=address)

    async def through_gateway() -> None:
        async with http.post(f"{url}/greeter/hello", json={"name": "bench"}) as reply:
            if reply.status != 200:
                raise SystemExit(f"gateway answered {reply.status}")
            await reply.read()

    try:
        # Warm both paths (channels, reflection, connections) before timing.
        await _rate(direct, 200, concurrency)
        await _rate(through_gateway, 200, concurrency)
        direct_rates, gateway_rates = [], []
        for number in range(1, rounds + 1):
            direct_rates.append(await _rate(direct, requests, concurrency))
            gateway_rates.append(await _rate(through_gateway, requests, concurrency))
            print(
                f"round {number}: direct gRPC {direct_rates[-1]:8.0f}/s   "
                f"gateway HTTP {gateway_rates[-1]:8.0f}/s"
            )
    finally:
        await http.close()
        await grpc_client.close()
        child.stdin.close()
        await child.wait()

    direct_median = statistics.median(direct_rates)
    gateway_median = statistics.median(gateway_rates)
    print(
        f"median of {rounds} rounds of {requests} requests, {concurrency} in flight:\n"
        f"  direct gRPC unary     {direct_median:8.0f} requests/s\n"
        f"  through the gateway   {gateway_median:8.0f} requests/s\n"
        f"  ratio gateway/direct  {gateway_median / direct_median:8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
    else:
        asyncio.run(_measure(args.rounds, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
