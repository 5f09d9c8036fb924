"""The etcd registry's settings: defaults, parsing and validation."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from micro_grpc.errors import ConfigError

__all__ = ["DEFAULTS", "EtcdOptions", "Pem", "parse_endpoints", "read_pem", "validate"]

Pem = str | os.PathLike[str] | bytes
"""A PEM file's path, or its contents as bytes."""


@dataclass(frozen=True, slots=True)
class EtcdOptions:
    """Every setting of the etcd registry, with its default."""

    endpoints: tuple[str, ...] = ("127.0.0.1:2379",)
    ttl: float = 15.0
    prefix: str = "/micro/registry/"
    ca_cert: Pem | None = None
    cert: Pem | None = None
    key: Pem | None = None
    username: str | None = None
    password: str | None = None
    dial_timeout: float = 5.0
    request_timeout: float = 5.0


DEFAULTS = EtcdOptions()


def parse_endpoints(endpoints: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    hosts = []
    https = False
    for endpoint in endpoints:
        endpoint = endpoint.strip()
        scheme, sep, rest = endpoint.partition("://")
        if sep:
            if scheme not in ("http", "https"):
                raise ConfigError(
                    f"etcd endpoint {endpoint!r}: unknown scheme {scheme}"
                )
            https = https or scheme == "https"
            endpoint = rest.rstrip("/")
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"etcd endpoint {endpoint!r} is not host:port")
        hosts.append(endpoint)
    return tuple(hosts), https


def validate(options: EtcdOptions) -> None:
    if not options.endpoints:
        raise ConfigError("etcd registry needs at least one endpoint")
    if options.ttl <= 0:
        raise ConfigError(f"etcd registry ttl must be positive, not {options.ttl}")
    if (options.cert is None) != (options.key is None):
        raise ConfigError("etcd registry needs both cert and key for mutual TLS")
    if options.password is not None and not options.username:
        raise ConfigError("etcd registry password given without username")
    if options.dial_timeout <= 0 or options.request_timeout <= 0:
        raise ConfigError("etcd registry timeouts must be positive")


def read_pem(option: str, pem: Pem | None) -> bytes | None:
    if pem is None or isinstance(pem, bytes):
        return pem
    try:
        with open(pem, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"etcd registry {option}: cannot read {pem}: {exc}") from exc
