"""Routing and resilience end to end: real servers, a real etcd.

- steady load while one node is SIGKILLed and another restarted (SIGTERM):
  no call fails, and the retries show in the call log;
- a failing dependency opens the circuit breaker, which fails fast and
  closes once the dependency recovers;
- a server-side rate limit holds for 5 s and refuses the excess;
- a deadline shrinks along a chain of three calls and ends it in time;
- a node that sets itself NOT_SERVING stops getting calls, then gets them
  again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from micro_grpc import Client, Context, Service
from micro_grpc.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from micro_grpc.middleware.breaker import BreakerOpen, CircuitBreaker, State
from micro_grpc.middleware.log import CallLog
from micro_grpc.middleware.ratelimit import RateLimiter
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess, ServiceProcess, eventually
from tests.conftest import ProbeGreeter

TTL = 2


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess(name="resilience-tests") as process:
        yield process


@pytest.fixture
async def registry(etcd: EtcdProcess) -> AsyncIterator[EtcdRegistry]:
    """The caller's registry (the name shadows the memory one on purpose)."""
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
    yield registry
    await registry.close()


async def _nodes(client: Client, service: str) -> list[str]:
    try:
        records = await client.lookup(service)
    except Exception:
        return []
    return [n.address for r in records for n in r.nodes]


async def test_a_killed_and_a_restarted_node_cost_the_callers_nothing(
    etcd: EtcdProcess, registry: EtcdRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="micro_grpc.calls")
    env = {
        "MICRO_REGISTRY": "etcd",
        "MICRO_REGISTRY_ADDRESS": etcd.endpoint,
        "MICRO_REGISTER_TTL": str(TTL),
        "MICRO_SERVER_GRACE": "5",
    }
    servers = [ServiceProcess("examples.greeter.server", env=env) for _ in range(3)]
    await asyncio.gather(*(s.start() for s in servers))
    restarted = ServiceProcess("examples.greeter.server", env=env)
    try:
        async with Client(registry, middleware=[CallLog()]) as client:
            greeter = GreeterClient(client, "greeter")
            await eventually(
                lambda: _count(client, 3), timeout=10, what="three greeters"
            )
            ok = 0
            failures: list[BaseException] = []
            running = True

            async def load() -> None:
                nonlocal ok
                while running:
                    try:
                        await greeter.hello(HelloRequest(name="load"), timeout=5)
                        ok += 1
                    except Exception as exc:
                        failures.append(exc)
                    await asyncio.sleep(0.01)

            workers = [asyncio.create_task(load()) for _ in range(4)]
            await asyncio.sleep(1.5)
            await servers[0].kill()
            await asyncio.sleep(1.0)
            assert await servers[1].terminate() == 0
            await restarted.start()
            await eventually(
                lambda: _served_by(caplog, restarted.address),
                timeout=10,
                what="calls reaching the restarted node",
            )
            await asyncio.sleep(1.0)
            running = False
            await asyncio.gather(*workers)
    finally:
        for server in (*servers, restarted):
            await server.kill()

    assert failures == []
    assert ok > 400
    lines = [r.getMessage() for r in caplog.records if r.name == "micro_grpc.calls"]
    killed = f"node={servers[0].address}"
    assert any(killed in line and "status=UNAVAILABLE" in line for line in lines)
    assert any("attempt=2 status=OK" in line for line in lines)


async def _count(client: Client, wanted: int) -> bool:
    return len(await _nodes(client, "greeter")) == wanted


def _served_by(caplog: pytest.LogCaptureFixture, address: str) -> bool:
    return any(
        f"node={address}" in r.getMessage() and "status=OK" in r.getMessage()
        for r in caplog.records
        if r.name == "micro_grpc.calls"
    )


class Store(ProbeGreeter):
    """A dependency that answers UNAVAILABLE while `down` is set."""

    down = False

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        self.calls += 1
        if self.down:
            raise Unavailable("the database is down")
        return HelloReply(message="stored")


async def test_a_failing_dependency_opens_the_breaker_until_it_recovers(
    etcd: EtcdProcess, registry: EtcdRegistry
) -> None:
    store = Store()
    service = Service(
        "store", registry=EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
    )
    service.handle(store)
    breaker = CircuitBreaker(failures=5, cooldown=0.5)
    path = "/greeter.v1.Greeter/Hello"
    async with service, Client(registry, middleware=[breaker]) as client:
        greeter = GreeterClient(client, "store")
        await greeter.hello(HelloRequest(name="x"))

        store.down = True
        failures = 0
        while breaker.state("store", path) is State.CLOSED:
            with pytest.raises(Unavailable):
                await greeter.hello(HelloRequest(name="x"))
            failures += 1
        # Five failed attempts open it: two calls of up to three attempts,
        # the sixth attempt refused by the breaker itself.
        assert failures == 2 and store.calls == 1 + 5

        # Open: calls fail at once, name the breaker, reach nobody.
        started = time.monotonic()
        for _ in range(50):
            with pytest.raises(BreakerOpen, match=f"breaker store {path} is open"):
                await greeter.hello(HelloRequest(name="x"))
        assert time.monotonic() - started < 0.25
        assert store.calls == 6

        store.down = False
        await asyncio.sleep(0.5)
        reply = await greeter.hello(HelloRequest(name="x"))
        assert reply.message == "stored"
        assert breaker.state("store", path) is State.CLOSED


async def test_a_server_rate_limit_holds_for_five_seconds(
    etcd: EtcdProcess, registry: EtcdRegistry
) -> None:
    rate = 100
    service = Service(
        "limited",
        registry=EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL),
        server_middleware=[RateLimiter(rate)],
    )
    service.handle(ProbeGreeter())
    async with service, Client(registry) as client:
        greeter = GreeterClient(client, "limited")
        ok = refused = 0
        other: list[BaseException] = []
        end = time.monotonic() + 5.0

        async def offer() -> None:
            nonlocal ok, refused
            while time.monotonic() < end:
                try:
                    await greeter.hello(HelloRequest(name="x"), timeout=5)
                    ok += 1
                except ResourceExhausted as exc:
                    assert "rate limit of 100 calls/s" in exc.message
                    refused += 1
                except Exception as exc:
                    other.append(exc)
                await asyncio.sleep(0.004)

        await asyncio.gather(*(offer() for _ in range(3)))
    assert other == []
    # 5 s at 100/s plus the burst of 10, within 10 %.
    assert 0.9 * rate * 5 <= ok <= 1.1 * rate * 5, ok
    assert refused > ok


class Relay(ProbeGreeter):
    """Calls the next hop with no timeout of its own; the last one waits."""

    def __init__(self, client: Client, next_hop: str, seen: dict[str, float]) -> None:
        super().__init__()
        self.client = client
        self.next_hop = next_hop
        self.seen = seen

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        remaining = context.time_remaining()
        assert remaining is not None
        self.seen[request.name] = remaining
        if not self.next_hop:
            await asyncio.sleep(5)
            return HelloReply(message="too late")
        greeter = GreeterClient(self.client, self.next_hop)
        return await greeter.hello(HelloRequest(name=self.next_hop))


async def test_a_deadline_shrinks_along_a_chain_and_ends_it(
    etcd: EtcdProcess, registry: EtcdRegistry
) -> None:
    seen: dict[str, float] = {}
    hops = []
    for name, next_hop in (("hop1", "hop2"), ("hop2", "hop3"), ("hop3", "")):
        service = Service(
            name, registry=EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
        )
        service.handle(Relay(service.client, next_hop, seen))
        await service.start()
        hops.append(service)
    try:
        async with Client(registry) as client:
            greeter = GreeterClient(client, "hop1")
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                await greeter.hello(HelloRequest(name="hop1"), timeout=0.3)
            elapsed = time.monotonic() - started
    finally:
        for service in hops:
            await service.stop(0)
    assert elapsed < 0.6
    assert set(seen) == {"hop1", "hop2", "hop3"}
    assert 0.3 > seen["hop1"] > seen["hop2"] > seen["hop3"] > 0


async def test_a_node_not_serving_is_skipped_until_it_serves_again(
    etcd: EtcdProcess, registry: EtcdRegistry
) -> None:
    impls = [ProbeGreeter() for _ in range(3)]
    services = []
    for impl in impls:
        service = Service(
            "greeter", registry=EtcdRegistry(endpoints=[etcd.endpoint], ttl=TTL)
        )
        service.handle(impl)
        await service.start()
        services.append(service)
    sick = services[1]
    try:
        async with Client(registry) as client:
            greeter = GreeterClient(client, "greeter")
            await eventually(lambda: _count(client, 3), what="three greeters")

            await sick.set_serving(False)
            async with grpc.aio.insecure_channel(sick.address) as channel:
                health = health_pb2_grpc.HealthStub(channel)
                answer = await health.Check(health_pb2.HealthCheckRequest())
                assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
            # The cache learns it through the registry watch.
            took = await eventually(
                lambda: _avoided(greeter, impls[1]),
                timeout=1.0,
                what="the not-serving node skipped",
            )
            assert took < 1.0
            before = impls[1].calls
            for _ in range(300):
                await greeter.hello(HelloRequest(name="x"))
            assert impls[1].calls == before
            assert sick.address in await _nodes(client, "greeter")  # registered

            await sick.set_serving(True)
            await eventually(
                lambda: _reached(greeter, impls[1]),
                timeout=1.0,
                what="the node serving again",
            )
            for _ in range(300):
                await greeter.hello(HelloRequest(name="x"))
            assert impls[1].calls > before + 50
    finally:
        for service in services:
            await service.stop(0)


async def _avoided(greeter: GreeterClient, impl: ProbeGreeter) -> bool:
    """True if 45 calls in a row went past `impl`.

    With three nodes chosen at random that happens by chance once in
    (3/2) ** 45, about 10 ** 8, tries.
    """
    before = impl.calls
    for _ in range(45):
        await greeter.hello(HelloRequest(name="x"))
    return impl.calls == before


async def _reached(greeter: GreeterClient, impl: ProbeGreeter) -> bool:
    return not await _avoided(greeter, impl)
