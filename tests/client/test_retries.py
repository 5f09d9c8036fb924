"""Retries, outlier ejection and stream retries against real servers.

A dead node is a registered address whose port nothing listens on: calls
to it fail at once with UNAVAILABLE, as calls to a crashed process do.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest, LotsOfRepliesRequest

from micro_grpc import Client, Context, Service
from micro_grpc.client.client import NO_RETRY, RetryPolicy
from micro_grpc.errors import ConfigError, NotFound, Unavailable
from micro_grpc.middleware.log import CallLog
from micro_grpc.registry import Node
from micro_grpc.registry import Service as Record
from micro_grpc.registry.memory import MemoryRegistry
from tests.conftest import ProbeGreeter


class FlakyGreeter(ProbeGreeter):
    """`unavailable` answers UNAVAILABLE; a stream named `cut` fails after
    its first reply."""

    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        if request.name == "unavailable":
            self.calls += 1
            raise Unavailable("the database is down")
        return await super().hello(request, context)

    async def lots_of_replies(
        self, request: LotsOfRepliesRequest, context: Context
    ) -> AsyncIterator[HelloReply]:
        self.calls += 1
        yield HelloReply(message=f"{request.name} 0")
        if request.name == "cut":
            raise Unavailable("cut off")
        for i in range(1, request.count):
            yield HelloReply(message=f"{request.name} {i}")


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


async def _register_dead(registry: MemoryRegistry, address: str) -> None:
    node = Node(id=f"dead-{address}", address=address)
    await registry.register(Record(name="greeter", version="1.0.0", nodes=(node,)))


@pytest.fixture
async def live(registry: MemoryRegistry) -> AsyncIterator[FlakyGreeter]:
    impl = FlakyGreeter()
    service = Service("greeter", registry=registry, version="1.0.0")
    service.handle(impl)
    async with service:
        yield impl


async def test_unavailable_is_retried_on_another_node_and_logged(
    registry: MemoryRegistry, live: FlakyGreeter, caplog: pytest.LogCaptureFixture
) -> None:
    dead = _dead_address()
    await _register_dead(registry, dead)
    caplog.set_level(logging.INFO, logger="micro_grpc.calls")
    async with Client(
        registry, selector="round_robin", middleware=[CallLog()]
    ) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(20):
            reply = await greeter.hello(HelloRequest(name="Ada"), timeout=5)
            assert reply.message == "Hello Ada"
    lines = [r.getMessage() for r in caplog.records if r.name == "micro_grpc.calls"]
    failed = [line for line in lines if f"node={dead}" in line]
    assert failed and all("status=UNAVAILABLE attempt" not in f for f in failed)
    assert all("status=UNAVAILABLE" in line and "attempt=1" in line for line in failed)
    assert any("attempt=2 status=OK" in line for line in lines)
    # Three failures in a row eject the dead node: no fourth call goes there.
    assert len(failed) == 3
    assert live.calls == 20


async def test_other_statuses_are_not_retried_unless_asked(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        with pytest.raises(NotFound):
            await greeter.hello(HelloRequest(name="missing"))
        assert live.calls == 1
        policy = RetryPolicy(codes=frozenset({grpc.StatusCode.NOT_FOUND}), backoff=0)
        with pytest.raises(NotFound):
            await greeter.hello(HelloRequest(name="missing"), retry=policy)
        # One node only: the retries go back to it.
        assert live.calls == 4


async def test_no_retry_gives_up_after_one_attempt(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        with pytest.raises(Unavailable, match="the database is down"):
            await greeter.hello(HelloRequest(name="unavailable"), retry=NO_RETRY)
        assert live.calls == 1
        with pytest.raises(Unavailable):
            await greeter.hello(HelloRequest(name="unavailable"))
        assert live.calls == 1 + 3


async def test_retries_stay_inside_the_deadline(registry: MemoryRegistry) -> None:
    await _register_dead(registry, _dead_address())
    policy = RetryPolicy(attempts=1000, backoff=0.05, max_backoff=0.05, jitter=0)
    async with Client(registry, retry=policy, ejection=None) as client:
        greeter = GreeterClient(client, "greeter")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            await greeter.hello(HelloRequest(name="x"), timeout=0.3)
        assert time.monotonic() - started < 0.4


async def test_backoff_grows_with_jitter_and_settings_are_checked() -> None:
    policy = RetryPolicy(backoff=0.1, max_backoff=0.35, multiplier=2, jitter=0.5)
    for retry, full in ((1, 0.1), (2, 0.2), (3, 0.35), (9, 0.35)):
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full / 4
    with pytest.raises(ConfigError):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(jitter=2)


async def test_server_streams_are_retried_before_their_first_reply(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    await _register_dead(registry, _dead_address())
    async with Client(registry, selector="round_robin", ejection=None) as client:
        greeter = GreeterClient(client, "greeter")
        for _ in range(6):
            async with greeter.lots_of_replies(
                LotsOfRepliesRequest(name="s", count=3), timeout=5
            ) as stream:
                assert [r.message async for r in stream] == ["s 0", "s 1", "s 2"]
        assert live.calls == 6


async def test_client_and_bidi_streams_are_retried_before_their_first_send(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    await _register_dead(registry, _dead_address())
    async with Client(registry, selector="round_robin", ejection=None) as client:
        greeter = GreeterClient(client, "greeter")
        for i in range(4):
            async with greeter.bidi_hello(timeout=5) as chat:
                await chat.send(HelloRequest(name=f"b{i}"))
                reply = await chat.recv()
                assert reply is not None and reply.message == f"Hello b{i}"
                await chat.done_writing()
                assert await chat.recv() is None
            async with greeter.lots_of_greetings(timeout=5) as upload:
                await upload.send(HelloRequest(name="x"))
                await upload.send(HelloRequest(name="y"))
                assert (await upload.recv()).message == "x,y"
            # Nothing sent before the end: the reply's failure is retried,
            # and the end of writing repeated on the new call.
            async with greeter.lots_of_greetings(timeout=5) as empty:
                assert (await empty.recv()).message == ""


async def test_a_stream_is_not_retried_once_a_reply_has_come(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        async with greeter.lots_of_replies(LotsOfRepliesRequest(name="cut")) as stream:
            first = await stream.recv()
            assert first is not None and first.message == "cut 0"
            with pytest.raises(Unavailable, match="cut off"):
                await stream.recv()
        assert live.calls == 1


async def test_many_concurrent_calls_survive_a_dead_node(
    registry: MemoryRegistry, live: FlakyGreeter
) -> None:
    await _register_dead(registry, _dead_address())
    async with Client(registry) as client:
        greeter = GreeterClient(client, "greeter")
        replies = await asyncio.gather(
            *(greeter.hello(HelloRequest(name=str(i)), timeout=5) for i in range(200))
        )
        assert [r.message for r in replies] == [f"Hello {i}" for i in range(200)]
