"""The gateway's settings, their defaults and their MICRO_API_* variables.

| field           | variable                 | default           |
|-----------------|--------------------------|-------------------|
| address         | MICRO_API_ADDRESS        | 127.0.0.1:8080    |
| namespace       | MICRO_API_NAMESPACE      | (none)            |
| body_limit      | MICRO_API_BODY_LIMIT     | 4194304 (bytes)   |
| timeout         | MICRO_API_TIMEOUT        | 30 (seconds)      |
| cors_origins    | MICRO_API_CORS_ORIGINS   | (none)            |
| allowed_headers | MICRO_API_HEADERS        | (none)            |
| host_map        | MICRO_API_HOST_MAP       | (none)            |
| tls_cert        | MICRO_API_TLS_CERT       |                   |
| tls_key         | MICRO_API_TLS_KEY        |                   |
| tls_client_ca   | MICRO_API_TLS_CLIENT_CA  |                   |
| access_log      | MICRO_API_ACCESS_LOG     | (logger only)     |

Lists are comma-separated (`MICRO_API_CORS_ORIGINS=https://a.example,*`),
the host map is `host=service` pairs
(`MICRO_API_HOST_MAP=greeter.example.com=greeter`). A header name in
`allowed_headers` ending in `*` allows every header with that prefix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from micro_grpc.config import read_settings
from micro_grpc.errors import ConfigError

__all__ = ["GatewayOptions"]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Everything the HTTP gateway can be told, with its defaults.

    `namespace` prefixes the service name that path routing derives
    (`com.example` turns `/greeter/hello` into `com.example.greeter`).
    `timeout` becomes the deadline of every gRPC call the gateway makes,
    websocket streams aside. `access_log` names a file to append Apache
    combined lines to; the lines always go to the
    `micro_grpc.gateway.access` logger too.
    """

    address: str = "127.0.0.1:8080"
    namespace: str = ""
    body_limit: int = 4 * 1024 * 1024
    timeout: float = 30.0
    cors_origins: tuple[str, ...] = ()
    allowed_headers: tuple[str, ...] = ()
    host_map: Mapping[str, str] = field(default_factory=dict)
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    access_log: str = ""

    def __post_init__(self) -> None:
        if self.body_limit <= 0:
            raise ConfigError(f"body_limit={self.body_limit} must be above zero")
        if self.timeout <= 0:
            raise ConfigError(f"timeout={self.timeout} must be above zero")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("TLS needs both tls_cert and tls_key")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("tls_client_ca needs tls_cert and tls_key")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> GatewayOptions:
        """Defaults, then MICRO_API_* variables, then `overrides` (None skipped)."""
        return read_settings(cls, _VARIABLES, _parse, environ, overrides)

    def replace(self, **changes: Any) -> GatewayOptions:
        return dataclasses.replace(self, **changes)

    @property
    def host_port(self) -> tuple[str, int]:
        """`address` split for binding; ConfigError when it does not parse."""
        host, _, port = self.address.rpartition(":")
        try:
            number = int(port)
        except ValueError:
            raise ConfigError(
                f"gateway address {self.address!r} is not host:port"
            ) from None
        return host.strip("[]") or "127.0.0.1", number


_VARIABLES = {
    "address": "MICRO_API_ADDRESS",
    "namespace": "MICRO_API_NAMESPACE",
    "body_limit": "MICRO_API_BODY_LIMIT",
    "timeout": "MICRO_API_TIMEOUT",
    "cors_origins": "MICRO_API_CORS_ORIGINS",
    "allowed_headers": "MICRO_API_HEADERS",
    "host_map": "MICRO_API_HOST_MAP",
    "tls_cert": "MICRO_API_TLS_CERT",
    "tls_key": "MICRO_API_TLS_KEY",
    "tls_client_ca": "MICRO_API_TLS_CLIENT_CA",
    "access_log": "MICRO_API_ACCESS_LOG",
}


def _parse(name: str, raw: str) -> Any:
    variable = _VARIABLES[name]
    if name == "body_limit":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r} is not a whole number") from None
    if name == "timeout":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r} is not a number") from None
    if name in ("cors_origins", "allowed_headers"):
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if name == "host_map":
        pairs = [p.strip() for p in raw.split(",") if p.strip()]
        if not all("=" in p for p in pairs):
            raise ConfigError(f"{variable}={raw!r} is not a list of host=service")
        return {
            k.strip().lower(): v.strip() for k, v in (p.split("=", 1) for p in pairs)
        }
    return raw
