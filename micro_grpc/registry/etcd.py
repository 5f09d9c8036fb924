"""The etcd registry: nodes under one lease per process, found by watches.

Every node this process registers is put at `<prefix><service>/<node-id>`
(by default `/micro/registry/greeter/greeter-1a2b`), its value the JSON of
the service holding that one node, all under a single lease. One background
task keeps the lease alive over one LeaseKeepAlive stream, renewing it every
third of its TTL. If the lease is lost (etcd restarted empty, a partition
longer than the TTL) the task grants a new one and puts every node again;
while etcd cannot be reached it retries, with a warning, and never raises.
`close()` revokes the lease, so the nodes vanish at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from micro_grpc.errors import RegistryError, ServiceNotFound
from micro_grpc.registry import Event, EventType, Node, Service, merge_services
from micro_grpc.registry._etcd_client import (
    EtcdClient,
    KeyValue,
    LeaseNotFound,
    TLSConfig,
    WatchEvent,
)
from micro_grpc.registry._etcd_options import (
    DEFAULTS,
    EtcdOptions,
    Pem,
    parse_endpoints,
    read_pem,
    validate,
)
from micro_grpc.registry._etcd_watch import EtcdWatcher

if TYPE_CHECKING:
    from micro_grpc.config import Options

__all__ = ["EtcdOptions", "EtcdRegistry", "EtcdWatcher", "Pem"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Lease:
    id: int
    ttl: int

    @property
    def interval(self) -> float:
        return self.ttl / 3


class EtcdRegistry:
    """A `Registry` kept in etcd, speaking its v3 gRPC API.

    `endpoints` are `host:port` of etcd members (an `http://` or `https://`
    scheme is accepted; `https` turns TLS on). Calls go to one member and
    move on to the next when it is unavailable.

    TLS is on when `ca_cert`, `cert` or an `https://` endpoint is given.
    `ca_cert` verifies etcd (system roots when omitted); `cert` and `key`
    are the client certificate for mutual TLS. Each is a file path or the
    PEM bytes themselves; files are read once, here.

    `username` and `password` authenticate to etcd; the token it returns is
    sent on every call and fetched again when etcd rejects it.

    `ttl` is the lease TTL in seconds, rounded up to whole seconds since
    etcd counts them so. `dial_timeout` bounds connecting to one member;
    `request_timeout` bounds each call once connected.
    """

    def __init__(
        self,
        *,
        endpoints: Sequence[str] | str = DEFAULTS.endpoints,
        ttl: float = DEFAULTS.ttl,
        prefix: str = DEFAULTS.prefix,
        ca_cert: Pem | None = None,
        cert: Pem | None = None,
        key: Pem | None = None,
        username: str | None = None,
        password: str | None = None,
        dial_timeout: float = DEFAULTS.dial_timeout,
        request_timeout: float = DEFAULTS.request_timeout,
    ) -> None:
        if isinstance(endpoints, str):
            endpoints = endpoints.split(",")
        hosts, https = parse_endpoints(endpoints)
        self.options = EtcdOptions(
            endpoints=hosts,
            ttl=ttl,
            prefix=prefix if prefix.endswith("/") else prefix + "/",
            ca_cert=ca_cert,
            cert=cert,
            key=key,
            username=username,
            password=password,
            dial_timeout=dial_timeout,
            request_timeout=request_timeout,
        )
        validate(self.options)

        tls = None
        if https or ca_cert is not None or cert is not None:
            tls = TLSConfig(
                root_certificates=read_pem("ca_cert", ca_cert),
                certificate_chain=read_pem("cert", cert),
                private_key=read_pem("key", key),
            )
        self._client = EtcdClient(
            hosts,
            tls=tls,
            username=username,
            password=password,
            dial_timeout=dial_timeout,
            request_timeout=request_timeout,
        )
        self._prefix = self.options.prefix.encode()
        # key -> value of every node this process has registered
        self._registered: dict[bytes, bytes] = {}
        self._lease: _Lease | None = None
        self._lock = asyncio.Lock()
        self._heartbeat_task: asyncio.Task[None] | None = None
        # Seconds the heartbeat waits before its next attempt; 0 while well.
        self._retry_delay = 0.0

    @classmethod
    def from_address(cls, address: str, **options: Any) -> EtcdRegistry:
        """A registry for a comma-separated address, as in MICRO_REGISTRY_ADDRESS.

        `"127.0.0.1:2379,127.0.0.1:22379"`; the other keyword options are
        those of the constructor.
        """
        return cls(endpoints=[a for a in address.split(",") if a.strip()], **options)

    @classmethod
    def from_options(cls, options: Options) -> EtcdRegistry:
        """The registry the MICRO_REGISTRY_* settings describe."""
        return cls.from_address(
            options.registry_address,
            ttl=options.register_ttl,
            ca_cert=options.registry_tls_ca or None,
            cert=options.registry_tls_cert or None,
            key=options.registry_tls_key or None,
            username=options.registry_username or None,
            password=options.registry_password or None,
            request_timeout=options.registry_timeout,
        )

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.options.endpoints

    # -- Registry ----------------------------------------------------------

    async def register(self, service: Service) -> None:
        """Put `service.nodes[0]` under this process's lease.

        The first call grants the lease and starts the heartbeat. When etcd
        cannot be reached this raises `RegistryError`, but the node is kept:
        the heartbeat puts it as soon as etcd answers again.
        """
        node = _only_node(service)
        key = self._key(service.name, node.id)
        value = json.dumps(service.to_dict()).encode()
        self._registered[key] = value

        try:
            async with self._lock:
                lease = self._lease
                if lease is None:
                    # Granting puts every registered node, this one included.
                    await self._ensure_lease()
                else:
                    try:
                        await self._client.put(key, value, lease=lease.id)
                    except LeaseNotFound:
                        log.warning("etcd lease %x is gone; granting another", lease.id)
                        self._lease = None
                        await self._ensure_lease()
        finally:
            # Started even when etcd is unreachable: it puts the node later.
            self._start_heartbeat()
        log.info(
            "registered %s node %s (%s) in etcd", service.name, node.id, node.address
        )

    async def deregister(self, service: Service) -> None:
        """Delete the key of `service.nodes[0]`; absent is no error."""
        node = _only_node(service)
        key = self._key(service.name, node.id)
        self._registered.pop(key, None)
        await self._client.delete(key)
        log.info("deregistered %s node %s from etcd", service.name, node.id)

    async def get_service(self, name: str) -> list[Service]:
        """Every version of `name` with its nodes; `ServiceNotFound` if none."""
        kvs, _ = await self._client.range_prefix(self._service_prefix(name))
        services = merge_services(self._decode_all(kvs))
        if not services:
            raise ServiceNotFound(name)
        return services

    async def list_services(self) -> list[Service]:
        """Every service, one entry per name and version, nodes included."""
        kvs, _ = await self._client.range_prefix(self._prefix)
        return merge_services(self._decode_all(kvs))

    async def watch(self, service: str | None = None) -> EtcdWatcher:
        """Follow one service, or all, from the next revision on.

        Raises `RegistryError` when etcd cannot be reached.
        """
        prefix = self._prefix if service is None else self._service_prefix(service)
        watcher = EtcdWatcher(self._client, prefix, self._event)
        await watcher.start()
        return watcher

    async def close(self) -> None:
        """Stop the heartbeat, revoke the lease (its nodes go at once), disconnect.

        Revoking first means no new call is routed here while the server
        drains.
        """
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
            self._heartbeat_task = None
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                await self._client.revoke(lease.id)
                log.info(
                    "revoked etcd lease %x of %d nodes", lease.id, len(self._registered)
                )
            except RegistryError as exc:
                log.warning(
                    "could not revoke etcd lease %x (%s); its nodes expire within %ds",
                    lease.id,
                    exc,
                    lease.ttl,
                )
        self._registered.clear()
        await self._client.close()

    # -- lease and heartbeat -----------------------------------------------

    async def _ensure_lease(self) -> _Lease:
        # Callers hold self._lock.
        if self._lease is not None:
            return self._lease
        lease_id, granted = await self._client.grant(
            max(1, math.ceil(self.options.ttl))
        )
        lease = _Lease(lease_id, granted)
        # A failure here leaves the new lease to expire; the next attempt
        # grants another and puts every node again.
        for key, value in list(self._registered.items()):
            await self._client.put(key, value, lease=lease.id)
        self._lease = lease
        log.debug("granted etcd lease %x, ttl %ds", lease.id, lease.ttl)
        return lease

    def _start_heartbeat(self) -> None:
        if self._heartbeat_task is None:
            self._heartbeat_task = asyncio.get_running_loop().create_task(
                self._heartbeat(), name="micro-etcd-heartbeat"
            )

    async def _heartbeat(self) -> None:
        interval = max(1, math.ceil(self.options.ttl)) / 3
        while True:
            try:
                lease = self._lease
                if lease is None:
                    # Not taken while a lease exists: a register() stuck on a
                    # slow member must not hold up the renewals.
                    async with self._lock:
                        lease = await self._ensure_lease()
                    self._reachable()
                await self._keep_alive(lease)
                if self._lease is lease:
                    log.warning(
                        "etcd lease %x lost (expired, or etcd lost its data); "
                        "registering %d nodes again",
                        lease.id,
                        len(self._registered),
                    )
                    self._lease = None
                continue
            except asyncio.CancelledError:
                raise
            except RegistryError as exc:
                if self._retry_delay == 0:
                    log.warning(
                        "etcd heartbeat failed (%s); retrying, %d nodes to keep",
                        exc,
                        len(self._registered),
                    )
                else:
                    log.debug("etcd heartbeat still failing: %s", exc)
            except Exception:
                log.exception("etcd heartbeat failed unexpectedly; retrying")
            self._retry_delay = min(max(self._retry_delay * 2, 0.05), interval)
            # Returns early once the next endpoint accepts a connection, so
            # a returning etcd is seen well within one heartbeat interval.
            await self._client.wait_ready(self._retry_delay)

    async def _keep_alive(self, lease: _Lease) -> None:
        """Renew `lease` every third of its TTL; return when etcd lost it."""
        # A renewal unanswered within one interval goes to the next member;
        # waiting longer would risk the lease.
        timeout = min(self._client.request_timeout, lease.interval)
        stream = await self._client.keepalive_stream()
        try:
            while self._lease is lease:
                if await stream.renew(lease.id, timeout=timeout) <= 0:
                    return
                self._reachable()
                await asyncio.sleep(lease.interval)
        finally:
            stream.cancel()

    def _reachable(self) -> None:
        if self._retry_delay:
            log.warning(
                "etcd reachable again at %s; %d nodes registered",
                self._client.endpoint,
                len(self._registered),
            )
        self._retry_delay = 0.0

    # -- keys and values ---------------------------------------------------

    def _service_prefix(self, name: str) -> bytes:
        return self._prefix + _segment(name).encode() + b"/"

    def _key(self, name: str, node_id: str) -> bytes:
        return self._service_prefix(name) + _segment(node_id).encode()

    def _decode_all(self, kvs: list[KeyValue]) -> list[Service]:
        services = []
        for kv in kvs:
            service = _decode(kv)
            if service is not None:
                services.append(service)
        return services

    def _event(self, event: WatchEvent) -> Event | None:
        if not event.deleted:
            service = _decode(event.kv)
            if service is None:
                return None
            kind = EventType.CREATE if event.kv.version == 1 else EventType.UPDATE
            return Event(kind, service)
        if event.prev_kv is not None:
            service = _decode(event.prev_kv)
            if service is not None:
                return Event(EventType.DELETE, service)
        # The value is gone (compacted away): name and node id from the key.
        name, _, node_id = event.kv.key[len(self._prefix) :].decode().partition("/")
        if not node_id:
            return None
        return Event(EventType.DELETE, Service(name=name, nodes=(Node(node_id, ""),)))


def _decode(kv: KeyValue) -> Service | None:
    try:
        return Service.from_dict(json.loads(kv.value))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("skipping unreadable registry record %r: %s", kv.key, exc)
        return None


def _only_node(service: Service) -> Node:
    if len(service.nodes) != 1:
        raise ValueError(
            f"register one node at a time; {service.name} has {len(service.nodes)}"
        )
    return service.nodes[0]


def _segment(name: str) -> str:
    # A "/" inside a name would add a level to the key, as in go-micro.
    return name.replace("/", "-")
