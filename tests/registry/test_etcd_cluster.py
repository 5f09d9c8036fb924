"""The etcd registry on a three-member cluster that loses its leader."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator

import pytest

from micro_grpc.errors import RegistryError, ServiceNotFound
from micro_grpc.registry import Node, Service
from micro_grpc.registry.cache import Cache
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdCluster, EtcdProcess

Eventually = Callable[..., Awaitable[float]]


@pytest.fixture
def cluster() -> Iterator[EtcdCluster]:
    with EtcdCluster(3) as running:
        yield running


def leader_first(cluster: EtcdCluster) -> list[EtcdProcess]:
    def is_leader(member: EtcdProcess) -> bool:
        [status] = json.loads(member.etcdctl("endpoint", "status", "--write-out=json"))
        return bool(
            status["Status"]["leader"] == status["Status"]["header"]["member_id"]
        )

    return sorted(cluster.members, key=lambda m: not is_leader(m))


async def test_losing_the_leader(cluster: EtcdCluster, eventually: Eventually) -> None:
    members = leader_first(cluster)
    endpoints = [m.endpoint for m in members]
    owner = EtcdRegistry(endpoints=endpoints, ttl=2, dial_timeout=1, request_timeout=1)
    reader = EtcdRegistry(endpoints=endpoints, dial_timeout=3)
    cache = Cache(reader, max_backoff=0.5)

    async def node_ids() -> set[str]:
        try:
            services = await cache.get_service("svc")
        except ServiceNotFound:
            return set()
        return {n.id for s in services for n in s.nodes}

    try:
        await owner.register(Service("svc", nodes=(Node("n1", "127.0.0.1:1"),)))
        assert await node_ids() == {"n1"}

        # Both registries talk to the leader; kill it. A write made while
        # the others elect a new leader may time out, as it would for any
        # etcd client; a Service retries it from its heartbeat. Once there
        # is a leader it must go through, on another member.
        members[0].kill()

        async def registered() -> bool:
            try:
                await owner.register(Service("svc", nodes=(Node("n2", "127.0.0.1:2"),)))
            except RegistryError:
                return False
            return True

        await eventually(registered, what="registration after the leader died")

        async def both() -> bool:
            return await node_ids() == {"n1", "n2"}

        await eventually(both, what="cache saw the registration after failover")

        await asyncio.sleep(3)  # past the 2 s TTL: heartbeats kept n1 alive
        [service] = await owner.get_service("svc")
        assert {n.id for n in service.nodes} == {"n1", "n2"}
        assert await node_ids() == {"n1", "n2"}
        assert owner._client.endpoint != members[0].endpoint
    finally:
        await cache.close()
        await reader.close()
        await owner.close()
