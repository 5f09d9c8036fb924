"""Proto3 JSON both ways, and protobuf bodies passed through."""

from __future__ import annotations

from greeter.v1.greeter_pb2 import HelloReply, HelloRequest
from users.v1.users_pb2 import User

from tests.gateway.conftest import Stack


async def test_proto3_json_form_of_replies(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/v1/users",
        json={
            "displayName": "Ada",
            "role": "ROLE_MEMBER",
            "avatar": "AAE=",
            "labels": {"team": "core"},
        },
    )
    assert status == 200
    assert body == {
        "id": "7",  # 64-bit integers as strings
        "displayName": "Ada",  # lowerCamelCase
        "email": "",  # zero values kept
        "role": "ROLE_MEMBER",  # enums by name
        "tags": [],
        "active": False,
        "labels": {"team": "core", "request_id": ""},
        "avatar": "AAE=",
    }


async def test_snake_case_names_are_accepted(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "PATCH", "/v1/users/1", json={"display_name": "snake", "active": True}
    )
    assert status == 200
    assert (body["displayName"], body["active"]) == ("snake", True)


async def test_enum_by_number_and_int64_from_number(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "PATCH", "/v1/users/9007199254740993", json={"role": 2}
    )
    assert status == 200
    assert (body["id"], body["role"]) == ("9007199254740993", "ROLE_ADMIN")


async def test_protobuf_bodies_pass_through(stack: Stack) -> None:
    for kind in ("application/protobuf", "application/grpc+proto"):
        async with stack.http.post(
            stack.url + "/greeter/hello",
            data=HelloRequest(name="Bytes").SerializeToString(),
            headers={"Content-Type": kind},
        ) as response:
            assert response.status == 200
            assert response.content_type == kind
            raw = await response.read()
        assert HelloReply.FromString(raw).message == "Hello Bytes"


async def test_protobuf_reply_when_accepted(stack: Stack) -> None:
    async with stack.http.get(
        stack.url + "/v1/users/5", headers={"Accept": "application/x-protobuf"}
    ) as response:
        assert response.status == 200
        assert User.FromString(await response.read()).id == 5


async def test_garbage_protobuf_is_400(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/greeter/hello",
        data=b"\xff\xff\xff",
        headers={"Content-Type": "application/protobuf"},
    )
    assert (status, body["code"]) == (400, 3)
