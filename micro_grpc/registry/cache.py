"""A watch-fed cache of the registry, read by every client call.

The cache lists a service once, on its first lookup, then follows a watch
so later lookups never leave the process. When the watch breaks (the
registry went away, the revision was compacted) it lists again and watches
anew, with backoff, and keeps answering from what it last knew meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from micro_grpc.errors import RegistryError, RegistryUnavailable, ServiceNotFound
from micro_grpc.registry import Event, EventType, Registry, Service, merge_services

__all__ = ["Cache"]

log = logging.getLogger(__name__)


class Cache:
    """Answers `get_service` from memory, kept current by one registry watch.

    `query_timeout` bounds a first lookup of a name the cache has never
    seen; after that, lookups cost a dict read.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        query_timeout: float = 5.0,
        max_backoff: float = 5.0,
        on_gone: Callable[[str], None] | None = None,
    ) -> None:
        self._registry = registry
        # Told the address of every node that leaves the cache.
        self._on_gone = on_gone
        self._query_timeout = query_timeout
        self._max_backoff = max_backoff
        # service name -> node id -> the one-node record of that node
        self._nodes: dict[str, dict[str, Service]] = {}
        # service name -> its records: what `cached` answers. Each list is
        # replaced, never changed in place, so a reader can keep one and
        # tell by identity whether the service has changed since.
        self.services: dict[str, list[Service]] = {}
        self._known: set[str] = set()
        # names being looked up for the first time -> events seen meanwhile
        self._pending: dict[str, list[Event]] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._stale = False

    @property
    def stale(self) -> bool:
        """True while the watch is broken and answers may be out of date."""
        return self._stale

    def cached(self, name: str) -> list[Service] | None:
        """What the cache holds of `name` now, without waiting; None if nothing.

        The list is the same object until the registry changes the service.
        """
        return self.services.get(name) or None

    async def get_service(self, name: str) -> list[Service]:
        """Every version of `name` with its nodes; `ServiceNotFound` if none.

        A name never looked up before raises `RegistryUnavailable` when the
        registry cannot be read within the query timeout.
        """
        merged = self.services.get(name)
        if merged:
            return merged
        if name not in self._known:
            await self._first_lookup(name)
            merged = self.services.get(name)
            if merged:
                return merged
        raise ServiceNotFound(name)

    async def close(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None

    async def _first_lookup(self, name: str) -> None:
        self._ensure_watch()
        # Events for `name` that arrive while it is being read may be newer
        # than what the read returns; they are kept and replayed after it.
        pending = self._pending.setdefault(name, [])
        try:
            async with asyncio.timeout(self._query_timeout):
                await self._synced.wait()
                if name not in self._nodes:
                    try:
                        records = await self._registry.get_service(name)
                    except ServiceNotFound:
                        records = []
                    self._store(name, records)
        except (TimeoutError, RegistryError) as exc:
            log.warning("registry lookup of %s failed: %s", name, exc)
            reason = str(exc) or f"no answer within {self._query_timeout:g}s"
            raise RegistryUnavailable(
                f"cannot look up {name}: the registry is unreachable ({reason})"
            ) from exc
        finally:
            if self._pending.get(name) is pending:
                del self._pending[name]
        self._known.add(name)
        for event in pending:
            self._apply(event)

    def _ensure_watch(self) -> None:
        if self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(
                self._follow(), name="micro-registry-cache"
            )

    async def _follow(self) -> None:
        # Watch first, then list: an event that lands between the two is
        # then seen twice (harmless) rather than missed.
        backoff = 0.1
        while True:
            watcher = None
            try:
                watcher = await self._registry.watch()
                await self._relist()
                self._synced.set()
                if self._stale:
                    log.warning("registry reachable again; cache is current")
                self._stale = False
                backoff = 0.1
                async for event in watcher:
                    self._apply(event)
                raise RegistryError("registry watch ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._stale:
                    log.warning(
                        "registry watch broken (%s); serving %d cached services",
                        exc,
                        len(self.services),
                    )
                self._stale = True
                self._synced.set()
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, self._max_backoff)
            finally:
                if watcher is not None:
                    with contextlib.suppress(Exception):
                        await watcher.stop()

    async def _relist(self) -> None:
        names = set(self._nodes) | self._known
        if not names:
            return
        services = await self._registry.list_services()
        fresh: dict[str, list[Service]] = {}
        for service in services:
            if service.name in names:
                fresh.setdefault(service.name, []).append(service)
        for name in names:
            self._store(name, fresh.get(name, []))

    def _store(self, name: str, services: list[Service]) -> None:
        before = self._nodes.get(name, {})
        nodes: dict[str, Service] = {}
        for service in services:
            for node in service.nodes:
                nodes[node.id] = Service(
                    name=service.name,
                    version=service.version,
                    metadata=service.metadata,
                    endpoints=service.endpoints,
                    nodes=(node,),
                )
        self._nodes[name] = nodes
        self.services[name] = merge_services(nodes.values())
        for node_id, gone in before.items():
            if node_id not in nodes:
                self._gone(gone)

    def _gone(self, record: Service) -> None:
        if self._on_gone is not None:
            for node in record.nodes:
                self._on_gone(node.address)

    def addresses(self) -> set[str]:
        """The addresses of every node the cache holds now."""
        return {
            node.address
            for nodes in self._nodes.values()
            for record in nodes.values()
            for node in record.nodes
        }

    def _apply(self, event: Event) -> None:
        name = event.service.name
        pending = self._pending.get(name)
        if pending is not None:
            pending.append(event)
            return
        if name not in self._nodes and name not in self._known:
            return
        nodes = self._nodes.setdefault(name, {})
        for node in event.service.nodes:
            if event.type is EventType.DELETE:
                gone = nodes.pop(node.id, None)
                if gone is not None:
                    log.info("node %s of %s removed", node.id, name)
                    self._gone(gone)
            else:
                nodes[node.id] = Service(
                    name=name,
                    version=event.service.version,
                    metadata=event.service.metadata,
                    endpoints=event.service.endpoints,
                    nodes=(node,),
                )
        self.services[name] = merge_services(nodes.values())
