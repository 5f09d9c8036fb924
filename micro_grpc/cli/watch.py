"""`micro watch [SERVICE]`: registry events as they happen, until Ctrl-C."""

from __future__ import annotations

import time

import click

from micro_grpc.cli.failures import run
from micro_grpc.cli.output import echo_json_line
from micro_grpc.cli.state import State, foreground, output_option, pass_state
from micro_grpc.config import load_registry
from micro_grpc.registry import Event, EventType, Watcher

__all__ = ["COMMANDS"]

# The words a person reads for each change.
WORDS = {
    EventType.CREATE: "added",
    EventType.UPDATE: "updated",
    EventType.DELETE: "removed",
}


@click.command("watch")
@click.argument("service", required=False)
@output_option
@pass_state
def watch_command(state: State, service: str | None) -> None:
    """Print nodes added, updated and removed, as they happen, until Ctrl-C.

    One line per event: time, event, service, version, node and address;
    with --output json, one JSON object per line. SERVICE limits it to one
    service.
    """
    run(_watch(state, service))


async def _watch(state: State, service: str | None) -> None:
    registry = load_registry(state.options)
    try:
        watcher = await registry.watch(service)
        try:
            await foreground(_follow(watcher, service, state.json))
        finally:
            await watcher.stop()
    finally:
        await registry.close()


async def _follow(watcher: Watcher, service: str | None, as_json: bool) -> None:
    click.echo(f"watching {service or 'every service'}; Ctrl-C stops", err=True)
    async for event in watcher:
        if as_json:
            echo_json_line(_event_dict(event))
        else:
            click.echo(_event_line(event))


def _event_dict(event: Event) -> dict[str, object]:
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "event": WORDS[event.type],
        "service": event.service.to_dict(),
    }


def _event_line(event: Event) -> str:
    service = event.service
    nodes = service.nodes or ()
    node = nodes[0] if nodes else None
    cells = [
        time.strftime("%H:%M:%S"),
        WORDS[event.type].ljust(7),
        service.name,
        service.version or "-",
        node.id if node else "-",
        (node.address if node else "") or "-",
    ]
    return "  ".join(cells)


COMMANDS = (watch_command,)
