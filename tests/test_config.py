"""Settings: defaults, MICRO_* variables, overrides, and errors that name them."""

from __future__ import annotations

import pytest

from micro_grpc import ConfigError, Options, Service
from micro_grpc.config import load_registry
from micro_grpc.registry.memory import MemoryRegistry


def test_defaults() -> None:
    options = Options.from_env({})
    assert options.registry == "etcd"
    assert options.registry_address == "127.0.0.1:2379"
    assert options.register_ttl == 15.0
    assert options.address == "127.0.0.1:0"


def test_environment_then_overrides() -> None:
    env = {
        "MICRO_REGISTRY": "memory",
        "MICRO_REGISTER_TTL": "5",
        "MICRO_SERVICE_METADATA": "zone=a, tier=gold",
        "MICRO_SERVER_ADDRESS": "127.0.0.1:9000",
    }
    options = Options.from_env(env, address="127.0.0.1:9001", version=None)
    assert options.registry == "memory"
    assert options.register_ttl == 5.0
    assert options.metadata == {"zone": "a", "tier": "gold"}
    assert Options.from_env({"MICRO_SERVER_FREEZE_GC": "off"}).freeze_gc is False
    assert options.address == "127.0.0.1:9001"
    assert options.version == "latest"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MICRO_REGISTER_TTL": "soon"}, "MICRO_REGISTER_TTL='soon' is not a number"),
        ({"MICRO_REGISTER_TTL": "-1"}, "MICRO_REGISTER_TTL='-1' must be above zero"),
        ({"MICRO_SERVICE_METADATA": "zone"}, "MICRO_SERVICE_METADATA='zone'"),
        (
            {"MICRO_SERVER_FREEZE_GC": "maybe"},
            "MICRO_SERVER_FREEZE_GC='maybe' is not true or false",
        ),
        (
            {"MICRO_CLIENT_RETRIES": "-1"},
            "MICRO_CLIENT_RETRIES='-1' must be a whole number >= 0",
        ),
        (
            {"MICRO_EJECTION_FAILURES": "0"},
            "MICRO_EJECTION_FAILURES='0' must be a whole number >= 1",
        ),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Options.from_env(env)
    assert message in str(caught.value)


def test_unknown_keyword_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown option"):
        Options.from_env({}, colour="blue")


def test_registry_found_by_entry_point() -> None:
    registry = load_registry(Options.from_env({}, registry="memory"))
    assert isinstance(registry, MemoryRegistry)
    with pytest.raises(ConfigError, match=r"unknown registry 'zookeeper'.*memory"):
        load_registry(Options.from_env({}, registry="zookeeper"))


def test_retry_and_ejection_settings_reach_the_client() -> None:
    env = {
        "MICRO_CLIENT_RETRIES": "0",
        "MICRO_EJECTION_FAILURES": "5",
        "MICRO_EJECTION_COOLDOWN": "2.5",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        service = Service("x", registry=MemoryRegistry())
    assert service.client._retry.attempts == 1
    assert service.client._outliers is not None
    ejection = service.client._outliers.settings
    assert (ejection.failures, ejection.cooldown) == (5, 2.5)
