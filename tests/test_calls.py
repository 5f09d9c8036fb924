"""All four rpc shapes through the generated client, over real loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest, LotsOfRepliesRequest

from micro_grpc import Client, Service, StatusError
from micro_grpc.errors import DeadlineExceeded, Internal, InvalidArgument, NotFound
from tests.conftest import ProbeGreeter


async def test_unary(greeter: GreeterClient) -> None:
    reply = await greeter.hello(HelloRequest(name="Ada"))
    assert reply.message == "Hello Ada"


async def test_server_streaming(greeter: GreeterClient) -> None:
    request = LotsOfRepliesRequest(name="n", count=4)
    async with greeter.lots_of_replies(request) as stream:
        got = [reply.message async for reply in stream]
    assert got == ["n 0", "n 1", "n 2", "n 3"]


async def test_server_streaming_without_context_manager(greeter: GreeterClient) -> None:
    stream = greeter.lots_of_replies(LotsOfRepliesRequest(name="m", count=2))
    assert [r.message async for r in stream] == ["m 0", "m 1"]


async def test_client_streaming(greeter: GreeterClient) -> None:
    async with greeter.lots_of_greetings() as stream:
        for name in ("a", "b", "c"):
            await stream.send(HelloRequest(name=name))
        reply = await stream.recv()
    assert reply.message == "a,b,c"


async def test_bidirectional(greeter: GreeterClient) -> None:
    async with greeter.bidi_hello() as stream:
        for name in ("x", "y"):
            await stream.send(HelloRequest(name=name))
            reply = await stream.recv()
            assert reply is not None and reply.message == f"Hello {name}"
        await stream.send(HelloRequest(name="z"))
        await stream.done_writing()
        rest = [r.message async for r in stream]
        assert await stream.recv() is None
    assert rest == ["Hello z"]


async def test_a_bidirectional_stream_failing_midway_ends_with_its_status(
    greeter: GreeterClient,
) -> None:
    async with greeter.bidi_hello() as stream:
        await stream.send(HelloRequest(name="x"))
        assert (await stream.recv()) is not None
        await stream.send(HelloRequest(name="missing"))
        with pytest.raises(NotFound, match="no such greeting"):
            await stream.recv()
        # The stream is over: both ways give its status again.
        with pytest.raises(NotFound):
            await stream.recv()
        with pytest.raises(NotFound):
            await stream.send(HelloRequest(name="y"))


async def test_status_and_message_reach_the_caller(greeter: GreeterClient) -> None:
    with pytest.raises(NotFound) as caught:
        await greeter.hello(HelloRequest(name="missing"))
    assert caught.value.message == "no such greeting"
    with pytest.raises(InvalidArgument, match="name must not be empty"):
        await greeter.hello(HelloRequest(name=""))


async def test_status_error_midway_through_a_stream(greeter: GreeterClient) -> None:
    got: list[str] = []
    with pytest.raises(NotFound, match="ran out at 2"):
        async for reply in greeter.lots_of_replies(
            LotsOfRepliesRequest(name="fail", count=5)
        ):
            got.append(reply.message)
    assert got == ["fail 0", "fail 1"]


async def test_unexpected_exception_is_internal_and_logged(
    greeter: GreeterClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), pytest.raises(Internal) as caught:
        await greeter.hello(HelloRequest(name="boom"))
    assert "secret" not in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert caught.value.message == "internal error"
    failures = [
        r for r in caplog.records if "/greeter.v1.Greeter/Hello" in r.getMessage()
    ]
    assert failures and failures[0].exc_info is not None
    assert "secret detail" in str(failures[0].exc_info[1])


async def test_deadline_exceeded(greeter: GreeterClient) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(DeadlineExceeded):
        await greeter.hello(HelloRequest(name="sleep:2"), timeout=0.2)
    assert loop.time() - start < 1.0


async def test_handler_sees_time_remaining(greeter: GreeterClient) -> None:
    reply = await greeter.hello(HelloRequest(name="deadline"), timeout=3.0)
    # grpc measures the deadline on its own clock; allow it a few ms.
    assert 2.0 < float(reply.message) <= 3.05
    reply = await greeter.hello(HelloRequest(name="deadline"))
    assert reply.message == "None"


async def test_metadata_in_and_trailers_out(greeter: GreeterClient) -> None:
    reply = await greeter.hello(
        HelloRequest(name="meta:x-user"), metadata={"x-user": "ada"}
    )
    assert reply.message == "ada"
    reply = await greeter.hello(
        HelloRequest(name="meta:x-user"), metadata=[("x-user", "grace")]
    )
    assert reply.message == "grace"


async def test_handler_sees_peer(greeter: GreeterClient) -> None:
    reply = await greeter.hello(HelloRequest(name="peer"))
    assert "127.0.0.1" in reply.message


async def test_client_cancels_a_stream(
    greeter: GreeterClient, greeter_impl: ProbeGreeter
) -> None:
    async with greeter.lots_of_replies(
        LotsOfRepliesRequest(name="slow", count=1000)
    ) as stream:
        first = await stream.recv()
        assert first is not None and first.message == "slow 0"
    # Leaving the block cancelled the call; the server's generator sees it.
    await asyncio.wait_for(greeter_impl.stream_cancelled.wait(), 2.0)


async def test_explicit_cancel(
    greeter: GreeterClient, greeter_impl: ProbeGreeter
) -> None:
    stream = greeter.bidi_hello()
    await stream.send(HelloRequest(name="a"))
    assert (await stream.recv()) is not None
    assert stream.cancel() is True
    with pytest.raises(StatusError) as caught:
        await stream.recv()
    assert caught.value.code.name == "CANCELLED"


async def test_fixed_address_without_registry(greeter_service: Service) -> None:
    async with Client() as client:
        greeter = GreeterClient(client, "greeter")
        reply = await greeter.hello(
            HelloRequest(name="Ada"), address=greeter_service.address
        )
    assert reply.message == "Hello Ada"


async def test_client_without_registry_says_how_to_call(
    greeter_service: Service,
) -> None:
    async with Client() as client:
        with pytest.raises(Exception, match="no registry; pass address="):
            await GreeterClient(client, "greeter").hello(HelloRequest(name="x"))


async def test_unknown_service_is_service_not_found(
    greeter: GreeterClient, greeter_service: Service
) -> None:
    other = GreeterClient(greeter_service.client, "nobody")
    with pytest.raises(NotFound, match="service not found: nobody"):
        await other.hello(HelloRequest(name="x"))
