"""Service discovery: the Registry interface and the values it stores.

A registry maps a service name to the nodes that serve it. Every node is
stored on its own, as a `Service` holding exactly that node, so that a node
can come and go (or expire with its lease) without touching its peers:

    Service(name="greeter", version="1.2.0", nodes=[Node(id=..., ...)])

`get_service` merges what it finds back into one `Service` per version.
Implementations: `memory.MemoryRegistry` (one process, tests) and
`etcd.EtcdRegistry` (leases, watches). A third-party registry is found
through the `micro_grpc.registry` entry-point group.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Endpoint",
    "Event",
    "EventType",
    "Node",
    "Registry",
    "Service",
    "Value",
    "Watcher",
    "merge_services",
]


@dataclass(frozen=True, slots=True)
class Value:
    """The schema of a message, or of one of its fields, as advertised."""

    name: str
    type: str
    values: tuple[Value, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.values:
            out["values"] = [v.to_dict() for v in self.values]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Value:
        return cls(
            name=str(data.get("name", "")),
            type=str(data.get("type", "")),
            values=tuple(cls.from_dict(v) for v in data.get("values") or ()),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One rpc a service answers, named `Greeter.Hello`."""

    name: str
    request: Value | None = None
    response: Value | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "request": self.request.to_dict() if self.request else None,
            "response": self.response.to_dict() if self.response else None,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoint:
        request = data.get("request")
        response = data.get("response")
        return cls(
            name=str(data["name"]),
            request=Value.from_dict(request) if request else None,
            response=Value.from_dict(response) if response else None,
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Node:
    """One process serving a service, reachable at `address` (`host:port`)."""

    id: str
    address: str
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "address": self.address, "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        return cls(
            id=str(data["id"]),
            address=str(data["address"]),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class Service:
    """A named, versioned service with its endpoints and the nodes serving it."""

    name: str
    version: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    endpoints: tuple[Endpoint, ...] = ()
    nodes: tuple[Node, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "metadata": dict(self.metadata),
            "endpoints": [e.to_dict() for e in self.endpoints],
            "nodes": [n.to_dict() for n in self.nodes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Service:
        return cls(
            name=str(data["name"]),
            version=str(data.get("version") or ""),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            endpoints=tuple(Endpoint.from_dict(e) for e in data.get("endpoints") or ()),
            nodes=tuple(Node.from_dict(n) for n in data.get("nodes") or ()),
        )


class EventType(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Event:
    """A change to one node of a service.

    `service` holds the one node that changed; for DELETE it is the last
    record known of that node, or, where the store kept none (an expired
    lease), a Service with the name and a Node with only the id.
    """

    type: EventType
    service: Service


@runtime_checkable
class Watcher(Protocol):
    """An async iterator of registry events; `stop()` ends it."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Registry(Protocol):
    """Where services announce their nodes and clients look them up.

    `register` puts one node (`service.nodes` holds exactly one) under the
    registry's time-to-live, which is an option of the registry rather than
    of each call (etcd keeps every node of a process under one lease). The
    registry itself keeps the node alive while the process lives, and the
    store forgets it within the TTL of the process dying. Registering the
    same node again replaces its record. A registry that cannot reach its
    store raises `RegistryError`, and may keep the node to put later (etcd
    does).

    A watcher's iteration raises `RegistryError` when the watch breaks
    (connection lost, revision compacted); callers list again and watch
    anew.
    """

    async def register(self, service: Service) -> None:
        """Announce `service.nodes[0]`, replacing any earlier record of it."""
        ...

    async def deregister(self, service: Service) -> None:
        """Remove `service.nodes[0]`; a node that is not there is no error."""
        ...

    async def get_service(self, name: str) -> list[Service]:
        """Every version of `name` with its nodes; `ServiceNotFound` if none."""
        ...

    async def list_services(self) -> list[Service]:
        """Every service, one entry per name and version, nodes included."""
        ...

    async def watch(self, service: str | None = None) -> Watcher:
        """Follow changes to one service, or to all of them, from now on."""
        ...

    async def close(self) -> None:
        """Release what the registry holds (connections, leases)."""
        ...


def merge_services(records: Iterable[Service]) -> list[Service]:
    """Fold per-node records into one Service per (name, version)."""
    merged: dict[tuple[str, str], Service] = {}
    for record in records:
        key = (record.name, record.version)
        seen = merged.get(key)
        if seen is None:
            merged[key] = record
            continue
        nodes = {n.id: n for n in seen.nodes}
        nodes.update((n.id, n) for n in record.nodes)
        merged[key] = Service(
            name=seen.name,
            version=seen.version,
            metadata=seen.metadata,
            endpoints=seen.endpoints or record.endpoints,
            nodes=tuple(nodes.values()),
        )
    return sorted(merged.values(), key=lambda s: (s.name, s.version))
