"""Every setting, its default and the MICRO_* variable that overrides it.

`Options` is the one place defaults live. `Options.from_env()` reads the
environment; keyword arguments given to `Service` or `Client` win over both.
The `micro` command's flags map onto the same field names.

| field              | variable                  | default          |
|--------------------|---------------------------|------------------|
| version            | MICRO_SERVICE_VERSION     | latest           |
| address            | MICRO_SERVER_ADDRESS      | 127.0.0.1:0      |
| advertise          | MICRO_SERVER_ADVERTISE    | (bound address)  |
| grace              | MICRO_SERVER_GRACE        | 10 (seconds)     |
| freeze_gc          | MICRO_SERVER_FREEZE_GC    | true             |
| tls_cert           | MICRO_SERVER_TLS_CERT     |                  |
| tls_key            | MICRO_SERVER_TLS_KEY      |                  |
| tls_client_ca      | MICRO_SERVER_TLS_CLIENT_CA|                  |
| client_tls_ca      | MICRO_CLIENT_TLS_CA       |                  |
| client_tls_cert    | MICRO_CLIENT_TLS_CERT     |                  |
| client_tls_key     | MICRO_CLIENT_TLS_KEY      |                  |
| client_timeout     | MICRO_CLIENT_TIMEOUT      | none             |
| client_retries     | MICRO_CLIENT_RETRIES      | 2 (after the 1st)|
| client_retry_backoff | MICRO_CLIENT_RETRY_BACKOFF | 0.02 (seconds) |
| ejection_failures  | MICRO_EJECTION_FAILURES   | 3                |
| ejection_cooldown  | MICRO_EJECTION_COOLDOWN   | 1 (seconds)      |
| selector           | MICRO_SELECTOR            | random           |
| registry           | MICRO_REGISTRY            | etcd             |
| registry_address   | MICRO_REGISTRY_ADDRESS    | 127.0.0.1:2379   |
| register_ttl       | MICRO_REGISTER_TTL        | 15 (seconds)     |
| registry_timeout   | MICRO_REGISTRY_TIMEOUT    | 5 (seconds)      |
| registry_tls_ca    | MICRO_REGISTRY_TLS_CA     |                  |
| registry_tls_cert  | MICRO_REGISTRY_TLS_CERT   |                  |
| registry_tls_key   | MICRO_REGISTRY_TLS_KEY    |                  |
| registry_username  | MICRO_REGISTRY_USERNAME   |                  |
| registry_password  | MICRO_REGISTRY_PASSWORD   |                  |

The HTTP gateway's own settings (MICRO_API_*) are read the same way by
`micro_grpc.gateway.GatewayOptions`.

MICRO_SELECTOR is one of random, round_robin, weighted (a node's `weight`
metadata) and least_in_flight (the less busy of two random nodes).

The server binds the loopback interface unless told otherwise: set
MICRO_SERVER_ADDRESS=0.0.0.0:8080 (and MICRO_SERVER_ADVERTISE to the address
peers should dial) to serve other machines.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, TypeVar

from micro_grpc.errors import ConfigError

if TYPE_CHECKING:
    from micro_grpc.registry import Registry

__all__ = ["Options", "load_registry", "read_settings"]

SettingsT = TypeVar("SettingsT")

REGISTRY_ENTRY_POINTS = "micro_grpc.registry"


@dataclass(frozen=True, slots=True)
class Options:
    """All settings of a service and its client, with their defaults."""

    version: str = "latest"
    metadata: Mapping[str, str] = field(default_factory=dict)
    address: str = "127.0.0.1:0"
    advertise: str = ""
    grace: float = 10.0
    freeze_gc: bool = True
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    client_tls_ca: str = ""
    client_tls_cert: str = ""
    client_tls_key: str = ""
    client_timeout: float | None = None
    client_retries: int = 2
    client_retry_backoff: float = 0.02
    ejection_failures: int = 3
    ejection_cooldown: float = 1.0
    selector: str = "random"
    registry: str = "etcd"
    registry_address: str = "127.0.0.1:2379"
    register_ttl: float = 15.0
    registry_timeout: float = 5.0
    registry_tls_ca: str = ""
    registry_tls_cert: str = ""
    registry_tls_key: str = ""
    registry_username: str = ""
    registry_password: str = ""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Options:
        """Defaults, then MICRO_* variables, then `overrides` (None skipped)."""
        return read_settings(cls, _VARIABLES, _parse, environ, overrides)

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)


_VARIABLES = {
    "version": "MICRO_SERVICE_VERSION",
    "metadata": "MICRO_SERVICE_METADATA",
    "address": "MICRO_SERVER_ADDRESS",
    "advertise": "MICRO_SERVER_ADVERTISE",
    "grace": "MICRO_SERVER_GRACE",
    "freeze_gc": "MICRO_SERVER_FREEZE_GC",
    "tls_cert": "MICRO_SERVER_TLS_CERT",
    "tls_key": "MICRO_SERVER_TLS_KEY",
    "tls_client_ca": "MICRO_SERVER_TLS_CLIENT_CA",
    "client_tls_ca": "MICRO_CLIENT_TLS_CA",
    "client_tls_cert": "MICRO_CLIENT_TLS_CERT",
    "client_tls_key": "MICRO_CLIENT_TLS_KEY",
    "client_timeout": "MICRO_CLIENT_TIMEOUT",
    "client_retries": "MICRO_CLIENT_RETRIES",
    "client_retry_backoff": "MICRO_CLIENT_RETRY_BACKOFF",
    "ejection_failures": "MICRO_EJECTION_FAILURES",
    "ejection_cooldown": "MICRO_EJECTION_COOLDOWN",
    "selector": "MICRO_SELECTOR",
    "registry": "MICRO_REGISTRY",
    "registry_address": "MICRO_REGISTRY_ADDRESS",
    "register_ttl": "MICRO_REGISTER_TTL",
    "registry_timeout": "MICRO_REGISTRY_TIMEOUT",
    "registry_tls_ca": "MICRO_REGISTRY_TLS_CA",
    "registry_tls_cert": "MICRO_REGISTRY_TLS_CERT",
    "registry_tls_key": "MICRO_REGISTRY_TLS_KEY",
    "registry_username": "MICRO_REGISTRY_USERNAME",
    "registry_password": "MICRO_REGISTRY_PASSWORD",
}

_FLOATS = {
    "grace",
    "client_timeout",
    "client_retry_backoff",
    "ejection_cooldown",
    "register_ttl",
    "registry_timeout",
}
_FLAGS = {"freeze_gc"}
_COUNTS = {"client_retries": 0, "ejection_failures": 1}


def _parse(name: str, raw: str) -> Any:
    variable = _VARIABLES[name]
    if name in _FLOATS:
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r} is not a number") from None
        if value <= 0:
            raise ConfigError(f"{variable}={raw!r} must be above zero")
        return value
    if name in _FLAGS:
        flag = raw.strip().lower()
        if flag not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise ConfigError(f"{variable}={raw!r} is not true or false")
        return flag in ("1", "true", "yes", "on")
    if name in _COUNTS:
        least = _COUNTS[name]
        if not raw.strip().isdigit() or int(raw) < least:
            raise ConfigError(f"{variable}={raw!r} must be a whole number >= {least}")
        return int(raw)
    if name == "metadata":
        pairs = [p for p in raw.split(",") if p.strip()]
        if not all("=" in p for p in pairs):
            raise ConfigError(f"{variable}={raw!r} is not a list of key=value")
        return {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in pairs)}
    return raw


def read_settings(
    cls: type[SettingsT],
    variables: Mapping[str, str],
    parse: Callable[[str, str], Any],
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any],
) -> SettingsT:
    """Fill the settings dataclass `cls` from its defaults, then from the
    environment (`variables` maps a field to its variable, `parse` reads a
    field's raw value), then from `overrides` (None values skipped).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = env.get(variables.get(f.name, ""))
        if raw is not None and raw != "":
            values[f.name] = parse(f.name, raw)
    values.update((k, v) for k, v in overrides.items() if v is not None)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"unknown option: {exc}") from exc


def load_registry(options: Options) -> Registry:
    """Build the registry `options.registry` names, found by entry point.

    The entry point names a class (or any object) with a `from_options`
    callable taking the `Options`; a package adds a registry by declaring
    one in the `micro_grpc.registry` group.
    """
    found = {ep.name: ep for ep in entry_points(group=REGISTRY_ENTRY_POINTS)}
    entry = found.get(options.registry)
    if entry is None:
        known = ", ".join(sorted(found)) or "none installed"
        raise ConfigError(
            f"unknown registry {options.registry!r} (MICRO_REGISTRY); known: {known}"
        )
    factory = entry.load()
    registry: Registry = factory.from_options(options)
    return registry
