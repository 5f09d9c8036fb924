"""Every routing form reaches the right method with the right fields."""

from __future__ import annotations

import json

from tests.gateway.conftest import Stack, StackFactory


async def test_path_routing_service_name_then_endpoint(stack: Stack) -> None:
    status, body, response = await stack.call(
        "POST", "/greeter/hello", json={"name": "Ada"}
    )
    assert (status, body) == (200, {"message": "Hello Ada"})
    assert response.content_type == "application/json"


async def test_path_routing_three_parts_names_the_endpoint(stack: Stack) -> None:
    # /greeter/greeter/hello: service greeter, endpoint Greeter.Hello.
    status, body, _ = await stack.call(
        "POST", "/greeter/greeter/hello", json={"name": "Bo"}
    )
    assert (status, body) == (200, {"message": "Hello Bo"})
    # /users/users/get: Users.Get, with the body's id.
    status, body, _ = await stack.call("POST", "/users/users/get", json={"id": "5"})
    assert status == 200
    assert body["id"] == "5"


async def test_path_routing_dashes_become_camel_case(stack: Stack) -> None:
    status, body, response = await stack.call(
        "POST", "/greeter/lots-of-replies", json={"name": "x", "count": 2}
    )
    assert status == 200
    assert response.content_type == "application/x-ndjson"
    assert [json.loads(line) for line in body.splitlines()] == [
        {"result": {"message": "x 0"}},
        {"result": {"message": "x 1"}},
    ]


async def test_get_takes_fields_from_the_query(stack: Stack) -> None:
    status, body, _ = await stack.call("GET", "/greeter/hello?name=Query")
    assert (status, body) == (200, {"message": "Hello Query"})


async def test_namespace_prefixes_the_service(make_stack: StackFactory) -> None:
    stack = await make_stack(namespace="acme")
    status, body, _ = await stack.call("POST", "/greeter/hello", json={"name": "A"})
    assert status == 404
    assert body["message"] == "service not found: acme.greeter"


async def test_host_routing(make_stack: StackFactory) -> None:
    stack = await make_stack(host_map={"hello.example": "greeter"})
    headers = {"Host": "hello.example"}
    status, body, _ = await stack.call(
        "POST", "/hello", json={"name": "Host"}, headers=headers
    )
    assert (status, body) == (200, {"message": "Hello Host"})
    status, body, _ = await stack.call(
        "POST",
        "/greeter/hello",
        json={"name": "Two"},
        headers={"Host": "hello.example:80"},
    )
    assert (status, body) == (200, {"message": "Hello Two"})
    # Other hosts still route by path.
    status, body, _ = await stack.call("POST", "/greeter/hello", json={"name": "P"})
    assert (status, body) == (200, {"message": "Hello P"})


async def test_rpc_envelope(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/rpc",
        json={
            "service": "greeter",
            "endpoint": "Greeter.Hello",
            "request": {"name": "R"},
        },
    )
    assert (status, body) == (200, {"message": "Hello R"})
    # The request may also be a JSON string, as Micro's clients sent it.
    status, body, _ = await stack.call(
        "POST",
        "/rpc",
        json={
            "service": "greeter",
            "endpoint": "Greeter.Hello",
            "request": '{"name": "S"}',
        },
    )
    assert (status, body) == (200, {"message": "Hello S"})
    # A client stream takes a list of requests.
    status, body, _ = await stack.call(
        "POST",
        "/rpc",
        json={
            "service": "greeter",
            "endpoint": "Greeter.LotsOfGreetings",
            "request": [{"name": "a"}, {"name": "b"}],
        },
    )
    assert (status, body) == (200, {"message": "a,b"})


async def test_rest_route_with_path_variable_and_query(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "GET", "/v1/users/42?view=full&fields=email&fields=role"
    )
    assert status == 200
    assert body["id"] == "42"
    assert body["displayName"] == "org= view=full"
    assert body["tags"] == ["email", "role"]


async def test_rest_additional_binding(stack: Stack) -> None:
    status, body, _ = await stack.call("GET", "/v1/orgs/acme/users/9")
    assert status == 200
    assert (body["id"], body["displayName"]) == ("9", "org=acme view=")


async def test_rest_body_field_and_query(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/v1/users?request_id=r-1",
        json={"display_name": "Grace", "role": "ROLE_ADMIN", "tags": ["a"]},
    )
    assert status == 200
    assert body["id"] == "7"
    assert body["displayName"] == "Grace"
    assert body["role"] == "ROLE_ADMIN"
    assert body["labels"] == {"request_id": "r-1"}


async def test_rest_nested_path_variable_wins_over_body(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "PATCH", "/v1/users/11", json={"id": "99", "displayName": "New"}
    )
    assert status == 200
    assert (body["id"], body["displayName"]) == ("11", "New")


async def test_rest_whole_body_and_verb(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST", "/v1/users/3:rename", json={"displayName": "Renamed"}
    )
    assert status == 200
    assert (body["id"], body["displayName"]) == ("3", "Renamed")


async def test_rest_delete_and_server_stream(stack: Stack) -> None:
    status, body, _ = await stack.call("DELETE", "/v1/users/1")
    assert (status, body) == (200, {"deleted": True})
    status, body, _ = await stack.call("GET", "/v1/users?prefix=u&limit=2")
    assert status == 200
    lines = [json.loads(line)["result"] for line in body.splitlines()]
    assert [(u["id"], u["displayName"]) for u in lines] == [("1", "u1"), ("2", "u2")]


async def test_rest_wrong_method_is_405(stack: Stack) -> None:
    status, body, response = await stack.call("PUT", "/v1/users/1")
    assert status == 405
    assert "DELETE" in response.headers["Allow"]
    assert set(body) == {"code", "message", "details"}
