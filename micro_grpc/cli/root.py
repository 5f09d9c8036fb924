"""The `micro` group: global flags, logging, and the commands under it.

Each global flag sets the `Options` field of the same name, over the
MICRO_* variable and the default (see `micro_grpc.config`): `--registry`
is MICRO_REGISTRY, `--registry-address` is MICRO_REGISTRY_ADDRESS, and so
on.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from micro_grpc.cli import call, health, new, register, server, services, watch
from micro_grpc.cli.failures import EXIT_BUG, EXIT_USAGE, Failure
from micro_grpc.cli.state import State
from micro_grpc.config import Options
from micro_grpc.errors import MicroError

__all__ = ["main", "micro"]

log = logging.getLogger(__name__)

# Flag name -> Options field; each flag's help names its variable.
_SECONDS = click.FloatRange(min=0, min_open=True)
_GLOBAL_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--registry", "registry", str, "registry kind: etcd or memory"),
    ("--registry-address", "registry_address", str, "host:port[,host:port...]"),
    ("--registry-timeout", "registry_timeout", _SECONDS, "seconds per registry query"),
    ("--registry-tls-ca", "registry_tls_ca", str, "CA file verifying the registry"),
    ("--registry-tls-cert", "registry_tls_cert", str, "client certificate file"),
    ("--registry-tls-key", "registry_tls_key", str, "client key file"),
    ("--registry-username", "registry_username", str, "registry user"),
    ("--registry-password", "registry_password", str, "registry password"),
    ("--client-tls-ca", "client_tls_ca", str, "CA file verifying services"),
    ("--client-tls-cert", "client_tls_cert", str, "certificate shown to services"),
    ("--client-tls-key", "client_tls_key", str, "key of that certificate"),
    ("--selector", "selector", str, "node selection: random or round_robin"),
)


def _global_flags(command: Any) -> Any:
    for flag, field, kind, text in reversed(_GLOBAL_FLAGS):
        variable = "MICRO_" + field.upper()
        command = click.option(
            flag, field, type=kind, default=None, help=f"{text} [{variable}]"
        )(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@_global_flags
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts; each command takes it too.",
)
@click.option("-v", "--verbose", count=True, help="Log more: -v info, -vv debug.")
@click.pass_context
def micro(ctx: click.Context, /, output: str, verbose: int, **flags: Any) -> None:
    """List, inspect, call and watch micro-grpc services.

    Services are called without their generated code: the command asks a
    node for its descriptors through gRPC server reflection.
    """
    _log_to_stderr(verbose)
    try:
        options = Options.from_env(**flags)
    except MicroError as exc:
        raise Failure(str(exc), EXIT_USAGE) from exc
    # A command's own --output is read after this, and wins.
    ctx.obj = State(options, "json" if output == "json" else "table")


for _command in (
    *services.COMMANDS,
    *call.COMMANDS,
    *health.COMMANDS,
    *watch.COMMANDS,
    *register.COMMANDS,
    *server.COMMANDS,
    *new.COMMANDS,
):
    micro.add_command(_command)


def _log_to_stderr(verbose: int) -> None:
    # The registry cache and the client log warnings while they retry; one
    # clear error line is what a person running a command should see.
    level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )


def main() -> None:
    """The console script's entry point."""
    try:
        micro.main(prog_name="micro")
    except Failure as failure:
        failure.show()
        sys.exit(failure.exit_code)
    except MicroError as exc:
        # Commands convert what they expect; this is the net under them.
        Failure(str(exc)).show()
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        # A bug, or a failure nobody foresaw: still one line; -vv shows where.
        log.debug("unexpected failure", exc_info=True)
        Failure(f"unexpected {type(exc).__name__}: {exc}").show()
        sys.exit(EXIT_BUG)
