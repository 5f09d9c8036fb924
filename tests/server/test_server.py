"""The server's duties beyond the handlers: health, reflection, drain, ports."""

from __future__ import annotations

import asyncio
import socket

import grpc
import pytest
from google.protobuf import descriptor_pool
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from micro_grpc import ConfigError, Service
from micro_grpc.errors import Unavailable
from micro_grpc.registry.memory import MemoryRegistry
from tests.conftest import ProbeGreeter

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _health(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        return int(reply.status)


async def test_health_answers_serving(greeter_service: Service) -> None:
    assert await _health(greeter_service.address) == SERVING
    assert await _health(greeter_service.address, "greeter.v1.Greeter") == SERVING


async def test_health_follows_set_serving(greeter_service: Service) -> None:
    await greeter_service.server.set_serving(False)
    assert await _health(greeter_service.address) == NOT_SERVING
    await greeter_service.server.set_serving(True)
    assert await _health(greeter_service.address) == SERVING


async def test_reflection_lists_and_describes(greeter_service: Service) -> None:
    async with grpc.aio.insecure_channel(greeter_service.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        requests = [
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="greeter.v1.Greeter"
            ),
        ]
        replies = [r async for r in stub.ServerReflectionInfo(iter(requests))]
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"greeter.v1.Greeter", "grpc.health.v1.Health"} <= names
    pool = descriptor_pool.DescriptorPool()
    from google.protobuf import descriptor_pb2

    for raw in replies[1].file_descriptor_response.file_descriptor_proto:
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(raw))
    service = pool.FindServiceByName("greeter.v1.Greeter")
    assert [m.name for m in service.methods] == [
        "Hello",
        "LotsOfReplies",
        "LotsOfGreetings",
        "BidiHello",
    ]


async def test_registration_advertises_endpoints(
    greeter_service: Service, registry: MemoryRegistry
) -> None:
    (record,) = await registry.get_service("greeter")
    assert record.version == "1.0.0"
    assert [n.address for n in record.nodes] == [greeter_service.address]
    assert record.nodes[0].metadata["secure"] == "false"
    endpoints = {e.name: e for e in record.endpoints}
    assert set(endpoints) == {
        "Greeter.Hello",
        "Greeter.LotsOfReplies",
        "Greeter.LotsOfGreetings",
        "Greeter.BidiHello",
    }
    bidi = endpoints["Greeter.BidiHello"]
    assert bidi.metadata["client_stream"] == bidi.metadata["server_stream"] == "true"
    assert endpoints["Greeter.Hello"].metadata["path"] == "/greeter.v1.Greeter/Hello"
    request = endpoints["Greeter.LotsOfReplies"].request
    assert request is not None
    assert [(v.name, v.type) for v in request.values] == [
        ("name", "string"),
        ("count", "int32"),
    ]


async def test_drain_finishes_calls_in_flight_and_refuses_new_ones(
    registry: MemoryRegistry,
) -> None:
    impl = ProbeGreeter()
    service = Service("greeter", registry=registry, grace=5.0)
    service.handle(impl)
    await service.start()
    address = service.address
    greeter = GreeterClient(service.client, "greeter")

    async with grpc.aio.insecure_channel(address):
        in_flight = asyncio.create_task(
            greeter.hello(HelloRequest(name="sleep:0.6"), address=address)
        )
        await asyncio.wait_for(impl.started.wait(), 2.0)
        stopping = asyncio.create_task(service.stop())
        await asyncio.sleep(0.1)

        # Deregistered before draining: nothing routes here any more.
        assert await registry.list_services() == []
        async with grpc.aio.insecure_channel(address) as fresh:
            stub = fresh.unary_unary(
                "/greeter.v1.Greeter/Hello",
                request_serializer=HelloRequest.SerializeToString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub(HelloRequest(name="late"), timeout=1.0)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

        reply = await in_flight
        assert reply.message == "Hello sleep:0.6"
        await stopping


async def test_a_port_already_served_is_refused(greeter_service: Service) -> None:
    taken = greeter_service.address
    second = Service("greeter", registry=MemoryRegistry(), address=taken)
    second.handle(ProbeGreeter())
    with pytest.raises(ConfigError, match=f"cannot listen on {taken}"):
        await second.start()


async def test_a_port_held_by_another_socket_is_refused() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = Service("x", registry=MemoryRegistry(), address=f"127.0.0.1:{port}")
        service.handle(ProbeGreeter())
        with pytest.raises(ConfigError, match="in use"):
            await service.start()


async def test_calls_to_a_stopped_node_are_unavailable(
    registry: MemoryRegistry,
) -> None:
    service = Service("greeter", registry=registry)
    service.handle(ProbeGreeter())
    await service.start()
    address = service.address
    await service.stop()
    async with Service("caller", registry=registry) as caller:
        with pytest.raises(Unavailable):
            await GreeterClient(caller.client, "greeter").hello(
                HelloRequest(name="x"), address=address, timeout=2.0
            )


def test_handle_rejects_what_is_not_generated() -> None:
    service = Service("x", registry=MemoryRegistry())
    with pytest.raises(ConfigError, match="not a generated service"):
        service.handle(object())
