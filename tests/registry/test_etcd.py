"""EtcdRegistry against a real etcd: register, look up, watch, leases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from micro_grpc.errors import ConfigError, RegistryError, ServiceNotFound
from micro_grpc.registry import (
    Endpoint,
    Event,
    EventType,
    Node,
    Registry,
    Service,
    Value,
)
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

Eventually = Callable[..., Awaitable[float]]


def greeter(node_id: str, version: str = "1.0.0") -> Service:
    return Service(
        name="greeter",
        version=version,
        metadata={"zone": "a"},
        endpoints=(
            Endpoint(
                name="Greeter.Hello",
                request=Value(
                    "HelloRequest", "HelloRequest", (Value("name", "string"),)
                ),
                response=Value("HelloReply", "HelloReply"),
                metadata={"stream": "false"},
            ),
        ),
        nodes=(Node(node_id, f"127.0.0.1:{5000 + len(node_id)}", {"pid": "1"}),),
    )


async def test_is_a_registry(etcd_registry: EtcdRegistry) -> None:
    assert isinstance(etcd_registry, Registry)


async def test_register_get_list(etcd_registry: EtcdRegistry) -> None:
    await etcd_registry.register(greeter("g1"))
    await etcd_registry.register(greeter("g2"))
    await etcd_registry.register(greeter("g3", version="2.0.0"))

    found = await etcd_registry.get_service("greeter")

    assert [(s.version, sorted(n.id for n in s.nodes)) for s in found] == [
        ("1.0.0", ["g1", "g2"]),
        ("2.0.0", ["g3"]),
    ]
    assert found[0].endpoints == greeter("g1").endpoints
    assert found[0].metadata == {"zone": "a"}
    listed = await etcd_registry.list_services()
    assert [(s.name, s.version) for s in listed] == [
        ("greeter", "1.0.0"),
        ("greeter", "2.0.0"),
    ]


async def test_unknown_service_is_not_found(etcd_registry: EtcdRegistry) -> None:
    with pytest.raises(ServiceNotFound):
        await etcd_registry.get_service("nobody")


async def test_value_is_json_readable_with_etcdctl(
    etcd: EtcdProcess, etcd_registry: EtcdRegistry
) -> None:
    await etcd_registry.register(greeter("g1"))

    lines = etcd.etcdctl("get", "--prefix", "/micro/registry").splitlines()

    assert lines[0] == "/micro/registry/greeter/g1"
    assert json.loads(lines[1]) == greeter("g1").to_dict()


async def test_deregister_deletes_only_that_node(etcd_registry: EtcdRegistry) -> None:
    await etcd_registry.register(greeter("g1"))
    await etcd_registry.register(greeter("g2"))

    await etcd_registry.deregister(greeter("g1"))
    await etcd_registry.deregister(greeter("never-registered"))

    [service] = await etcd_registry.get_service("greeter")
    assert [n.id for n in service.nodes] == ["g2"]


async def test_one_lease_for_every_node(etcd: EtcdProcess) -> None:
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=2)
    await registry.register(greeter("g1"))
    await registry.register(Service("other", nodes=(Node("o1", "127.0.0.1:1"),)))

    reply = json.loads(etcd.etcdctl("get", "--prefix", "/micro/", "--write-out=json"))
    leases = {kv["lease"] for kv in reply["kvs"]}
    await registry.close()

    assert len(leases) == 1 and 0 not in leases


async def test_close_revokes_the_lease_at_once(etcd: EtcdProcess) -> None:
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=15)
    await registry.register(greeter("g1"))

    await registry.close()

    assert etcd.etcdctl("get", "--prefix", "/micro/registry") == ""


async def test_nodes_outlive_their_ttl_while_alive(
    etcd_registry: EtcdRegistry,
) -> None:
    await etcd_registry.register(greeter("g1"))

    await asyncio.sleep(3.5)  # well past the 2 s lease: heartbeats renewed it

    [service] = await etcd_registry.get_service("greeter")
    assert [n.id for n in service.nodes] == ["g1"]


async def test_lost_lease_is_replaced_and_nodes_put_again(
    etcd: EtcdProcess, etcd_registry: EtcdRegistry, eventually: Eventually
) -> None:
    await etcd_registry.register(greeter("g1"))
    reply = json.loads(etcd.etcdctl("get", "--prefix", "/micro/", "--write-out=json"))
    lease = reply["kvs"][0]["lease"]

    etcd.etcdctl("lease", "revoke", format(lease, "x"))

    async def back() -> bool:
        return etcd.etcdctl("get", "--prefix", "/micro/registry", "--keys-only") != ""

    # One heartbeat interval is a third of the 2 s TTL.
    took = await eventually(back, timeout=2.0, what="node registered again")
    assert took < 1.5


async def test_watch_reports_create_update_delete(
    etcd_registry: EtcdRegistry,
) -> None:
    watcher = await etcd_registry.watch()
    events: list[Event] = []

    async def collect() -> None:
        async for event in watcher:
            events.append(event)
            if len(events) == 3:
                return

    collecting = asyncio.create_task(collect())
    await etcd_registry.register(greeter("g1"))
    await etcd_registry.register(greeter("g1", version="1.0.1"))
    await etcd_registry.deregister(greeter("g1"))
    await asyncio.wait_for(collecting, 5)
    await watcher.stop()

    assert [e.type for e in events] == [
        EventType.CREATE,
        EventType.UPDATE,
        EventType.DELETE,
    ]
    assert events[0].service == greeter("g1")
    assert events[1].service.version == "1.0.1"
    # The deleted value comes from prev_kv: the last record of the node.
    assert events[2].service == greeter("g1", version="1.0.1")


async def test_watch_of_one_service_ignores_others(
    etcd_registry: EtcdRegistry,
) -> None:
    watcher = await etcd_registry.watch("greeter")
    await etcd_registry.register(Service("other", nodes=(Node("o1", "h:1"),)))
    await etcd_registry.register(greeter("g1"))

    event = await asyncio.wait_for(anext(aiter(watcher)), 5)
    await watcher.stop()

    assert event.service.name == "greeter"


async def test_expiry_is_a_delete_event(etcd: EtcdProcess) -> None:
    owner = EtcdRegistry(endpoints=[etcd.endpoint], ttl=1)
    observer = EtcdRegistry(endpoints=[etcd.endpoint])
    await owner.register(greeter("g1"))
    watcher = await observer.watch()
    assert owner._heartbeat_task is not None
    owner._heartbeat_task.cancel()  # the owner goes quiet without revoking

    event = await asyncio.wait_for(anext(aiter(watcher)), 5)
    await watcher.stop()
    await observer.close()
    await owner.close()

    assert event.type is EventType.DELETE
    assert event.service.nodes[0].id == "g1"


async def test_stop_ends_iteration(etcd_registry: EtcdRegistry) -> None:
    watcher = await etcd_registry.watch()
    iterating = asyncio.create_task(anext(aiter(watcher), None))
    await asyncio.sleep(0.1)

    await watcher.stop()

    assert await asyncio.wait_for(iterating, 2) is None


async def test_unreachable_etcd_raises_naming_endpoints() -> None:
    registry = EtcdRegistry(
        endpoints=["127.0.0.1:1", "127.0.0.1:2"], dial_timeout=0.5, request_timeout=0.5
    )

    with pytest.raises(RegistryError, match=r"127\.0\.0\.1:1.*127\.0\.0\.1:2"):
        await registry.get_service("greeter")
    with pytest.raises(RegistryError):
        await registry.watch()
    with pytest.raises(RegistryError):
        await registry.register(greeter("g1"))
    await registry.close()  # the heartbeat retrying in the background ends quietly


def test_from_address_splits_endpoints() -> None:
    registry = EtcdRegistry.from_address(
        "127.0.0.1:2379, http://127.0.0.1:22379", ttl=5
    )

    assert registry.endpoints == ("127.0.0.1:2379", "127.0.0.1:22379")
    assert registry.options.ttl == 5


@pytest.mark.parametrize(
    "options",
    [
        {"endpoints": []},
        {"endpoints": ["nohost"]},
        {"endpoints": ["ftp://h:1"]},
        {"ttl": 0},
        {"cert": b"x"},
        {"password": "secret"},
        {"ca_cert": "/no/such/ca.pem"},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        EtcdRegistry(**options)  # type: ignore[arg-type]


async def test_register_needs_exactly_one_node(etcd_registry: EtcdRegistry) -> None:
    with pytest.raises(ValueError):
        await etcd_registry.register(Service("greeter"))
