"""What every command shares: the settings, the output form, a connection."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import click

from micro_grpc.client import Client
from micro_grpc.config import Options, load_registry
from micro_grpc.errors import ConfigError, RegistryError
from micro_grpc.registry import Registry, Service
from micro_grpc.tls import ClientTLS

__all__ = [
    "Connection",
    "Output",
    "State",
    "client_tls",
    "connect",
    "foreground",
    "forever",
    "metadata_pairs",
    "output_option",
    "pass_state",
]

Output = Literal["table", "json"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class State:
    """The global flags, read once by the `micro` group."""

    options: Options = field(default_factory=Options)
    output: Output = "table"

    @property
    def json(self) -> bool:
        return self.output == "json"


pass_state = click.make_pass_decorator(State)


def output_option(command: F) -> F:
    """Add `-o/--output` to a command; it overrides the global flag."""

    def remember(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(State).output = "json" if value == "json" else "table"

    return click.option(
        "-o",
        "--output",
        type=click.Choice(["table", "json"]),
        default=None,
        expose_value=False,
        callback=remember,
        help="table for people (default), json for scripts.",
    )(command)


@dataclass(slots=True)
class Connection:
    """A registry and a client on it, for the length of one command."""

    registry: Registry
    client: Client
    timeout: float

    async def services(self, name: str) -> list[Service]:
        """Every version of `name`, asked of the registry itself.

        The client's cache would answer "not found" when the registry is
        down; asking directly tells the two apart.
        """
        try:
            async with asyncio.timeout(self.timeout):
                return await self.registry.get_service(name)
        except TimeoutError:
            raise RegistryError(f"no answer within {self.timeout:g}s") from None


@contextlib.asynccontextmanager
async def connect(state: State) -> AsyncIterator[Connection]:
    """Open the registry and a client from the settings; close both after."""
    options = state.options
    registry = load_registry(options)
    client = Client(
        registry,
        selector=options.selector,
        tls=client_tls(options),
        timeout=options.client_timeout,
        query_timeout=options.registry_timeout,
    )
    try:
        yield Connection(registry, client, options.registry_timeout)
    finally:
        await client.close()
        await registry.close()


def client_tls(options: Options) -> ClientTLS | None:
    """The TLS the client dials nodes with, from the client_tls_* settings."""
    if not (options.client_tls_ca or options.client_tls_cert):
        return None
    return ClientTLS.from_files(
        options.client_tls_ca, options.client_tls_cert, options.client_tls_key
    )


def metadata_pairs(values: tuple[str, ...]) -> list[tuple[str, str]]:
    """`k=v` strings as metadata pairs; keys lower case, as gRPC wants them."""
    pairs = []
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--metadata {value!r} is not key=value")
        pairs.append((key.strip().lower(), item))
    return pairs


async def foreground(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends or Ctrl-C (or SIGTERM) comes, then return.

    The signals are caught before `work` starts, so whatever it prints to
    say it is ready is true: Ctrl-C from then on ends it cleanly. An error
    that `work` raises is raised here; a signal is a normal end.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({worker, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        worker.cancel()
        await asyncio.gather(stopper, worker, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if not worker.cancelled():
        worker.result()


async def forever() -> None:
    """Wait until cancelled: the work of a command that only holds something."""
    await asyncio.Event().wait()
