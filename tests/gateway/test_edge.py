"""Edge duties: TLS, access log, /stats, CORS, deadlines and metadata."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import aiohttp
import pytest
import trustme

from micro_grpc.errors import ConfigError
from micro_grpc.gateway import GatewayOptions
from tests.gateway.conftest import Stack, StackFactory

COMBINED = re.compile(
    r'^(?P<host>\S+) - - \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$'
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.example")
    folder = tmp_path_factory.mktemp("tls")
    paths = {
        "ca": folder / "ca.pem",
        "cert": folder / "server.pem",
        "key": folder / "server.key",
        "client": folder / "client.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    return {k: str(v) for k, v in paths.items()}


async def test_tls(make_stack: StackFactory, certificates: dict[str, str]) -> None:
    stack = await make_stack(tls_cert=certificates["cert"], tls_key=certificates["key"])
    assert stack.url.startswith("https://")
    context = ssl.create_default_context(cafile=certificates["ca"])
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "TLS"}, ssl=context
    )
    assert (status, body) == (200, {"message": "Hello TLS"})
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await stack.call("POST", "/greeter/hello", json={})  # system roots only


async def test_mutual_tls(
    make_stack: StackFactory, certificates: dict[str, str]
) -> None:
    stack = await make_stack(
        tls_cert=certificates["cert"],
        tls_key=certificates["key"],
        tls_client_ca=certificates["ca"],
    )
    context = ssl.create_default_context(cafile=certificates["ca"])
    with pytest.raises(aiohttp.ClientError):
        await stack.call("POST", "/greeter/hello", json={"name": "x"}, ssl=context)
    context.load_cert_chain(certificates["client"])
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "mTLS"}, ssl=context
    )
    assert (status, body) == (200, {"message": "Hello mTLS"})


def test_tls_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="both tls_cert and tls_key"):
        GatewayOptions(tls_cert="a.pem")


async def test_access_log_and_stats_match_the_requests(
    stack: Stack, tmp_path: Path
) -> None:
    made = [
        ("POST", "/greeter/hello", {"name": "a"}, 200),
        ("POST", "/greeter/hello", {"name": "b"}, 200),
        ("GET", "/v1/users/3", None, 200),
        ("POST", "/nobody/hello", {}, 404),
        ("POST", "/greeter/hello", {"nme": 1}, 400),
        ("POST", "/greeter/hello", {"name": "boom"}, 500),
        ("POST", "/users/users/fail", {"code": "UNAVAILABLE"}, 503),
    ]
    for method, path, body, expected in made:
        status, _, _ = await stack.call(
            method, path, json=body, headers={"User-Agent": "tests/1.0", "Referer": "r"}
        )
        assert status == expected

    status, stats, _ = await stack.call("GET", "/stats?format=json")
    assert status == 200
    assert stats["total"] == {"requests": 7, "2xx": 3, "4xx": 2, "5xx": 2}
    minute = stats["windows"][0]
    assert minute["window"] == "1m"
    assert {k: minute[k] for k in ("requests", "2xx", "4xx", "5xx")} == stats["total"]
    assert stats["uptime_seconds"] > 0

    status, page, response = await stack.call("GET", "/stats")
    assert status == 200
    assert response.content_type == "text/html"
    assert "<td>7</td><td>3</td><td>2</td><td>2</td>" in page

    lines = (tmp_path / "access.log").read_text().splitlines()
    parsed = [COMBINED.match(line) for line in lines]
    assert all(parsed), lines
    logged = [m for m in parsed if m and "/stats" not in m["request"]]
    assert [
        (m["request"].split()[0], m["request"].split()[1], int(m["status"]))
        for m in logged
    ] == [(method, path, expected) for method, path, _, expected in made]
    assert all(m["agent"] == "tests/1.0" and m["referer"] == "r" for m in logged)
    assert all(m["request"].endswith("HTTP/1.1") for m in logged)
    assert logged[0]["size"] == str(len('{"message": "Hello a"}'))
    # The /stats requests are logged, but not counted.
    assert len(lines) == len(made) + 2


async def test_cors(make_stack: StackFactory) -> None:
    stack = await make_stack(
        cors_origins=("https://app.example",), allowed_headers=("x-user-*",)
    )
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-user-id",
    }
    status, _, response = await stack.call(
        "OPTIONS", "/greeter/hello", headers=preflight
    )
    assert status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "x-user-id" in response.headers["Access-Control-Allow-Headers"]

    status, _, response = await stack.call(
        "POST",
        "/greeter/hello",
        json={"name": "c"},
        headers={"Origin": "https://app.example"},
    )
    assert status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"

    status, body, response = await stack.call(
        "OPTIONS", "/greeter/hello", headers={**preflight, "Origin": "https://evil"}
    )
    assert (status, body["code"]) == (403, 7)
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_allowed_headers_become_metadata(make_stack: StackFactory) -> None:
    stack = await make_stack(allowed_headers=("authorization", "x-tenant-*"))
    headers = {"Authorization": "Bearer t", "X-Tenant-Id": "t1", "X-Secret": "s"}
    for key, expected in [
        ("authorization", "Bearer t"),
        ("x-tenant-id", "t1"),
        ("x-secret", ""),
    ]:
        status, body, _ = await stack.call(
            "POST", "/greeter/hello", json={"name": f"meta:{key}"}, headers=headers
        )
        assert (status, body) == (200, {"message": expected}), key
    # REST routes pass them on too.
    status, _, _ = await stack.call("GET", "/v1/users/1", headers=headers)
    assert status == 200
    assert stack.users.metadata.get("x-tenant-id") == "t1"
    assert "x-secret" not in stack.users.metadata


async def test_header_gRPC_cannot_carry_is_400(make_stack: StackFactory) -> None:
    stack = await make_stack(allowed_headers=("x-note", "x-data-bin"))
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "x"}, headers={"X-Data-Bin": "%%%"}
    )
    assert status == 400
    assert body["details"][0]["fieldViolations"][0]["field"] == "x-data-bin"


async def test_timeout_becomes_the_deadline(make_stack: StackFactory) -> None:
    stack = await make_stack(timeout=3.0)
    status, body, _ = await stack.call(
        "POST", "/greeter/hello", json={"name": "deadline"}
    )
    assert status == 200
    # The service's clock reads the deadline a few milliseconds apart.
    assert 2.0 < float(body["message"]) <= 3.05
