"""The watch-fed cache over the etcd registry."""

from __future__ import annotations

import asyncio

from micro_grpc.registry import Node, Service
from micro_grpc.registry.cache import Cache
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess


def node(node_id: str) -> Service:
    return Service("svc", nodes=(Node(node_id, "127.0.0.1:9"),))


async def test_change_during_first_lookup_is_not_lost(
    etcd: EtcdProcess, etcd_registry: EtcdRegistry
) -> None:
    class ReadThenChange(EtcdRegistry):
        """Reads, then lets a change land before the read is returned."""

        async def get_service(self, name: str) -> list[Service]:
            found = await super().get_service(name)
            await etcd_registry.register(node("n2"))
            await asyncio.sleep(0.3)  # the watch delivers n2 meanwhile
            return found

    await etcd_registry.register(node("n1"))
    reader = ReadThenChange(endpoints=[etcd.endpoint])
    cache = Cache(reader)
    try:
        [service] = await cache.get_service("svc")
        assert {n.id for n in service.nodes} == {"n1", "n2"}
    finally:
        await cache.close()
        await reader.close()


async def test_cache_follows_registrations(etcd_registry: EtcdRegistry) -> None:
    await etcd_registry.register(node("n1"))
    reader = EtcdRegistry(endpoints=etcd_registry.endpoints)
    cache = Cache(reader)
    try:
        await cache.get_service("svc")
        await etcd_registry.register(node("n2"))
        await etcd_registry.deregister(node("n1"))
        for _ in range(100):
            [service] = await cache.get_service("svc")
            if {n.id for n in service.nodes} == {"n2"}:
                break
            await asyncio.sleep(0.02)
        assert {n.id for n in service.nodes} == {"n2"}
    finally:
        await cache.close()
        await reader.close()
