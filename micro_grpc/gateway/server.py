"""The gateway's HTTP server: its lifecycle, its routes and its edge duties.

`start` follows the registry first (so the first requests already know
the registered names and REST routes), then binds. `stop` closes the
listener, lets requests in flight finish, and stops following.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import grpc
from aiohttp import web
from aiohttp.typedefs import Handler

from micro_grpc.client import Client
from micro_grpc.client.dynamic import DynamicMethods
from micro_grpc.config import Options, load_registry
from micro_grpc.errors import ConfigError, Internal, StatusError
from micro_grpc.gateway.access_log import AccessLog, observer_class
from micro_grpc.gateway.catalog import Catalog
from micro_grpc.gateway.errors import HttpError, error_response
from micro_grpc.gateway.handlers import Handlers
from micro_grpc.gateway.headers import Cors
from micro_grpc.gateway.options import GatewayOptions
from micro_grpc.gateway.stats import Stats, render_html
from micro_grpc.tls import ClientTLS

__all__ = ["Gateway", "run_gateway"]

log = logging.getLogger(__name__)

_STATS_PATH = "/stats"


class Gateway:
    """One HTTP door in front of every registered service.

        gateway = Gateway(client, GatewayOptions(address="127.0.0.1:0"))
        await gateway.start()
        ...  # POST {gateway.url}/greeter/hello
        await gateway.stop()

    Calls go through `client`, so through its registry cache, selector and
    channel pool, like any other caller's.
    """

    def __init__(self, client: Client, options: GatewayOptions | None = None) -> None:
        self.options = options if options is not None else GatewayOptions.from_env()
        self.client = client
        self.methods = DynamicMethods(client)
        self.catalog = Catalog(client, self.methods)
        self.stats = Stats()
        self._access_log = AccessLog(self.options.access_log)
        self._cors = Cors(self.options.cors_origins, self.options.allowed_headers)
        self._handlers = Handlers(client, self.methods, self.catalog, self.options)
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def port(self) -> int:
        """The bound port; known once started."""
        if self._runner is None:
            raise ConfigError("the gateway has not started")
        return self._port

    @property
    def url(self) -> str:
        """`http://host:port` (or https) of the started gateway."""
        scheme = "https" if self.options.tls_cert else "http"
        host = self.options.host_port[0]
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Follow the registry, then bind and serve."""
        host, port = self.options.host_port
        context = self._ssl_context()
        app = web.Application(
            middlewares=[self._edge], client_max_size=self.options.body_limit
        )
        app.on_response_prepare.append(self._decorate)
        app.router.add_route("*", _STATS_PATH, self._stats)
        app.router.add_route("*", "/rpc", self._handlers.rpc)
        app.router.add_route("*", "/{tail:.*}", self._handlers.route)

        self._access_log.open()
        await self.catalog.start()
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=logging.getLogger("micro_grpc.gateway.access"),
            access_log_class=observer_class(self._access_log, [self._count]),
            logger=_ProtocolLog(log, {}),
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await self.catalog.stop()
            raise ConfigError(
                f"gateway cannot bind {self.options.address}: {exc.strerror}"
            ) from exc
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        log.info("gateway serving on %s", self.url)

    async def stop(self) -> None:
        """Stop listening, finish requests in flight, stop following."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()
        await self.catalog.stop()
        self._access_log.close()
        log.info("gateway stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @web.middleware
    async def _edge(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._cors.is_preflight(request):
            if not self._cors.allows(request.headers["Origin"]):
                return error_response(
                    HttpError(
                        "origin not allowed",
                        http_status=403,
                        code=grpc.StatusCode.PERMISSION_DENIED,
                    )
                )
            return self._cors.preflight(request)
        try:
            return await handler(request)
        except StatusError as exc:
            return error_response(exc)
        except web.HTTPException as exc:
            # aiohttp's own refusals (a payload too large to parse) get the
            # same JSON body as ours.
            code = grpc.StatusCode.INVALID_ARGUMENT
            if exc.status >= 500:
                code = grpc.StatusCode.INTERNAL
            return error_response(
                HttpError(exc.reason, http_status=exc.status, code=code)
            )
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("gateway failed on %s %s", request.method, request.path)
            return error_response(Internal("internal error"))

    async def _decorate(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        self._cors.decorate(request, response)

    async def _stats(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            raise HttpError(
                f"{request.method} is not allowed here; use GET",
                http_status=405,
                code=grpc.StatusCode.UNIMPLEMENTED,
                headers={"Allow": "GET, HEAD"},
            )
        snapshot = self.stats.snapshot()
        accept = request.headers.get("Accept", "")
        if request.query.get("format") == "json" or (
            "application/json" in accept and "text/html" not in accept
        ):
            return web.json_response(snapshot)
        return web.Response(text=render_html(snapshot), content_type="text/html")

    def _count(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        # The page's own requests are left out, so reading the counts does
        # not change them.
        if request.path != _STATS_PATH:
            self.stats.record(response.status)

    def _ssl_context(self) -> ssl.SSLContext | None:
        options = self.options
        if not options.tls_cert:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(options.tls_cert, options.tls_key)
            if options.tls_client_ca:
                context.load_verify_locations(options.tls_client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"gateway TLS files cannot be used: {exc}") from exc
        return context


class _ProtocolLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's log of requests it refuses before any handler runs.

    Every handler error is caught by the gateway's middleware, so what
    aiohttp itself reports is a caller's broken HTTP (garbage, TLS on the
    plain port): the caller's mistake, logged at debug, not an error.
    """

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        kwargs.setdefault("exc_info", True)
        self.debug(msg, *args, **kwargs)


async def run_gateway(options: Options, gateway_options: GatewayOptions) -> None:
    """Serve the gateway on the registry `options` names, until cancelled."""
    registry = load_registry(options)
    tls = None
    if options.client_tls_ca or options.client_tls_cert:
        tls = ClientTLS.from_files(
            options.client_tls_ca, options.client_tls_cert, options.client_tls_key
        )
    client = Client(
        registry,
        selector=options.selector,
        tls=tls,
        timeout=options.client_timeout,
        query_timeout=options.registry_timeout,
    )
    gateway = Gateway(client, gateway_options)
    try:
        await gateway.start()
        await asyncio.Event().wait()
    finally:
        await gateway.stop()
        await client.close()
        await registry.close()
