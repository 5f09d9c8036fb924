"""A small etcd v3 client over grpc.aio: what the etcd registry needs.

It speaks etcd's gRPC API through the stubs `aetcd` generates (`aetcd.rpc`),
not through `aetcd.Client`, so that failover, authentication and TLS work
the way the registry wants them to. The stubs are untyped; everything this
module hands out is typed.

Failover: the client talks to one endpoint at a time. A call that finds it
unreachable (UNAVAILABLE, or no answer in time) moves on to the next one and
tries again, once per endpoint, before giving up with `RegistryError`.
Streams (watch, lease keepalive) cannot be replayed here; their owners see a
`RegistryError` and open a new stream, which goes to the next endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from aetcd.rpc import rpc_pb2, rpc_pb2_grpc

from micro_grpc.errors import RegistryError

__all__ = [
    "EtcdClient",
    "KeyValue",
    "LeaseKeepAlive",
    "LeaseNotFound",
    "TLSConfig",
    "WatchCancelled",
    "WatchEvent",
    "WatchStream",
    "prefix_end",
]

# grpc-stubs does not declare the end-of-stream sentinel.
_EOF: Any = getattr(grpc.aio, "EOF")  # noqa: B009

log = logging.getLogger(__name__)

_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    # grpc's own reconnect backoff grows to two minutes by default; a
    # registry must notice a returning etcd within one heartbeat.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    # Pings find a dead peer behind a silent partition. etcd refuses
    # pings more often than every 5 s.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
]


class LeaseNotFound(RegistryError):
    """The lease is gone: expired, revoked, or etcd lost its data."""


class WatchCancelled(RegistryError):
    """etcd cancelled a watch; `compact_revision` is set when compacted."""

    def __init__(self, message: str, *, compact_revision: int = 0) -> None:
        super().__init__(message)
        self.compact_revision = compact_revision


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """PEM bytes for a TLS channel; None means system roots / no client cert."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    @classmethod
    def from_pb(cls, kv: Any) -> KeyValue:
        return cls(
            key=bytes(kv.key),
            value=bytes(kv.value),
            create_revision=int(kv.create_revision),
            mod_revision=int(kv.mod_revision),
            version=int(kv.version),
            lease=int(kv.lease),
        )


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change seen by a watch; `prev_kv` is the value before it, if kept."""

    deleted: bool
    kv: KeyValue
    prev_kv: KeyValue | None


def prefix_end(prefix: bytes) -> bytes:
    """The range end that makes a range or watch cover every key under prefix."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


@dataclass(slots=True)
class _Connection:
    channel: grpc.aio.Channel
    kv: Any
    lease: Any
    watch: Any
    auth: Any


class EtcdClient:
    """The etcd calls the registry makes, with failover, auth and TLS."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        tls: TLSConfig | None = None,
        username: str | None = None,
        password: str | None = None,
        dial_timeout: float = 5.0,
        request_timeout: float = 5.0,
    ) -> None:
        self._endpoints = tuple(endpoints)
        self._current = 0
        self._tls = tls
        self._username = username
        self._password = password
        self.dial_timeout = dial_timeout
        self.request_timeout = request_timeout
        self._connections: dict[str, _Connection] = {}
        self._token: str | None = None
        self._auth_lock = asyncio.Lock()

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self._endpoints

    @property
    def endpoint(self) -> str:
        """The endpoint calls go to until it fails."""
        return self._endpoints[self._current]

    # -- key-value ---------------------------------------------------------

    async def range_prefix(self, prefix: bytes) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, and the revision they were read at."""
        request = rpc_pb2.RangeRequest(key=prefix, range_end=prefix_end(prefix))
        reply = await self._unary("kv", "Range", request)
        return [KeyValue.from_pb(kv) for kv in reply.kvs], int(reply.header.revision)

    async def put(self, key: bytes, value: bytes, *, lease: int = 0) -> int:
        """Write `key`, attached to `lease` when given; returns the revision."""
        request = rpc_pb2.PutRequest(key=key, value=value, lease=lease)
        reply = await self._unary("kv", "Put", request)
        return int(reply.header.revision)

    async def delete(self, key: bytes) -> int:
        """Delete `key` (absent is fine); returns the number deleted."""
        reply = await self._unary(
            "kv", "DeleteRange", rpc_pb2.DeleteRangeRequest(key=key)
        )
        return int(reply.deleted)

    # -- leases ------------------------------------------------------------

    async def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of about `ttl` seconds: (id, the TTL etcd granted)."""
        reply = await self._unary(
            "lease", "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=ttl)
        )
        if reply.error:
            raise RegistryError(f"etcd refused a lease: {reply.error}")
        return int(reply.ID), int(reply.TTL)

    async def revoke(self, lease_id: int) -> None:
        """Revoke a lease, deleting its keys; an unknown lease is no error."""
        with contextlib.suppress(LeaseNotFound):
            await self._unary(
                "lease", "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease_id)
            )

    async def keepalive_stream(self) -> LeaseKeepAlive:
        endpoint = self.endpoint
        call = self._connection(endpoint).lease.LeaseKeepAlive(
            metadata=await self._metadata()
        )
        return LeaseKeepAlive(self, endpoint, call)

    # -- watches -----------------------------------------------------------

    async def watch(self, prefix: bytes, *, start_revision: int = 0) -> WatchStream:
        """Watch every key under `prefix` from `start_revision` (0: from now).

        Returns once etcd has created the watch; raises `WatchCancelled` when
        `start_revision` is already compacted.
        """
        create = rpc_pb2.WatchCreateRequest(
            key=prefix,
            range_end=prefix_end(prefix),
            start_revision=start_revision,
            prev_kv=True,
        )
        failures: list[str] = []
        for _ in self._endpoints:
            endpoint = self.endpoint
            # "hasleader" asks etcd to cancel the watch if this member loses
            # its leader, rather than leave it silently behind the cluster.
            metadata = (*await self._metadata(), ("hasleader", "true"))
            call = self._connection(endpoint).watch.Watch(metadata=metadata)
            stream = WatchStream(self, endpoint, call)
            try:
                await stream.create(
                    create, timeout=self.request_timeout + self.dial_timeout
                )
            except RegistryError as exc:
                stream.cancel()
                # Only an unreachable endpoint is left behind; try the next.
                if isinstance(exc, WatchCancelled) or self.endpoint == endpoint:
                    raise
                failures.append(str(exc))
                continue
            except BaseException:
                stream.cancel()
                raise
            return stream
        raise RegistryError(
            f"etcd unreachable at {', '.join(self._endpoints)}: " + "; ".join(failures)
        )

    # -- connections -------------------------------------------------------

    async def wait_ready(self, timeout: float) -> None:
        """Wait up to `timeout` for the current endpoint to accept connections."""
        channel = self._connection(self.endpoint).channel
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await channel.channel_ready()

    async def close(self) -> None:
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            await connection.channel.close(None)

    def stream_error(
        self, endpoint: str, code: grpc.StatusCode, details: str | None
    ) -> RegistryError:
        """Record a stream failure and turn it into a RegistryError."""
        if code in _UNREACHABLE:
            self.mark_failed(endpoint)
        elif _token_rejected(code, details or ""):
            self._token = None
        return self._error(endpoint, code, details or "")

    def mark_failed(self, endpoint: str) -> None:
        # Concurrent calls may all fail on the same endpoint; move on once.
        if self.endpoint == endpoint:
            self._current = (self._current + 1) % len(self._endpoints)

    def _connection(self, endpoint: str) -> _Connection:
        connection = self._connections.get(endpoint)
        if connection is None:
            if self._tls is None:
                channel = grpc.aio.insecure_channel(endpoint, options=_CHANNEL_OPTIONS)
            else:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=self._tls.root_certificates,
                    private_key=self._tls.private_key,
                    certificate_chain=self._tls.certificate_chain,
                )
                channel = grpc.aio.secure_channel(
                    endpoint, credentials, options=_CHANNEL_OPTIONS
                )
            connection = _Connection(
                channel=channel,
                kv=rpc_pb2_grpc.KVStub(channel),
                lease=rpc_pb2_grpc.LeaseStub(channel),
                watch=rpc_pb2_grpc.WatchStub(channel),
                auth=rpc_pb2_grpc.AuthStub(channel),
            )
            self._connections[endpoint] = connection
        return connection

    async def _unary(
        self, service: str, method: str, request: Any, *, auth: bool = True
    ) -> Any:
        failures: list[tuple[str, grpc.aio.AioRpcError]] = []
        for _ in self._endpoints:
            endpoint = self.endpoint
            try:
                return await self._unary_at(endpoint, service, method, request, auth)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _UNREACHABLE:
                    raise self._error(
                        endpoint, exc.code(), exc.details() or ""
                    ) from exc
                failures.append((endpoint, exc))
                self.mark_failed(endpoint)
        endpoint, last = failures[-1]
        if _is_tls_failure(last.details() or ""):
            raise self._error(endpoint, last.code(), last.details() or "") from last
        raise RegistryError(
            f"etcd unreachable at {', '.join(self._endpoints)}: "
            + "; ".join(f"{ep}: {_describe(exc)}" for ep, exc in failures)
        ) from last

    async def _unary_at(
        self, endpoint: str, service: str, method: str, request: Any, auth: bool
    ) -> Any:
        connection = self._connection(endpoint)
        rpc = getattr(getattr(connection, service), method)
        timeout = self.request_timeout
        state = connection.channel.get_state(try_to_connect=True)
        if state is not grpc.ChannelConnectivity.READY:
            timeout += self.dial_timeout
        metadata = await self._metadata() if auth else ()
        try:
            return await rpc(request, timeout=timeout, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            if not (
                auth
                and self._username
                and _token_rejected(exc.code(), exc.details() or "")
            ):
                raise
        # The token expired (etcd keeps simple tokens for five minutes by
        # default) or etcd restarted: authenticate again, once.
        log.debug("etcd at %s rejected the auth token; authenticating again", endpoint)
        self._token = None
        metadata = await self._metadata()
        return await rpc(request, timeout=timeout, metadata=metadata)

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        if not self._username:
            return ()
        async with self._auth_lock:
            if self._token is None:
                request = rpc_pb2.AuthenticateRequest(
                    name=self._username, password=self._password or ""
                )
                try:
                    reply = await self._unary(
                        "auth", "Authenticate", request, auth=False
                    )
                except RegistryError as exc:
                    raise RegistryError(
                        f"etcd authentication as {self._username!r} failed: {exc}"
                    ) from exc
                self._token = str(reply.token)
        return (("token", self._token),)

    def _error(
        self, endpoint: str, code: grpc.StatusCode, details: str
    ) -> RegistryError:
        if code is grpc.StatusCode.NOT_FOUND and "lease not found" in details:
            return LeaseNotFound(f"etcd at {endpoint}: {details}")
        if _is_tls_failure(details):
            return RegistryError(
                f"TLS handshake with etcd at {endpoint} failed (does ca_cert "
                f"hold the CA that signed etcd's certificate?): {code.name}: {details}"
            )
        return RegistryError(f"etcd at {endpoint}: {code.name}: {details}")


class _Stream:
    """A bidirectional etcd stream on one endpoint, failures made RegistryError."""

    def __init__(self, client: EtcdClient, endpoint: str, call: Any) -> None:
        self._client = client
        self._endpoint = endpoint
        self._call = call

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def cancel(self) -> None:
        self._call.cancel()

    async def _write(self, request: Any) -> None:
        try:
            await self._call.write(request)
        except grpc.aio.AioRpcError as exc:
            error = self._client.stream_error(self._endpoint, exc.code(), exc.details())
            raise error from exc
        except asyncio.InvalidStateError:
            # The call ended before we wrote; its status says why.
            code, details = await self._call.code(), await self._call.details()
            raise self._client.stream_error(self._endpoint, code, details) from None

    async def _read(self, timeout: float) -> Any:
        try:
            async with asyncio.timeout(timeout):
                reply = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            error = self._client.stream_error(self._endpoint, exc.code(), exc.details())
            raise error from exc
        except TimeoutError:
            self._client.mark_failed(self._endpoint)
            raise RegistryError(
                f"etcd at {self._endpoint} did not answer within {timeout:g}s"
            ) from None
        if reply is _EOF:
            raise RegistryError(f"etcd at {self._endpoint} ended the stream")
        return reply


class LeaseKeepAlive(_Stream):
    """One LeaseKeepAlive stream: send a renewal, read the TTL etcd answers."""

    async def renew(self, lease_id: int, *, timeout: float) -> int:
        """Renew `lease_id`; its remaining TTL, or 0 when etcd lost it."""
        await self._write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
        reply = await self._read(timeout)
        return int(reply.TTL)


class WatchStream(_Stream):
    """One Watch stream: batches of events, until etcd or the network ends it."""

    start_revision = 0

    async def create(self, request: Any, *, timeout: float) -> None:
        await self._write(rpc_pb2.WatchRequest(create_request=request))
        reply = await self._read(timeout)
        if not reply.created:
            raise RegistryError(f"etcd at {self._endpoint} did not create the watch")
        self._check_cancelled(reply)
        # Events follow from the revision after the one the watch was made at.
        self.start_revision = request.start_revision or int(reply.header.revision) + 1

    async def next(self) -> list[WatchEvent]:
        """The next batch of events; raises RegistryError when the watch ends."""
        while True:
            reply = await self._read(math.inf)
            self._check_cancelled(reply)
            if reply.events:
                return [_watch_event(event) for event in reply.events]

    def _check_cancelled(self, reply: Any) -> None:
        if reply.compact_revision:
            raise WatchCancelled(
                f"etcd compacted the watched revisions up to {reply.compact_revision}",
                compact_revision=int(reply.compact_revision),
            )
        if reply.canceled:
            reason = reply.cancel_reason or "no reason given"
            raise WatchCancelled(
                f"etcd at {self._endpoint} cancelled the watch: {reason}"
            )


def _watch_event(event: Any) -> WatchEvent:
    prev = KeyValue.from_pb(event.prev_kv) if event.HasField("prev_kv") else None
    return WatchEvent(
        deleted=event.type == 1,  # mvccpb.Event.DELETE
        kv=KeyValue.from_pb(event.kv),
        prev_kv=prev,
    )


def _token_rejected(code: grpc.StatusCode, details: str) -> bool:
    return code is grpc.StatusCode.UNAUTHENTICATED or (
        "invalid auth token" in details or "auth store is old" in details
    )


def _is_tls_failure(details: str) -> bool:
    lowered = details.lower()
    return any(word in lowered for word in ("ssl", "handshake", "certificate"))


def _describe(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"
