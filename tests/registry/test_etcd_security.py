"""The etcd registry over TLS, mutual TLS, and with username/password."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from micro_grpc.errors import RegistryError
from micro_grpc.registry import Node, Service
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess, EtcdTLS

SERVICE = Service("secure", nodes=(Node("s1", "127.0.0.1:9"),))


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    tls = EtcdTLS.generate(tmp_path_factory.mktemp("tls"))
    with EtcdProcess(name="tls", tls=tls) as process:
        yield process


@pytest.fixture(scope="module")
def mtls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    tls = EtcdTLS.generate(tmp_path_factory.mktemp("mtls"), mutual=True)
    with EtcdProcess(name="mtls", tls=tls) as process:
        yield process


@pytest.fixture(scope="module")
def auth_etcd() -> Iterator[EtcdProcess]:
    # Tokens live one second, so the registry must authenticate again.
    with EtcdProcess(
        name="auth", root_password="s3cret", extra_args=["--auth-token-ttl=1"]
    ) as process:
        yield process


async def round_trip(registry: EtcdRegistry) -> None:
    try:
        await registry.register(SERVICE)
        [found] = await registry.get_service("secure")
        assert found.nodes == SERVICE.nodes
        watcher = await registry.watch("secure")
        await watcher.stop()
        await registry.deregister(SERVICE)
    finally:
        await registry.close()


async def test_tls(tls_etcd: EtcdProcess) -> None:
    assert tls_etcd.tls is not None
    await round_trip(
        EtcdRegistry(endpoints=[tls_etcd.endpoint], ca_cert=tls_etcd.tls.ca)
    )


async def test_https_endpoint_with_ca_as_bytes(tls_etcd: EtcdProcess) -> None:
    assert tls_etcd.tls is not None
    ca = Path(tls_etcd.tls.ca).read_bytes()
    await round_trip(EtcdRegistry(endpoints=[tls_etcd.client_url], ca_cert=ca))


async def test_mutual_tls(mtls_etcd: EtcdProcess) -> None:
    tls = mtls_etcd.tls
    assert tls is not None and tls.client_cert and tls.client_key
    registry = EtcdRegistry(
        endpoints=[mtls_etcd.endpoint],
        ca_cert=tls.ca,
        cert=tls.client_cert,
        key=Path(tls.client_key).read_bytes(),
    )
    await round_trip(registry)


async def test_mutual_tls_without_client_cert_is_refused(
    mtls_etcd: EtcdProcess,
) -> None:
    assert mtls_etcd.tls is not None
    registry = EtcdRegistry(
        endpoints=[mtls_etcd.endpoint], ca_cert=mtls_etcd.tls.ca, dial_timeout=1
    )
    with pytest.raises(RegistryError, match=mtls_etcd.endpoint):
        await registry.list_services()
    await registry.close()


async def test_wrong_ca_is_a_clear_error(tls_etcd: EtcdProcess, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    registry = EtcdRegistry(endpoints=[tls_etcd.endpoint], ca_cert=str(other_ca))

    with pytest.raises(RegistryError) as caught:
        await asyncio.wait_for(registry.list_services(), 5)
    await registry.close()

    message = str(caught.value)
    assert "TLS" in message and "ca_cert" in message
    assert tls_etcd.endpoint in message


async def test_username_password(auth_etcd: EtcdProcess) -> None:
    registry = EtcdRegistry(
        endpoints=[auth_etcd.endpoint], username="root", password="s3cret", ttl=2
    )
    await registry.register(SERVICE)

    await asyncio.sleep(2.5)  # the token has expired; heartbeats went on

    [found] = await registry.get_service("secure")
    assert found.nodes == SERVICE.nodes
    await registry.close()


async def test_wrong_password_is_refused(auth_etcd: EtcdProcess) -> None:
    registry = EtcdRegistry(
        endpoints=[auth_etcd.endpoint], username="root", password="wrong"
    )
    with pytest.raises(RegistryError, match="authentication as 'root' failed"):
        await registry.list_services()
    await registry.close()


async def test_no_credentials_is_refused(auth_etcd: EtcdProcess) -> None:
    registry = EtcdRegistry(endpoints=[auth_etcd.endpoint])
    with pytest.raises(RegistryError):
        await registry.list_services()
    await registry.close()
