"""gRPC statuses become the HTTP statuses people expect, with a JSON body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.gateway.conftest import Stack, StackFactory

EXPECTED = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "ALREADY_EXISTS": 500,
    "INTERNAL": 500,
}

CODES = {
    "INVALID_ARGUMENT": 3,
    "UNAUTHENTICATED": 16,
    "PERMISSION_DENIED": 7,
    "NOT_FOUND": 5,
    "RESOURCE_EXHAUSTED": 8,
    "UNAVAILABLE": 14,
    "DEADLINE_EXCEEDED": 4,
    "ALREADY_EXISTS": 6,
    "INTERNAL": 13,
}


async def test_each_status_maps_to_its_http_status(stack: Stack) -> None:
    for name, http in EXPECTED.items():
        status, body, response = await stack.call(
            "POST", "/users/users/fail", json={"code": name, "message": f"m-{name}"}
        )
        assert status == http, name
        assert response.content_type == "application/json"
        assert body == {"code": CODES[name], "message": f"m-{name}", "details": []}


async def test_a_handler_crash_is_500_without_detail(stack: Stack) -> None:
    status, body, _ = await stack.call("POST", "/greeter/hello", json={"name": "boom"})
    assert (status, body["code"], body["message"]) == (500, 13, "internal error")


async def test_real_deadline_becomes_504(make_stack: StackFactory) -> None:
    stack = await make_stack(timeout=0.2)
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "sleep:1"}
    )
    assert (status, body["code"]) == (504, 4)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nobody/hello", "service not found: nobody"),
        ("/greeter/goodbye", "endpoint Greeter.Goodbye not found in service greeter"),
        ("/", "no route for POST /"),
    ],
)
async def test_unknown_service_or_endpoint_is_404(
    stack: Stack, path: str, message: str
) -> None:
    status, body, _ = await stack.call("POST", path, json={})
    assert status == 404
    assert body["code"] == 5
    assert body["message"].startswith(message)


async def test_rpc_with_unknown_service_is_404(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST", "/rpc", json={"service": "ghost", "endpoint": "Ghost.Boo"}
    )
    assert (status, body["message"]) == (404, "service not found: ghost")


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        (b'{"name": ', "", "body is not valid JSON"),
        (b"[1, 2]", "", "body must be a JSON object"),
        (b'{"nme": "x"}', "nme", "unknown field"),
        (b'{"name": 5}', "name", "invalid field 'name'"),
    ],
)
async def test_unreadable_bodies_are_400_naming_the_field(
    stack: Stack, body: bytes, field: str, text: str
) -> None:
    status, answer, _ = await stack.call(
        "POST",
        "/greeter/hello",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert answer["code"] == 3
    assert text in answer["message"]
    if field:
        (violation,) = answer["details"][0]["fieldViolations"]
        assert violation["field"] == field


async def test_nested_field_errors_name_the_path(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST", "/v1/users", json={"role": "BOSS", "display_name": "x"}
    )
    assert status == 400
    assert body["details"][0]["fieldViolations"][0]["field"] == "user.role"
    status, body, _ = await stack.call("GET", "/v1/users/abc")
    assert status == 400
    assert body["details"][0]["fieldViolations"][0]["field"] == "id"
    status, body, _ = await stack.call("GET", "/v1/users/1?colour=red")
    assert status == 400
    assert "colour" in body["message"]


async def test_body_over_the_limit_is_413(make_stack: StackFactory) -> None:
    stack = await make_stack(body_limit=1024)
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "x" * 2000}
    )
    assert (status, body["code"]) == (413, 8)
    # Chunked bodies, with no length up front, are cut off too.

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    status, body, _ = await stack.call("POST", "/greeter/hello", data=chunks())
    assert status == 413


async def test_unsupported_media_type_is_415(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/greeter/hello",
        data=b"<x/>",
        headers={"Content-Type": "application/xml"},
    )
    assert (status, body["code"]) == (415, 3)
