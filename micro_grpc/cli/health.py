"""`micro health SERVICE`: ask every node for its grpc.health.v1 status."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from micro_grpc.cli.failures import EXIT_REMOTE, Failure, run
from micro_grpc.cli.output import echo_json, table
from micro_grpc.cli.state import Connection, State, connect, output_option, pass_state
from micro_grpc.errors import from_rpc_error
from micro_grpc.registry import Node

__all__ = ["COMMANDS"]

SERVING = "SERVING"


@dataclass(frozen=True, slots=True)
class NodeHealth:
    version: str
    id: str
    address: str
    status: str
    error: str = ""


@click.command("health")
@click.argument("service")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Seconds to wait for each node.",
)
@output_option
@pass_state
def health_command(state: State, service: str, timeout: float) -> None:
    """Every node of SERVICE with its grpc.health.v1 status.

    Exits 1 when any node is not SERVING.
    """
    report = run(_check_all(state, service, timeout))
    if state.json:
        echo_json([asdict(entry) for entry in report])
    else:
        rows = [(e.version or "-", e.id, e.address, _status(e)) for e in report]
        click.echo(table(["version", "node", "address", "status"], rows))
    unwell = [e.id for e in report if e.status != SERVING]
    if unwell:
        raise Failure(
            f"{len(unwell)} of {len(report)} nodes of {service} not serving",
            EXIT_REMOTE,
        )


async def _check_all(state: State, service: str, timeout: float) -> list[NodeHealth]:
    async with connect(state) as conn:
        versions = await conn.services(service)
        checks = [
            _check(conn, record.version, node, timeout)
            for record in versions
            for node in record.nodes
        ]
        return list(await asyncio.gather(*checks))


async def _check(
    conn: Connection, version: str, node: Node, timeout: float
) -> NodeHealth:
    secure = node.metadata.get("secure") == "true"
    stub = health_pb2_grpc.HealthStub(conn.client.channel(node.address, secure=secure))
    try:
        # "" asks about the whole server rather than one proto service.
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=""), timeout=timeout
        )
    except grpc.aio.AioRpcError as exc:
        error = from_rpc_error(exc)
        status = "UNREACHABLE" if error.code in _UNREACHABLE else error.code.name
        return NodeHealth(version, node.id, node.address, status, error.message)
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return NodeHealth(version, node.id, node.address, name)


def _status(entry: NodeHealth) -> str:
    return f"{entry.status} ({entry.error})" if entry.error else entry.status


_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

COMMANDS = (health_command,)
