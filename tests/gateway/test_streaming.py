"""Server streams as NDJSON and SSE; client and bidirectional streams."""

from __future__ import annotations

import json

import aiohttp

from tests.gateway.conftest import Stack


async def test_server_stream_as_ndjson(stack: Stack) -> None:
    status, body, response = await stack.call(
        "POST", "/greeter/lots-of-replies", json={"name": "n", "count": 3}
    )
    assert status == 200
    assert response.content_type == "application/x-ndjson"
    assert [json.loads(line) for line in body.splitlines()] == [
        {"result": {"message": f"n {i}"}} for i in range(3)
    ]


async def test_server_stream_as_server_sent_events(stack: Stack) -> None:
    status, body, response = await stack.call(
        "POST",
        "/greeter/lots-of-replies",
        json={"name": "e", "count": 2},
        headers={"Accept": "text/event-stream"},
    )
    assert status == 200
    assert response.content_type == "text/event-stream"
    events = [e for e in body.split("\n\n") if e]
    assert events == [
        'data: {"message": "e 0"}',
        'data: {"message": "e 1"}',
        "event: end\ndata: {}",
    ]


async def test_failure_mid_stream_is_the_last_line(stack: Stack) -> None:
    # ProbeGreeter fails the stream named "fail" after two replies.
    status, body, _ = await stack.call(
        "POST", "/greeter/lots-of-replies", json={"name": "fail", "count": 5}
    )
    assert status == 200
    lines = [json.loads(line) for line in body.splitlines()]
    assert lines[:2] == [{"result": {"message": f"fail {i}"}} for i in range(2)]
    assert lines[2] == {"error": {"code": 5, "message": "ran out at 2", "details": []}}


async def test_client_stream_from_an_ndjson_body(stack: Stack) -> None:
    status, body, _ = await stack.call(
        "POST",
        "/greeter/lots-of-greetings",
        data=b'{"name": "a"}\n{"name": "b"}\n\n{"name": "c"}\n',
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert (status, body) == (200, {"message": "a,b,c"})


async def test_bidi_stream_over_a_websocket(stack: Stack) -> None:
    async with stack.http.ws_connect(stack.url + "/greeter/bidi-hello") as ws:
        for name in ("Ken", "Rob"):
            await ws.send_str(json.dumps({"name": name}))
            assert await ws.receive_json() == {"result": {"message": f"Hello {name}"}}
        await ws.send_str("")  # half-close: no more requests
        closing = await ws.receive()
        assert closing.type is aiohttp.WSMsgType.CLOSE


async def test_client_stream_over_a_websocket(stack: Stack) -> None:
    async with stack.http.ws_connect(stack.url + "/greeter/lots-of-greetings") as ws:
        for name in ("x", "y"):
            await ws.send_str(json.dumps({"name": name}))
        await ws.send_str("")
        assert await ws.receive_json() == {"result": {"message": "x,y"}}


async def test_server_stream_over_a_websocket(stack: Stack) -> None:
    async with stack.http.ws_connect(stack.url + "/greeter/lots-of-replies") as ws:
        await ws.send_str(json.dumps({"name": "w", "count": 2}))
        replies = [await ws.receive_json() for _ in range(2)]
        assert replies == [{"result": {"message": f"w {i}"}} for i in range(2)]


async def test_bad_frame_ends_the_websocket_with_an_error(stack: Stack) -> None:
    async with stack.http.ws_connect(stack.url + "/greeter/bidi-hello") as ws:
        await ws.send_str("{not json")
        error = await ws.receive_json()
        assert error["error"]["code"] == 3
        assert "frame is not valid JSON" in error["error"]["message"]
        assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
    # The gateway keeps serving.
    status, _, _ = await stack.call("POST", "/greeter/hello", json={"name": "ok"})
    assert status == 200


async def test_stream_to_unknown_service_is_404_before_streaming(stack: Stack) -> None:
    status, body, _ = await stack.call("POST", "/nobody/lots-of-replies", json={})
    assert status == 404
    assert body["message"] == "service not found: nobody"
