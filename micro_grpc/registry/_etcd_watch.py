"""Following the etcd registry: one Watch stream, resumed across failover."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from micro_grpc.errors import RegistryError
from micro_grpc.registry import Event
from micro_grpc.registry._etcd_client import (
    EtcdClient,
    WatchCancelled,
    WatchEvent,
    WatchStream,
)

__all__ = ["EtcdWatcher"]

log = logging.getLogger(__name__)


class EtcdWatcher:
    """Registry events under a prefix, from one etcd Watch stream.

    When the stream breaks, the watcher resumes from the next revision on
    the next endpoint, for up to `dial_timeout`, so failover loses nothing.
    Iteration raises `RegistryError` when it cannot resume in that time and
    when etcd cancels the watch (revisions compacted past it).
    """

    def __init__(
        self,
        client: EtcdClient,
        prefix: bytes,
        to_event: Callable[[WatchEvent], Event | None],
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._to_event = to_event
        self._stream: WatchStream | None = None
        self._next_revision = 0
        self._stopped = False

    async def start(self) -> None:
        """Open the stream; RegistryError when no endpoint answers."""
        self._stream = await self._client.watch(self._prefix)
        self._next_revision = self._stream.start_revision

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def stop(self) -> None:
        self._stopped = True
        if self._stream is not None:
            self._stream.cancel()

    async def _events(self) -> AsyncIterator[Event]:
        while not self._stopped:
            try:
                batch = await self._batch()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._stopped and not (task and task.cancelling()):
                    return
                raise
            for change in batch:
                self._next_revision = change.kv.mod_revision + 1
                event = self._to_event(change)
                if event is not None:
                    yield event

    async def _batch(self) -> list[WatchEvent]:
        assert self._stream is not None, "start() first"
        try:
            return await self._stream.next()
        except WatchCancelled:
            raise
        except RegistryError as exc:
            log.debug("etcd watch broken (%s); resuming", exc)
            broken = exc
        self._stream.cancel()
        await self._resume(broken)
        return []

    async def _resume(self, broken: RegistryError) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._client.dial_timeout
        delay = 0.05
        while not self._stopped:
            try:
                self._stream = await self._client.watch(
                    self._prefix, start_revision=self._next_revision
                )
                log.debug("etcd watch resumed at revision %d", self._next_revision)
                return
            except WatchCancelled:
                raise
            except RegistryError as exc:
                broken = exc
            if loop.time() + delay > deadline:
                raise RegistryError(f"etcd watch lost: {broken}") from broken
            await self._client.wait_ready(delay)
            delay = min(delay * 2, 1.0)
