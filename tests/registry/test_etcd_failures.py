"""The etcd registry and the cache when things go wrong: dead owners, a
restarted etcd, compaction, a broken connection."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from micro_grpc.errors import ServiceNotFound
from micro_grpc.registry import Node, Service
from micro_grpc.registry.cache import Cache
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

Eventually = Callable[..., Awaitable[float]]

OWNER = textwrap.dedent(
    """
    import asyncio, sys
    from micro_grpc.registry import Node, Service
    from micro_grpc.registry.etcd import EtcdRegistry

    async def main():
        registry = EtcdRegistry(endpoints=[sys.argv[1]], ttl=float(sys.argv[2]))
        await registry.register(Service("owned", nodes=(Node("o1", "127.0.0.1:1"),)))
        print("registered", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def node(name: str, node_id: str) -> Service:
    return Service(name, version="1", nodes=(Node(node_id, "127.0.0.1:9"),))


async def node_ids(cache: Cache, name: str) -> set[str]:
    try:
        services = await cache.get_service(name)
    except ServiceNotFound:
        return set()
    return {n.id for s in services for n in s.nodes}


@pytest.fixture
async def watching_cache(etcd: EtcdProcess) -> AsyncIterator[Cache]:
    registry = EtcdRegistry(endpoints=[etcd.endpoint])
    cache = Cache(registry, max_backoff=0.5)
    yield cache
    await cache.close()
    await registry.close()


async def test_sigkilled_owner_disappears_within_ttl(
    etcd: EtcdProcess, watching_cache: Cache, eventually: Eventually
) -> None:
    ttl = 2
    owner = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OWNER,
        etcd.endpoint,
        str(ttl),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert owner.stdout is not None
        line = await asyncio.wait_for(owner.stdout.readline(), 20)
        assert line.strip() == b"registered"
        assert await node_ids(watching_cache, "owned") == {"o1"}

        owner.send_signal(signal.SIGKILL)
        await owner.wait()

        async def gone() -> bool:
            return await node_ids(watching_cache, "owned") == set()

        await eventually(gone, timeout=ttl + 1, what="killed owner's node expired")
    finally:
        if owner.returncode is None:
            owner.kill()
            await owner.wait()


async def test_etcd_restarted_empty(
    fresh_etcd: EtcdProcess, eventually: Eventually
) -> None:
    owner = EtcdRegistry(endpoints=[fresh_etcd.endpoint], ttl=2)
    reader = EtcdRegistry(endpoints=[fresh_etcd.endpoint], dial_timeout=0.5)
    cache = Cache(reader, max_backoff=0.5)
    try:
        await owner.register(node("svc", "n1"))
        assert await node_ids(cache, "svc") == {"n1"}

        fresh_etcd.stop()
        await eventually(lambda: cache.stale, what="cache noticed the outage")
        await asyncio.sleep(2.5)  # longer than the lease TTL
        assert await node_ids(cache, "svc") == {"n1"}  # served from memory

        # restart() returns once etcd answers; from then, one heartbeat
        # interval (a third of the TTL) should see the node put again.
        await asyncio.to_thread(fresh_etcd.restart, wipe=True)

        async def registered_again() -> bool:
            return "/micro/registry/svc/n1" in fresh_etcd.etcdctl(
                "get", "--prefix", "/micro/registry", "--keys-only"
            )

        took = await eventually(registered_again, timeout=3, interval=0.05)
        assert took < 2 / 3 + 0.5, f"registered again after {took:.2f}s"

        async def cache_current() -> bool:
            return not cache.stale and await node_ids(cache, "svc") == {"n1"}

        await eventually(cache_current, what="cache current again")
    finally:
        await cache.close()
        await reader.close()
        await owner.close()


async def test_compaction_past_the_watch_makes_the_cache_relist(
    etcd: EtcdProcess,
    etcd_registry: EtcdRegistry,
    tcp_proxy: Any,
    eventually: Eventually,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The cache reaches etcd through a relay the test can cut; its watcher
    # then tries to resume from its last revision for up to dial_timeout.
    reader = EtcdRegistry(endpoints=[tcp_proxy.endpoint], dial_timeout=5)
    cache = Cache(reader, max_backoff=0.2)
    try:
        await etcd_registry.register(node("svc", "n1"))
        assert await node_ids(cache, "svc") == {"n1"}

        caplog.set_level(logging.DEBUG, logger="micro_grpc")
        await tcp_proxy.cut()
        await etcd_registry.register(node("svc", "n2"))
        await etcd_registry.deregister(node("svc", "n1"))
        etcd.etcdctl("compaction", "--physical", str(etcd.revision()))
        await tcp_proxy.start()

        async def converged() -> bool:
            return await node_ids(cache, "svc") == {"n2"}

        await eventually(converged, what="cache relisted after compaction")
        assert "compacted" in caplog.text
    finally:
        await cache.close()
        await reader.close()


async def test_watch_resumes_after_a_dropped_connection(
    etcd_registry: EtcdRegistry, tcp_proxy: Any, eventually: Eventually
) -> None:
    reader = EtcdRegistry(endpoints=[tcp_proxy.endpoint], dial_timeout=5)
    watcher = await reader.watch()
    seen: list[str] = []

    async def collect() -> None:
        async for event in watcher:
            seen.extend(n.id for n in event.service.nodes)

    collecting = asyncio.create_task(collect())
    try:
        await etcd_registry.register(node("svc", "n1"))
        await eventually(lambda: seen == ["n1"])

        await tcp_proxy.cut()
        await etcd_registry.register(node("svc", "n2"))  # made while cut off
        await tcp_proxy.start()

        await eventually(lambda: seen == ["n1", "n2"], what="missed event replayed")
        assert not collecting.done()
    finally:
        await watcher.stop()
        await asyncio.wait_for(collecting, 2)
        await reader.close()
