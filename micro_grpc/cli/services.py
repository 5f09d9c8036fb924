"""`micro list services` and `micro get service NAME`: what the registry holds."""

from __future__ import annotations

import asyncio

import click

from micro_grpc.cli.failures import run
from micro_grpc.cli.output import describe_service, echo_json
from micro_grpc.cli.state import State, connect, output_option, pass_state
from micro_grpc.errors import RegistryError
from micro_grpc.registry import Service

__all__ = ["COMMANDS"]


@click.group("list")
def list_group() -> None:
    """List what the registry holds."""


@list_group.command("services")
@output_option
@pass_state
def list_services(state: State) -> None:
    """Names of the registered services, one per line, sorted."""
    names = run(_names(state))
    if state.json:
        echo_json(names)
    else:
        for name in names:
            click.echo(name)


async def _names(state: State) -> list[str]:
    async with connect(state) as conn:
        try:
            async with asyncio.timeout(conn.timeout):
                found = await conn.registry.list_services()
        except TimeoutError:
            raise RegistryError(f"no answer within {conn.timeout:g}s") from None
    return sorted({service.name for service in found})


@click.group("get")
def get_group() -> None:
    """Show one thing the registry holds, in full."""


@get_group.command("service")
@click.argument("name")
@output_option
@pass_state
def get_service(state: State, name: str) -> None:
    """Each version of NAME: its nodes and its endpoints with their fields."""
    versions = run(_versions(state, name))
    if state.json:
        echo_json([service.to_dict() for service in versions])
    else:
        click.echo(describe_service(versions))


async def _versions(state: State, name: str) -> list[Service]:
    async with connect(state) as conn:
        return await conn.services(name)


COMMANDS = (list_group, get_group)
