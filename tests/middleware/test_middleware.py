"""Client and server middleware on real servers: order, log, limits, metadata."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable
from typing import Any

import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from micro_grpc import Client, Service
from micro_grpc.errors import NotFound, ResourceExhausted, Unavailable
from micro_grpc.middleware import (
    Call,
    ClientCall,
    ClientMiddleware,
    Next,
    ServerCall,
    ServerMiddleware,
)
from micro_grpc.middleware.breaker import BreakerOpen, CircuitBreaker, State
from micro_grpc.middleware.log import CallLog
from micro_grpc.middleware.metadata import InjectMetadata
from micro_grpc.middleware.ratelimit import RateLimited, RateLimiter
from micro_grpc.registry.memory import MemoryRegistry
from tests.client.test_retries import FlakyGreeter

HELLO = "/greeter.v1.Greeter/Hello"


class Recorder:
    """Middleware that notes when it is entered and when the call ends."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def __call__(self, call: Any, proceed: Next[Any]) -> Awaitable[Any]:
        self.events.append(f"{call.side} {self.name} in")
        call.add_done_callback(
            lambda c: self.events.append(
                f"{c.side} {self.name} done {c.error.code.name if c.error else 'OK'}"
            )
        )
        return proceed(call)


async def _serve(
    registry: MemoryRegistry, middleware: list[ServerMiddleware]
) -> Service:
    service = Service("greeter", registry=registry, server_middleware=middleware)
    service.handle(FlakyGreeter())
    await service.start()
    return service


@pytest.mark.parametrize("shape", ["unary", "bidi"])
async def test_middleware_runs_in_list_order_on_both_sides(
    registry: MemoryRegistry, shape: str
) -> None:
    events: list[str] = []
    server_side: list[ServerMiddleware] = [Recorder(n, events) for n in "ABC"]
    client_side: list[ClientMiddleware] = [Recorder(n, events) for n in "xyz"]
    service = await _serve(registry, server_side)
    try:
        async with Client(registry, middleware=client_side) as client:
            greeter = GreeterClient(client, "greeter")
            if shape == "unary":
                await greeter.hello(HelloRequest(name="Ada"))
            else:
                async with greeter.bidi_hello() as chat:
                    await chat.send(HelloRequest(name="Ada"))
                    assert await chat.recv() is not None
                    await chat.done_writing()
                    assert await chat.recv() is None
    finally:
        await service.stop(0)

    entered = [e for e in events if e.endswith(" in")]
    assert entered == [
        "client x in",
        "client y in",
        "client z in",
        "server A in",
        "server B in",
        "server C in",
    ]
    done = [e for e in events if " done " in e]
    assert sorted(done) == sorted(
        [f"client {n} done OK" for n in "xyz"] + [f"server {n} done OK" for n in "ABC"]
    )


async def test_server_middleware_sees_the_call_and_can_refuse_it(
    registry: MemoryRegistry,
) -> None:
    seen: list[tuple[str, str, str]] = []

    async def guard(call: ServerCall, proceed: Next[ServerCall]) -> Any:
        seen.append((call.service, call.method.endpoint, str(call.metadata.get("who"))))
        if call.metadata.get("who") == "mallory":
            raise NotFound("go away")
        return await proceed(call)

    service = await _serve(registry, [guard])
    try:
        async with Client(registry) as client:
            greeter = GreeterClient(client, "greeter")
            await greeter.hello(HelloRequest(name="x"), metadata={"who": "alice"})
            with pytest.raises(NotFound, match="go away"):
                await greeter.hello(HelloRequest(name="x"), metadata={"who": "mallory"})
    finally:
        await service.stop(0)
    assert seen == [
        ("greeter", "Greeter.Hello", "alice"),
        ("greeter", "Greeter.Hello", "mallory"),
    ]


async def test_call_log_writes_one_line_per_call_on_each_side(
    registry: MemoryRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="micro_grpc.calls")
    service = await _serve(registry, [CallLog()])
    try:
        async with Client(registry, middleware=[CallLog()]) as client:
            greeter = GreeterClient(client, "greeter")
            await greeter.hello(HelloRequest(name="x"))
            with pytest.raises(NotFound):
                await greeter.hello(HelloRequest(name="missing"))
    finally:
        await service.stop(0)
    lines = [r.getMessage() for r in caplog.records if r.name == "micro_grpc.calls"]
    client_lines = [line for line in lines if line.startswith("client ")]
    server_lines = [line for line in lines if line.startswith("server ")]
    assert len(client_lines) == 2 and len(server_lines) == 2
    assert f"node={service.address} attempt=1 status=OK" in client_lines[0]
    assert "service=greeter method=Greeter.Hello" in client_lines[0]
    assert "status=NOT_FOUND duration_ms=" in client_lines[1]
    assert "peer=ipv4:127.0.0.1:" in server_lines[0]
    record = next(r for r in caplog.records if r.name == "micro_grpc.calls")
    assert record.call["status"] == "OK"  # type: ignore[attr-defined]


async def test_breaker_opens_fails_fast_then_recovers_through_half_open(
    registry: MemoryRegistry,
) -> None:
    breaker = CircuitBreaker(failures=3, cooldown=0.2)
    service = Service("greeter", registry=registry)
    impl = FlakyGreeter()
    service.handle(impl)
    async with service, Client(registry, middleware=[breaker]) as client:
        greeter = GreeterClient(client, "greeter")
        # One call, three attempts (retries on UNAVAILABLE): three failures.
        with pytest.raises(Unavailable):
            await greeter.hello(HelloRequest(name="unavailable"))
        assert breaker.state("greeter", HELLO) is State.OPEN
        calls = impl.calls
        with pytest.raises(
            BreakerOpen, match=f"circuit breaker greeter {HELLO} is open"
        ):
            await greeter.hello(HelloRequest(name="x"))
        assert impl.calls == calls

        # Half-open: a failing trial opens it again at once.
        time.sleep(0.21)
        assert breaker.state("greeter", HELLO) is State.HALF_OPEN
        with pytest.raises(Unavailable):
            await greeter.hello(HelloRequest(name="unavailable"))
        assert breaker.state("greeter", HELLO) is State.OPEN

        # A succeeding trial closes it.
        time.sleep(0.21)
        await greeter.hello(HelloRequest(name="x"))
        assert breaker.state("greeter", HELLO) is State.CLOSED
        # Other statuses are answers, not failures.
        for _ in range(5):
            with pytest.raises(NotFound):
                await greeter.hello(HelloRequest(name="missing"))
        assert breaker.state("greeter", HELLO) is State.CLOSED


async def test_client_rate_limit_fails_fast_or_waits(
    greeter_service: Service, registry: MemoryRegistry
) -> None:
    strict = RateLimiter(10, burst=2)
    async with Client(registry, middleware=[strict]) as client:
        greeter = GreeterClient(client, "greeter")
        await greeter.hello(HelloRequest(name="a"))
        await greeter.hello(HelloRequest(name="b"))
        with pytest.raises(RateLimited, match="client rate limit of 10 calls/s"):
            await greeter.hello(HelloRequest(name="c"))
        assert isinstance(RateLimited("x"), ResourceExhausted)

    patient = RateLimiter(50, burst=1, wait=True)
    async with Client(registry, middleware=[patient]) as client:
        greeter = GreeterClient(client, "greeter")
        started = time.monotonic()
        for _ in range(11):
            await greeter.hello(HelloRequest(name="a"), timeout=5)
        # The first passes at once, the next ten 20 ms apart.
        assert time.monotonic() - started >= 0.19
        # A wait longer than the call's deadline is refused at once.
        for _ in range(5):
            await greeter.hello(HelloRequest(name="a"))
        with pytest.raises(RateLimited):
            await greeter.hello(HelloRequest(name="a"), timeout=0.001)


async def test_injected_metadata_reaches_the_server(
    greeter_service: Service, registry: MemoryRegistry
) -> None:
    tokens = itertools.count(1)
    inject = InjectMetadata({"x-team": "blue", "x-token": lambda: f"t{next(tokens)}"})
    async with Client(registry, middleware=[inject]) as client:
        greeter = GreeterClient(client, "greeter")
        assert (await greeter.hello(HelloRequest(name="meta:x-team"))).message == "blue"
        assert (await greeter.hello(HelloRequest(name="meta:x-token"))).message == "t2"
        mine = await greeter.hello(
            HelloRequest(name="meta:x-team"), metadata={"x-team": "red"}
        )
        assert mine.message == "red"


def _typed(middleware: ClientMiddleware) -> ClientMiddleware:
    return middleware


def test_builtins_fit_the_interfaces() -> None:
    # Checked by mypy: generic middleware fits both sides.
    _typed(CallLog())
    _typed(RateLimiter(5))
    _typed(CircuitBreaker())
    _typed(InjectMetadata({}))
    server_side: list[ServerMiddleware] = [CallLog(), RateLimiter(5)]
    assert len(server_side) == 2
    assert isinstance(ClientCall, type) and issubclass(ServerCall, Call)
