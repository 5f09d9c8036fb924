"""Service: the one object a user makes to serve, register and call."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import signal
import socket
import time
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from micro_grpc.client import Client
from micro_grpc.client.retry import NO_RETRY, RetryPolicy
from micro_grpc.config import Options, load_registry
from micro_grpc.errors import ConfigError, RegistryError
from micro_grpc.methods import ServiceSpec
from micro_grpc.middleware import ClientMiddleware, ServerMiddleware
from micro_grpc.registry import Node, Registry
from micro_grpc.registry import Service as ServiceRecord
from micro_grpc.selector import NOT_SERVING, STATUS_KEY, Filter, Strategy
from micro_grpc.selector.outlier import DEFAULT_EJECTION, Ejection
from micro_grpc.server import Server
from micro_grpc.server.endpoints import endpoint
from micro_grpc.tls import ClientTLS, ServerTLS

__all__ = ["Service"]

log = logging.getLogger(__name__)


class Service:
    """A named, versioned service: a server, its registration and a client.

        service = Service("greeter", version="1.2.0")
        service.handle(Greeter())
        service.run()

    `run()` blocks until SIGINT or SIGTERM; inside a running event loop use
    `async with service:` or `await service.start()` / `await service.stop()`.
    Keyword options override the MICRO_* environment (see `config.Options`);
    `registry` and the TLS objects may be given ready-made.
    `server_middleware` runs around every call the service answers,
    `client_middleware` around every attempt its client makes; `selector`
    (a strategy or its name), `filters`, `retry` and `ejection` configure
    `service.client` (see `Client`).
    """

    def __init__(
        self,
        name: str,
        *,
        registry: Registry | None = None,
        tls: ServerTLS | None = None,
        client_tls: ClientTLS | None = None,
        server_middleware: Sequence[ServerMiddleware] = (),
        client_middleware: Sequence[ClientMiddleware] = (),
        selector: Strategy | str | None = None,
        filters: Sequence[Filter] = (),
        retry: RetryPolicy | None = None,
        ejection: Ejection | None = DEFAULT_EJECTION,
        **options: Any,
    ) -> None:
        if not name:
            raise ConfigError("a service needs a name")
        self.name = name
        if isinstance(selector, str):
            options["selector"] = selector
        self.options = Options.from_env(**options)
        self.id = f"{name}-{uuid.uuid4()}"
        self.registry = (
            registry if registry is not None else load_registry(self.options)
        )
        self._owns_registry = registry is None
        self.server = Server(
            self.options.address,
            tls=tls or _server_tls(self.options),
            middleware=server_middleware,
            name=name,
        )
        self.client = Client(
            self.registry,
            selector=self.options.selector if selector is None else selector,
            filters=filters,
            middleware=client_middleware,
            retry=retry or _retry(self.options),
            ejection=_ejection(self.options)
            if ejection is DEFAULT_EJECTION
            else ejection,
            tls=client_tls or _client_tls(self.options),
            timeout=self.options.client_timeout,
            query_timeout=self.options.registry_timeout,
        )
        self._record: ServiceRecord | None = None
        self._register_task: asyncio.Task[None] | None = None
        self._started = False
        self._serving = True

    @property
    def version(self) -> str:
        return self.options.version

    @property
    def address(self) -> str:
        """The `host:port` peers dial; known once the service has started."""
        if self._record is None:
            raise ConfigError(f"service {self.name} has not started")
        return self._record.nodes[0].address

    def handle(self, impl: object, spec: ServiceSpec | None = None) -> None:
        """Serve `impl`, an instance of a generated `...Base` subclass."""
        found = spec or getattr(impl, "SPEC", None)
        if not isinstance(found, ServiceSpec):
            raise ConfigError(
                f"{type(impl).__name__} is not a generated service: subclass "
                "the ...Base class that protoc-gen-micro wrote, or pass spec="
            )
        self.server.add(found, impl)

    async def start(self) -> None:
        """Serve, then register; a registry that is down is retried."""
        await self.server.start()
        self._record = self._make_record()
        self._started = True
        self._register_task = asyncio.get_running_loop().create_task(
            self._register(), name=f"micro-register-{self.name}"
        )
        await asyncio.wait({self._register_task}, timeout=self.options.registry_timeout)
        if self.options.freeze_gc:
            # What exists once serving (modules, descriptors, the registry
            # client) lives as long as the process: moved out of the
            # collector's reach, later collections stop walking it again
            # and again. Measured: about 7 % of server CPU per message on
            # pipelined streams (bench/FINDINGS.md).
            gc.freeze()
        log.info("service %s %s serving on %s", self.name, self.version, self.address)

    async def stop(self, grace: float | None = None) -> None:
        """Deregister first, so no new call is routed here, then drain."""
        if not self._started:
            return
        self._started = False
        if self._register_task is not None:
            self._register_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._register_task
        if self._record is not None:
            try:
                await self.registry.deregister(self._record)
            except RegistryError as exc:
                log.warning("could not deregister %s: %s", self.id, exc)
        if self._owns_registry:
            await self.registry.close()
        grace = self.options.grace if grace is None else grace
        draining = time.monotonic()
        await self.server.stop(grace)
        # A reply to a call this client made may still be on its way.
        await self.client.close(max(0.1, grace - (time.monotonic() - draining)))
        log.info("service %s stopped", self.name)

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def serving(self) -> bool:
        return self._serving

    async def set_serving(self, serving: bool) -> None:
        """Ask for calls (True) or, while a dependency is down, not (False).

        Health checks answer SERVING or NOT_SERVING, and the node stays
        registered with `status=not_serving` in its metadata, which every
        client learns through its registry watch and then routes around.
        Calls that still arrive are answered as usual.
        """
        self._serving = serving
        await self.server.set_serving(serving)
        if self._record is None:
            return
        self._record = self._make_record()
        if self._register_task is not None and not self._register_task.done():
            return  # the registration under way reads the new record
        try:
            await self.registry.register(self._record)
        except RegistryError as exc:
            log.warning("could not publish %s as %s: %s", self.id, _state(serving), exc)
            return
        log.info("service %s node %s is %s", self.name, self.id, _state(serving))

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then deregister and drain."""
        asyncio.run(self._run())

    async def _run(self) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await self.start()
        try:
            await stopping.wait()
        finally:
            await self.stop()

    async def _register(self) -> None:
        assert self._record is not None
        backoff = 0.5
        while True:
            try:
                await self.registry.register(self._record)
            except RegistryError as exc:
                log.warning(
                    "registering %s failed (%s); retrying in %.1fs",
                    self.id,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 10.0)
                continue
            log.info("registered %s at %s", self.id, self.address)
            return

    def _make_record(self) -> ServiceRecord:
        secure = self.server.tls is not None
        node = Node(
            id=self.id,
            address=self.options.advertise
            or _advertised(self.options.address, self.server.port),
            metadata={
                "transport": "grpc",
                "secure": str(secure).lower(),
                **self.options.metadata,
            },
        )
        if not self._serving:
            node = Node(
                node.id, node.address, {**node.metadata, STATUS_KEY: NOT_SERVING}
            )
        return ServiceRecord(
            name=self.name,
            version=self.version,
            metadata=dict(self.options.metadata),
            endpoints=tuple(
                endpoint(m) for spec in self.server.specs for m in spec.methods
            ),
            nodes=(node,),
        )


def _state(serving: bool) -> str:
    return "serving" if serving else "not serving"


def _advertised(bind: str, port: int) -> str:
    host = bind.rpartition(":")[0].strip("[]")
    if host in ("", "0.0.0.0", "::"):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _server_tls(options: Options) -> ServerTLS | None:
    if not (options.tls_cert or options.tls_key):
        return None
    if not (options.tls_cert and options.tls_key):
        raise ConfigError("MICRO_SERVER_TLS_CERT and MICRO_SERVER_TLS_KEY go together")
    return ServerTLS.from_files(
        options.tls_cert, options.tls_key, options.tls_client_ca
    )


def _client_tls(options: Options) -> ClientTLS | None:
    if not (options.client_tls_ca or options.client_tls_cert):
        return None
    return ClientTLS.from_files(
        options.client_tls_ca, options.client_tls_cert, options.client_tls_key
    )


def _retry(options: Options) -> RetryPolicy:
    backoff = options.client_retry_backoff
    return RetryPolicy(
        attempts=options.client_retries + 1,
        backoff=backoff,
        max_backoff=max(backoff, NO_RETRY.max_backoff),
    )


def _ejection(options: Options) -> Ejection:
    cooldown = options.ejection_cooldown
    return Ejection(
        failures=options.ejection_failures,
        cooldown=cooldown,
        max_cooldown=max(cooldown, DEFAULT_EJECTION.max_cooldown),
    )
