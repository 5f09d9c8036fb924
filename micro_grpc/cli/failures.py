"""What the `micro` command does when something fails: one line, one exit code.

Every failure a person can cause or meet (a typo in a name, bad JSON, a
registry that is down, a service answering with an error) ends the command
with one line on stderr and one of these exit codes, never a traceback:

    0    done
    1    the service answered with an error status, or a node is unhealthy
    2    the command line or its input is wrong (usage, JSON, a field, a setting)
    3    no such service, endpoint or node
    4    the registry cannot be reached or read
    70   something unforeseen failed (a bug: -vv logs the traceback)
    130  interrupted (Ctrl-C) while a call was running
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

from micro_grpc.errors import (
    ConfigError,
    MicroError,
    RegistryError,
    ServiceNotFound,
    StatusError,
)

__all__ = [
    "EXIT_BUG",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_REGISTRY",
    "EXIT_REMOTE",
    "EXIT_USAGE",
    "Failure",
    "run",
]

EXIT_REMOTE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_REGISTRY = 4
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

T = TypeVar("T")


class Failure(Exception):
    """A failure to report as `error: <message>`, exiting with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        # One line, however the message was built.
        self.message = " ".join(message.split())
        self.exit_code = exit_code
        super().__init__(self.message)

    def show(self) -> None:
        click.echo(f"error: {self.message}", err=True)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine, turning micro-grpc errors into Failures."""
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        raise Failure("interrupted", EXIT_INTERRUPTED) from None
    except MicroError as exc:
        raise failure_of(exc) from exc


def failure_of(exc: MicroError) -> Failure:
    """The line and exit code a person should see for `exc`."""
    if isinstance(exc, ServiceNotFound):
        return Failure(f"service not found: {exc.service}", EXIT_NOT_FOUND)
    if isinstance(exc, RegistryError):
        return Failure(f"registry: {exc}", EXIT_REGISTRY)
    if isinstance(exc, ConfigError):
        return Failure(str(exc), EXIT_USAGE)
    if isinstance(exc, StatusError):
        return Failure(f"{exc.code.name}: {exc.message}", EXIT_REMOTE)
    return Failure(str(exc), EXIT_REMOTE)
