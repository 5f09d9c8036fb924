"""The grpc.aio server behind a service: handlers, health, reflection, drain."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from micro_grpc.errors import ConfigError
from micro_grpc.methods import ServiceSpec
from micro_grpc.middleware import ServerMiddleware
from micro_grpc.server.handlers import method_handlers
from micro_grpc.tls import ServerTLS

__all__ = ["Server"]

log = logging.getLogger(__name__)

# grpc turns SO_REUSEPORT on by default; a second process could then bind a
# port that is already served and quietly take part of its calls.
_DEFAULT_OPTIONS: tuple[tuple[str, Any], ...] = (("grpc.so_reuseport", 0),)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Server:
    """Serves the handlers given to `add`, with grpc.health.v1 and reflection.

    Lifecycle: `add` handlers, `start()` binds and serves (health SERVING),
    `stop(grace)` marks every service NOT_SERVING, refuses new calls and
    lets calls in flight finish for up to `grace` seconds. `middleware`
    runs around every call, in list order; `name` is the service name it
    sees (the proto service's when empty).
    """

    def __init__(
        self,
        address: str = "127.0.0.1:0",
        *,
        tls: ServerTLS | None = None,
        options: Sequence[tuple[str, Any]] = (),
        middleware: Sequence[ServerMiddleware] = (),
        name: str = "",
    ) -> None:
        self.address = address
        self.name = name
        self.middleware = tuple(middleware)
        self.tls = tls
        self._options = (*_DEFAULT_OPTIONS, *options)
        self._specs: list[tuple[ServiceSpec, object]] = []
        self._server: grpc.aio.Server | None = None
        self._health: Any = HealthServicer()
        self.port = 0

    @property
    def specs(self) -> list[ServiceSpec]:
        return [spec for spec, _ in self._specs]

    def add(self, spec: ServiceSpec, impl: object) -> None:
        """Serve `spec` with the methods of `impl`; before `start()` only."""
        if self._server is not None:
            raise ConfigError("handlers must be added before the server starts")
        if any(seen.name == spec.name for seen in self.specs):
            raise ConfigError(f"{spec.name} is already handled by this server")
        missing = [
            m.attr for m in spec.methods if not callable(getattr(impl, m.attr, None))
        ]
        if missing:
            raise ConfigError(
                f"{type(impl).__name__} lacks {', '.join(missing)} for {spec.name}"
            )
        self._specs.append((spec, impl))

    async def start(self) -> None:
        """Bind the address and serve; raises ConfigError if it cannot bind."""
        server = grpc.aio.server(options=self._options)
        for spec, impl in self._specs:
            handlers = method_handlers(spec, impl, self.middleware, self.name)
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(spec.name, handlers),)
            )
            # Registered methods skip grpc's per-call lookup by path.
            server.add_registered_method_handlers(  # type: ignore[attr-defined]
                spec.name, handlers
            )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = [spec.name for spec in self.specs]
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )

        try:
            if self.tls is None:
                port = server.add_insecure_port(self.address)
            else:
                port = server.add_secure_port(self.address, self.tls.credentials())
        except RuntimeError as exc:
            raise ConfigError(
                f"cannot listen on {self.address}: the address is in use or not local"
            ) from exc
        if port == 0:
            raise ConfigError(f"cannot listen on {self.address}")
        self.port = port
        await server.start()
        self._server = server

        for name in ("", *names):
            await self._health.set(name, SERVING)
        log.debug("serving %s on port %d", ", ".join(names) or "nothing", port)

    async def set_serving(self, serving: bool, service: str = "") -> None:
        """Answer health checks of `service` ("" is the whole server)."""
        await self._health.set(service, SERVING if serving else NOT_SERVING)

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls and give the calls in flight `grace` seconds."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._server = None

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
