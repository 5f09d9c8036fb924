"""How fast a registration reaches watching caches, and what a cache weighs.

Starts a real etcd on loopback, then:

- propagation: one registry registers a node; N clients (each its own
  EtcdRegistry and Cache, as N processes would have) wait until their cache
  lists it. Reports p50 and p99 of the delay over every (trial, client).
- memory: a cache holding 1,000 services of 3 nodes each, measured with
  tracemalloc (Python allocations only).

Run: python -m bench.registry_propagation
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import tracemalloc

from micro_grpc.registry import Endpoint, Node, Service, Value
from micro_grpc.registry.cache import Cache
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

CLIENTS = (1, 10, 50)
TRIALS = 40
SERVICES = 1000
NODES_PER_SERVICE = 3


def record(name: str, node_id: str, port: int) -> Service:
    """A service record shaped like a real one: two endpoints, metadata."""
    endpoints = tuple(
        Endpoint(
            name=f"{name.title()}.{method}",
            request=Value(
                f"{method}Request", f"{method}Request", (Value("id", "string"),)
            ),
            response=Value(f"{method}Reply", f"{method}Reply", (Value("ok", "bool"),)),
            metadata={"stream": "false"},
        )
        for method in ("Get", "Put")
    )
    node = Node(node_id, f"10.0.0.1:{port}", {"zone": "a", "pid": str(port)})
    return Service(name, "1.0.0", {"team": "bench"}, endpoints, (node,))


async def has_node(cache: Cache, name: str, node_id: str) -> bool:
    services = await cache.get_service(name)
    return any(n.id == node_id for s in services for n in s.nodes)


async def propagation(endpoint: str, clients: int) -> list[float]:
    publisher = EtcdRegistry(endpoints=[endpoint], ttl=15)
    readers = [EtcdRegistry(endpoints=[endpoint]) for _ in range(clients)]
    caches = [Cache(r) for r in readers]
    try:
        await publisher.register(record("bench", "seed", 1))
        for cache in caches:
            assert await has_node(cache, "bench", "seed")
        delays = []
        for trial in range(TRIALS):
            node_id = f"n{clients}-{trial}"
            waiting = set(range(clients))
            start = time.perf_counter()
            await publisher.register(record("bench", node_id, 2 + trial))
            while waiting:
                for i in list(waiting):
                    if await has_node(caches[i], "bench", node_id):
                        delays.append(time.perf_counter() - start)
                        waiting.discard(i)
                await asyncio.sleep(0)
        return delays
    finally:
        for cache in caches:
            await cache.close()
        for reader in readers:
            await reader.close()
        await publisher.close()


async def cache_memory(endpoint: str) -> tuple[int, float]:
    publisher = EtcdRegistry(endpoints=[endpoint], ttl=60)
    names = [f"svc-{i:04d}" for i in range(SERVICES)]
    records = [
        record(name, f"{name}-{n}", 1000 + n)
        for name in names
        for n in range(NODES_PER_SERVICE)
    ]
    for start in range(0, len(records), 200):
        await asyncio.gather(
            *(publisher.register(r) for r in records[start : start + 200])
        )

    reader = EtcdRegistry(endpoints=[endpoint])
    await reader.list_services()  # connect before measuring
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    cache = Cache(reader)
    began = time.perf_counter()
    for name in names:
        assert len((await cache.get_service(name))[0].nodes) == NODES_PER_SERVICE
    filled = time.perf_counter() - began
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()

    await cache.close()
    await reader.close()
    await publisher.close()
    return used, filled


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main() -> None:
    with EtcdProcess(name="bench-etcd") as etcd:
        print(f"registration -> cache propagation, {TRIALS} registrations each")
        print(
            f"{'clients':>8} {'samples':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        )
        for clients in CLIENTS:
            delays = [d * 1000 for d in await propagation(etcd.endpoint, clients)]
            print(
                f"{clients:>8} {len(delays):>8} {percentile(delays, 50):>8.2f} "
                f"{percentile(delays, 99):>8.2f} {max(delays):>8.2f}"
            )
        used, filled = await cache_memory(etcd.endpoint)
        total = SERVICES * NODES_PER_SERVICE
        print()
        print(f"cache of {SERVICES} services x {NODES_PER_SERVICE} nodes:")
        print(f"  {used / 1024 / 1024:.2f} MiB traced, {used / total:.0f} B per node")
        print(f"  filled by {SERVICES} first lookups in {filled:.2f}s")


if __name__ == "__main__":
    asyncio.run(main())
