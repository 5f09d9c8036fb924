"""`micro register service` and `micro deregister service`, from JSON.

For services that live outside the toolkit. The JSON is the registry's own
record of a service, as `micro get service -o json` prints one version:

    {"name": "billing", "version": "2.1.0",
     "nodes": [{"id": "billing-1", "address": "10.0.0.7:9000"}]}

Every registration in micro-grpc lives under a lease that its owner keeps
alive, so `micro register` holds the nodes registered while it runs and
deregisters them on Ctrl-C; a node it leaves behind expires after its TTL.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from micro_grpc.cli.failures import EXIT_NOT_FOUND, EXIT_USAGE, Failure, run
from micro_grpc.cli.messages import parse_json
from micro_grpc.cli.output import echo_json
from micro_grpc.cli.state import (
    State,
    connect,
    foreground,
    forever,
    output_option,
    pass_state,
)
from micro_grpc.registry import Node, Registry, Service

__all__ = ["COMMANDS"]


@click.group("register")
def register_group() -> None:
    """Put something into the registry."""


@register_group.command("service")
@click.argument("record", required=False)
@output_option
@pass_state
def register_service(state: State, record: str | None) -> None:
    """Register the nodes of the service RECORD (JSON) holds, until Ctrl-C.

    RECORD needs a name and nodes with an id and an address each; version,
    metadata and endpoints are optional. It is read from stdin when absent
    or `-`.
    """
    service = _service(record, need_address=True)
    run(_register(state, service))


async def _register(state: State, service: Service) -> None:
    async with connect(state) as conn:
        nodes = [_one(service, node) for node in service.nodes]
        await foreground(_hold(state, conn.registry, service, nodes))
        for one in nodes:
            await conn.registry.deregister(one)


async def _hold(
    state: State, registry: Registry, service: Service, nodes: list[Service]
) -> None:
    for one in nodes:
        await registry.register(one)
    if state.json:
        echo_json(service.to_dict())
    else:
        for node in service.nodes:
            click.echo(
                f"registered {service.name} {service.version or '-'} "
                f"node {node.id} at {node.address}"
            )
    click.echo("keeping the nodes registered; Ctrl-C deregisters", err=True)
    await forever()


@click.group("deregister")
def deregister_group() -> None:
    """Take something out of the registry."""


@deregister_group.command("service")
@click.argument("record", required=False)
@output_option
@pass_state
def deregister_service(state: State, record: str | None) -> None:
    """Deregister the nodes, by id, of the service RECORD (JSON) holds.

    RECORD needs a name and nodes with an id each. A node that is not
    registered is an error (exit 3), so a mistyped id does not pass quietly.
    """
    service = _service(record, need_address=False)
    removed = run(_deregister(state, service))
    if state.json:
        echo_json(removed.to_dict())
    else:
        for node in removed.nodes:
            click.echo(f"deregistered {removed.name} node {node.id}")


async def _deregister(state: State, service: Service) -> Service:
    async with connect(state) as conn:
        versions = await conn.services(service.name)
        known = {
            node.id: (record, node) for record in versions for node in record.nodes
        }
        missing = [node.id for node in service.nodes if node.id not in known]
        if missing:
            raise Failure(
                f"{service.name} has no node {', '.join(missing)}", EXIT_NOT_FOUND
            )
        removed = []
        for node in service.nodes:
            record, full = known[node.id]
            await conn.registry.deregister(_one(record, full))
            removed.append(full)
    return Service(name=service.name, version=service.version, nodes=tuple(removed))


def _one(service: Service, node: Node) -> Service:
    return Service(
        name=service.name,
        version=service.version,
        metadata=service.metadata,
        endpoints=service.endpoints,
        nodes=(node,),
    )


def _service(record: str | None, *, need_address: bool) -> Service:
    if record is None or record == "-":
        record = sys.stdin.read()
    data: Any = parse_json(record)
    if not isinstance(data, dict) or not str(data.get("name") or "").strip():
        raise Failure('the service JSON needs a "name"', EXIT_USAGE)
    nodes = data.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise Failure('the service JSON needs "nodes", a list of nodes', EXIT_USAGE)
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or not node.get("id"):
            raise Failure(f'node {index} of the service JSON needs an "id"', EXIT_USAGE)
        if need_address and not node.get("address"):
            raise Failure(
                f'node {node["id"]} of the service JSON needs an "address" (host:port)',
                EXIT_USAGE,
            )
        node.setdefault("address", "")
    try:
        return Service.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Failure(f"the service JSON is not a service record: {exc}") from exc


COMMANDS = (register_group, deregister_group)
