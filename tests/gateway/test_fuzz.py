"""Malformed paths, bodies and headers: always a 4xx with a JSON error.

Hypothesis throws requests at one running gateway; every answer must be
below 500, every error must carry the `{"code", "message", "details"}`
body, no connection may drop, and the gateway must still serve a good
request afterwards.
"""

from __future__ import annotations

import asyncio
import json
import string
from typing import Any
from urllib.parse import quote

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import Stack

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

KNOWN_PATHS = [
    "/greeter/hello",
    "/greeter/lots-of-replies",
    "/greeter/lots-of-greetings",
    "/greeter/greeter/hello",
    "/rpc",
    "/v1/users",
    "/v1/users/1",
    "/v1/orgs/a/users/2",
    "/v1/users/3:rename",
    "/users/users/get",
]
SEGMENT_CHARS = string.ascii_letters + string.digits + "-_.~:@!$&'()*+,;=%é/\\"

segments = st.text(alphabet=SEGMENT_CHARS, max_size=12)
random_paths = st.lists(segments, max_size=5).map(
    lambda parts: "/" + "/".join(quote(p, safe="/:@!$&'()*+,;=") for p in parts)
)
paths = st.one_of(st.sampled_from(KNOWN_PATHS), random_paths)
queries = st.one_of(
    st.just(""),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=3).map(
        lambda pairs: "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        "name",
        "count",
        "id",
        "displayName",
        "role",
        "user",
        "service",
        "endpoint",
        "request",
        "tags",
        "labels",
        "avatar",
        "nope",
    ]
)
objects = st.dictionaries(field_names, json_values, max_size=4)
bodies = st.one_of(
    st.binary(max_size=64),
    objects.map(lambda o: json.dumps(o).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=40).map(str.encode),
    st.just(b"[" * 5000),
)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/protobuf",
            "application/grpc+proto",
            "text/plain",
            "application/x-ndjson",
            "application/xml",
            "multipart/form-data",
        ]
    ),
    st.text(alphabet=string.ascii_letters + "/+;=-", max_size=20),
)
# Printable Latin-1: what an HTTP client lets through (it refuses control
# characters itself), much of which gRPC metadata cannot carry.
header_values = st.text(
    alphabet=st.characters(
        min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",)
    ),
    max_size=20,
)
headers = st.dictionaries(
    st.sampled_from(
        ["x-note", "x-note-bin", "x-trace", "accept", "x-tenant", "grpc-timeout", "te"]
    ),
    header_values,
    max_size=3,
)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"])


async def _send(
    stack: Stack, method: str, path: str, body: bytes, extra: dict[str, str]
) -> tuple[int, Any]:
    try:
        async with stack.http.request(
            method, stack.url + path, data=body, headers=extra
        ) as response:
            raw = await response.read()
            status = response.status
            kind = response.content_type
    except aiohttp.ClientConnectionError as exc:  # a dropped connection
        raise AssertionError(f"{method} {path}: connection dropped: {exc}") from exc
    assert status < 500, (method, path, body, extra, status, raw[:200])
    if status >= 400:
        assert kind == "application/json", (status, kind, raw[:200])
        error = json.loads(raw)
        assert set(error) == {"code", "message", "details"}
        assert isinstance(error["code"], int) and error["code"] > 0
    return status, raw


@given(method=methods, path=paths, query=queries, body=bodies, ctype=content_types)
@SETTINGS
async def test_malformed_paths_and_bodies(
    fuzz_stack: Stack, method: str, path: str, query: str, body: bytes, ctype: str
) -> None:
    await _send(fuzz_stack, method, path + query, body, {"Content-Type": ctype})


@given(path=st.sampled_from(KNOWN_PATHS), extra=headers, body=objects)
@SETTINGS
async def test_malformed_headers(
    fuzz_stack: Stack, path: str, extra: dict[str, str], body: dict[str, Any]
) -> None:
    if "accept" in extra:
        extra["accept"] = (
            extra["accept"].encode("latin-1", "replace").decode("ascii", "replace")
        )
    await _send(fuzz_stack, "POST", path, json.dumps(body).encode(), extra)


async def test_gateway_serves_after_garbage_on_the_socket(fuzz_stack: Stack) -> None:
    gateway = fuzz_stack.gateway
    for garbage in (
        b"\x16\x03\x01\x00\xff",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\x01 x\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(garbage)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 5)
        writer.close()
        # aiohttp refuses broken framing itself, in plain text, and closes.
        assert answer == b"" or answer.split(b" ")[1].startswith(b"4"), answer
    status, raw = await _send(
        fuzz_stack,
        "POST",
        "/greeter/hello",
        b'{"name":"ok"}',
        {"Content-Type": "application/json"},
    )
    assert (status, json.loads(raw)) == (200, {"message": "Hello ok"})
