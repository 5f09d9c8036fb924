"""Calling a service by endpoint name, with messages learnt by reflection."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from greeter.v1 import greeter_pb2

from micro_grpc import Service
from micro_grpc.client.dynamic import DynamicMethods
from micro_grpc.errors import NotFound, ServiceNotFound
from micro_grpc.methods import Cardinality


async def test_unary_call_from_json(greeter_service: Service) -> None:
    methods = DynamicMethods(greeter_service.client)
    spec = await methods.method("greeter", "Greeter.Hello")
    assert spec.path == "/greeter.v1.Greeter/Hello"
    assert spec.cardinality is Cardinality.UNARY_UNARY
    # Classes built from the node's descriptors, not the generated module.
    assert spec.request is not greeter_pb2.HelloRequest
    request = json_format.Parse('{"name": "Ada"}', spec.request())
    reply = await greeter_service.client.unary("greeter", spec, request)
    assert json_format.MessageToDict(reply) == {"message": "Hello Ada"}


async def test_streaming_shapes_are_known(greeter_service: Service) -> None:
    methods = DynamicMethods(greeter_service.client)
    replies = await methods.method("greeter", "Greeter.LotsOfReplies")
    assert replies.cardinality is Cardinality.UNARY_STREAM
    request = json_format.Parse('{"name": "x", "count": 2}', replies.request())
    stream = greeter_service.client.server_stream("greeter", replies, request)
    assert [json_format.MessageToDict(r) async for r in stream] == [
        {"message": "x 0"},
        {"message": "x 1"},
    ]
    bidi = await methods.method("greeter", "Greeter.BidiHello")
    assert bidi.cardinality is Cardinality.STREAM_STREAM


async def test_unknown_endpoint_lists_what_there_is(greeter_service: Service) -> None:
    methods = DynamicMethods(greeter_service.client)
    with pytest.raises(NotFound) as caught:
        await methods.method("greeter", "Greeter.Goodbye")
    assert "endpoint Greeter.Goodbye not found in service greeter" in str(caught.value)
    assert "Greeter.Hello" in str(caught.value)


async def test_unknown_service(greeter_service: Service) -> None:
    methods = DynamicMethods(greeter_service.client)
    with pytest.raises(ServiceNotFound, match="service not found: nobody"):
        await methods.method("nobody", "Greeter.Hello")


async def test_service_descriptors(greeter_service: Service) -> None:
    methods = DynamicMethods(greeter_service.client)
    (described,) = await methods.service_descriptors("greeter")
    assert described.full_name == "greeter.v1.Greeter"
    assert [m.name for m in described.methods][:1] == ["Hello"]
