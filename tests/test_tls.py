"""TLS and mutual TLS between services, with certificates made here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trustme
from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from micro_grpc import Client, ClientTLS, ServerTLS, Service
from micro_grpc.errors import Unavailable
from micro_grpc.registry.memory import MemoryRegistry
from tests.conftest import ProbeGreeter


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ServerTLS:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    return ServerTLS(
        cert=cert.cert_chain_pems[0].bytes(), key=cert.private_key_pem.bytes()
    )


def _client_tls(ca: trustme.CA, *, with_cert: bool = False) -> ClientTLS:
    if not with_cert:
        return ClientTLS(ca=ca.cert_pem.bytes())
    cert = ca.issue_cert("client.example")
    return ClientTLS(
        ca=ca.cert_pem.bytes(),
        cert=cert.cert_chain_pems[0].bytes(),
        key=cert.private_key_pem.bytes(),
    )


@pytest.fixture
async def tls_service(
    registry: MemoryRegistry, server_tls: ServerTLS
) -> AsyncIterator[Service]:
    service = Service("secure", registry=registry, tls=server_tls)
    service.handle(ProbeGreeter())
    async with service:
        yield service


async def test_tls_call_through_the_registry(
    ca: trustme.CA, registry: MemoryRegistry, tls_service: Service
) -> None:
    (record,) = await registry.get_service("secure")
    assert record.nodes[0].metadata["secure"] == "true"
    async with Client(registry, tls=_client_tls(ca)) as client:
        reply = await GreeterClient(client, "secure").hello(HelloRequest(name="tls"))
    assert reply.message == "Hello tls"


async def test_wrong_trust_root_is_refused(
    registry: MemoryRegistry, tls_service: Service
) -> None:
    stranger = trustme.CA()
    async with Client(registry, tls=ClientTLS(ca=stranger.cert_pem.bytes())) as client:
        with pytest.raises(Unavailable) as refused:
            await GreeterClient(client, "secure").hello(
                HelloRequest(name="x"), timeout=3.0
            )
    assert "certificate" in refused.value.message.lower()
    assert tls_service.address in refused.value.message


async def test_plaintext_client_to_tls_node_is_refused(tls_service: Service) -> None:
    async with Client() as client:
        with pytest.raises(Unavailable):
            await GreeterClient(client, "secure").hello(
                HelloRequest(name="x"), address=tls_service.address, timeout=3.0
            )


@pytest.fixture
async def mtls_service(
    registry: MemoryRegistry, ca: trustme.CA
) -> AsyncIterator[Service]:
    cert = ca.issue_cert("127.0.0.1")
    tls = ServerTLS(
        cert=cert.cert_chain_pems[0].bytes(),
        key=cert.private_key_pem.bytes(),
        client_ca=ca.cert_pem.bytes(),
    )
    service = Service("mutual", registry=registry, tls=tls)
    service.handle(ProbeGreeter())
    async with service:
        yield service


async def test_mutual_tls_call(
    ca: trustme.CA, registry: MemoryRegistry, mtls_service: Service
) -> None:
    async with Client(registry, tls=_client_tls(ca, with_cert=True)) as client:
        reply = await GreeterClient(client, "mutual").hello(HelloRequest(name="mtls"))
    assert reply.message == "Hello mtls"


async def test_mutual_tls_refuses_a_client_without_certificate(
    ca: trustme.CA, registry: MemoryRegistry, mtls_service: Service
) -> None:
    async with Client(registry, tls=_client_tls(ca)) as client:
        with pytest.raises(Unavailable):
            await GreeterClient(client, "mutual").hello(
                HelloRequest(name="x"), timeout=3.0
            )


async def test_tls_from_files_and_environment(
    ca: trustme.CA, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(root / "server.pem"))
    cert.private_key_pem.write_to_path(str(root / "server.key"))
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    monkeypatch.setenv("MICRO_SERVER_TLS_CERT", str(root / "server.pem"))
    monkeypatch.setenv("MICRO_SERVER_TLS_KEY", str(root / "server.key"))
    monkeypatch.setenv("MICRO_CLIENT_TLS_CA", str(root / "ca.pem"))
    registry = MemoryRegistry()
    service = Service("fromenv", registry=registry)
    service.handle(ProbeGreeter())
    async with service:
        reply = await GreeterClient(service.client, "fromenv").hello(
            HelloRequest(name="env")
        )
    assert reply.message == "Hello env"
