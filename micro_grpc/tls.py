"""Transport security between services: TLS and mutual TLS.

A server given `ServerTLS` serves only TLS, and asks for client
certificates when `client_ca` is set. A client given `ClientTLS` trusts
`ca` (or the system roots when it is empty) and presents its own
certificate when the server asks. Each node says in its registration
whether it expects TLS, and the client dials it accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from micro_grpc.errors import ConfigError

__all__ = ["ClientTLS", "ServerTLS"]


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path!r}: {exc.strerror}") from exc


@dataclass(frozen=True, slots=True)
class ServerTLS:
    """A server's certificate chain and key, PEM; `client_ca` demands mTLS."""

    cert: bytes
    key: bytes
    client_ca: bytes | None = None

    @classmethod
    def from_files(cls, cert: str, key: str, client_ca: str = "") -> ServerTLS:
        return cls(
            cert=_read(cert, "server certificate"),
            key=_read(key, "server key"),
            client_ca=_read(client_ca, "client CA") if client_ca else None,
        )

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )


@dataclass(frozen=True, slots=True)
class ClientTLS:
    """What a client trusts (`ca`, PEM) and, for mTLS, what it presents.

    `server_name` overrides the name checked against the server's
    certificate, for nodes that advertise an address their certificate does
    not carry.
    """

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str = ""

    @classmethod
    def from_files(
        cls, ca: str = "", cert: str = "", key: str = "", server_name: str = ""
    ) -> ClientTLS:
        if bool(cert) != bool(key):
            raise ConfigError(
                "a client certificate needs its key, and the key its certificate"
            )
        return cls(
            ca=_read(ca, "CA") if ca else None,
            cert=_read(cert, "client certificate") if cert else None,
            key=_read(key, "client key") if key else None,
            server_name=server_name,
        )

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca,
            private_key=self.key,
            certificate_chain=self.cert,
        )
