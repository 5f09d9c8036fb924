"""What the gateway can route to: the registered names and their REST routes.

The catalog lists the registry once, then follows a watch, as the client's
cache does. It serves two purposes. Names from a URL are checked against it
before anything else is asked, so a request for a service nobody registered
is a 404 that costs a set lookup, not a registry read. And each service's
proto descriptors are fetched by reflection when a new version of it
appears, to collect the REST routes its `google.api.http` annotations
declare.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from micro_grpc.client import Client
from micro_grpc.client.dynamic import DynamicMethods
from micro_grpc.errors import ConfigError, ServiceNotFound, StatusError, Unavailable
from micro_grpc.gateway.rules import RouteTable, routes_of
from micro_grpc.registry import Registry, Service

__all__ = ["Catalog"]

log = logging.getLogger(__name__)

# A burst of registrations (a deploy) is folded into one rebuild.
_SETTLE = 0.05
# A service whose reflection failed is asked again this much later.
_RETRY = 2.0


class Catalog:
    """Registered service names and the REST routes they declare."""

    def __init__(self, client: Client, methods: DynamicMethods) -> None:
        if client.registry is None:
            raise ConfigError("the gateway needs a client with a registry")
        self._registry: Registry = client.registry
        self._methods = methods
        self._names: set[str] = set()
        self._versions: dict[str, frozenset[str]] = {}
        self._table_by_service: dict[str, RouteTable] = {}
        self.routes = RouteTable()
        self._synced = asyncio.Event()
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, timeout: float = 5.0) -> None:
        """Follow the registry; wait up to `timeout` for the first listing."""
        self._task = asyncio.get_running_loop().create_task(
            self._follow(), name="micro-gateway-catalog"
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._synced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def names(self) -> frozenset[str]:
        """The names of the services with at least one node registered."""
        return frozenset(self._names)

    def check(self, service: str) -> None:
        """Raise unless `service` may be called: 404 unknown, 503 not listed yet."""
        if service in self._names:
            return
        if not self._synced.is_set():
            raise Unavailable("the gateway has not reached the registry yet")
        raise ServiceNotFound(service)

    async def refresh(self) -> None:
        """List the registry now and rebuild what changed."""
        await self._rebuild(await self._registry.list_services())

    async def _follow(self) -> None:
        backoff = 0.1
        while True:
            watcher = None
            rebuilding: asyncio.Task[None] | None = None
            try:
                # Watch first, then list: an event between the two is seen
                # twice rather than missed.
                watcher = await self._registry.watch()
                await self.refresh()
                self._synced.set()
                backoff = 0.1
                rebuilding = asyncio.get_running_loop().create_task(self._rebuilder())
                async for event in watcher:
                    log.debug(
                        "registry event %s %s", event.type.value, event.service.name
                    )
                    self._dirty.set()
                raise ConnectionError("registry watch ended")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("gateway catalog: registry watch broken (%s)", exc)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
            finally:
                if rebuilding is not None:
                    rebuilding.cancel()
                if watcher is not None:
                    with contextlib.suppress(Exception):
                        await watcher.stop()

    async def _rebuilder(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(_SETTLE)
            self._dirty.clear()
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("gateway catalog: listing the registry failed (%s)", exc)

    async def _rebuild(self, services: list[Service]) -> None:
        versions: dict[str, set[str]] = {}
        for service in services:
            if service.nodes:
                versions.setdefault(service.name, set()).add(service.version)
        self._names = set(versions)
        for name in set(self._versions) - set(versions):
            del self._versions[name]
            self._table_by_service.pop(name, None)
            self._methods.forget(name)
            log.info("gateway: service %s gone", name)
        for name, seen in sorted(versions.items()):
            if self._versions.get(name) == frozenset(seen):
                continue
            self._methods.forget(name)
            table = await self._reflect(name)
            if table is None:
                continue
            self._versions[name] = frozenset(seen)
            self._table_by_service[name] = table
            log.info("gateway: service %s with %d REST routes", name, len(table.routes))
        merged = RouteTable()
        for name in sorted(self._table_by_service):
            for route in self._table_by_service[name].routes:
                merged.add(route)
        self.routes = merged

    async def _reflect(self, name: str) -> RouteTable | None:
        try:
            descriptors = await self._methods.service_descriptors(name)
        except StatusError as exc:
            log.warning("gateway: reflection on %s failed: %s", name, exc)
            asyncio.get_running_loop().call_later(_RETRY, self._dirty.set)
            return None
        table = RouteTable()
        for descriptor in descriptors:
            for method in descriptor.methods:
                for route in routes_of(name, method):
                    table.add(route)
        return table
