"""A registry that lives in one process: for tests and single-process apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from micro_grpc.errors import ConfigError, ServiceNotFound
from micro_grpc.registry import Event, EventType, Service, Watcher, merge_services

if TYPE_CHECKING:
    from micro_grpc.config import Options

__all__ = ["MemoryRegistry"]


class MemoryRegistry:
    """Keeps nodes in a dict and fans events out to in-process watchers.

    Nodes live until deregistered: whoever registered them shares the
    process, so there is no one whose death a TTL would have to notice.
    """

    _default: MemoryRegistry | None = None

    def __init__(self) -> None:
        # service name -> node id -> the one-node record
        self._nodes: dict[str, dict[str, Service]] = {}
        self._watchers: set[_MemoryWatcher] = set()

    @classmethod
    def from_options(cls, options: Options) -> MemoryRegistry:
        """The process-wide memory registry, shared by every service in it."""
        del options
        if cls._default is None:
            cls._default = cls()
        return cls._default

    async def register(self, service: Service) -> None:
        if len(service.nodes) != 1:
            raise ConfigError("register takes a service holding exactly one node")
        node = service.nodes[0]
        nodes = self._nodes.setdefault(service.name, {})
        kind = EventType.UPDATE if node.id in nodes else EventType.CREATE
        nodes[node.id] = service
        self._notify(Event(kind, service))

    async def deregister(self, service: Service) -> None:
        nodes = self._nodes.get(service.name, {})
        for node in service.nodes:
            removed = nodes.pop(node.id, None)
            if removed is not None:
                self._notify(Event(EventType.DELETE, removed))
        if not nodes:
            self._nodes.pop(service.name, None)

    async def get_service(self, name: str) -> list[Service]:
        nodes = self._nodes.get(name)
        if not nodes:
            raise ServiceNotFound(name)
        return merge_services(nodes.values())

    async def list_services(self) -> list[Service]:
        return merge_services(
            s for nodes in self._nodes.values() for s in nodes.values()
        )

    async def watch(self, service: str | None = None) -> Watcher:
        watcher = _MemoryWatcher(self, service)
        self._watchers.add(watcher)
        return watcher

    async def close(self) -> None:
        for watcher in list(self._watchers):
            await watcher.stop()

    def _notify(self, event: Event) -> None:
        for watcher in self._watchers:
            if watcher.service is None or watcher.service == event.service.name:
                watcher.queue.put_nowait(event)


class _MemoryWatcher:
    def __init__(self, registry: MemoryRegistry, service: str | None) -> None:
        self._registry = registry
        self.service = service
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event

    async def stop(self) -> None:
        if self in self._registry._watchers:
            self._registry._watchers.discard(self)
            self.queue.put_nowait(None)
