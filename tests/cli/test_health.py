"""`micro health`: every node of a service with its grpc.health.v1 status."""

from __future__ import annotations

import json

from examples.greeter.server import Greeter
from micro_grpc.registry import Node, Service
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import (
    GreeterProcess,
    ServeFactory,
    assert_fails,
    free_port,
    run_micro,
)


async def test_serving_node(etcd: EtcdProcess, greeter_process: GreeterProcess) -> None:
    table = await run_micro(etcd, "health", "greeter")
    as_json = await run_micro(etcd, "health", "greeter", "-o", "json")

    assert table.code == 0, table
    header, row = table.lines
    assert header.split() == ["VERSION", "NODE", "ADDRESS", "STATUS"]
    version, node_id, address, status = row.split()
    assert (version, address, status) == ("1.0.0", greeter_process.address, "SERVING")
    assert node_id.startswith("greeter-")
    assert as_json.code == 0
    assert json.loads(as_json.stdout) == [
        {
            "version": "1.0.0",
            "id": node_id,
            "address": greeter_process.address,
            "status": "SERVING",
            "error": "",
        }
    ]


async def test_unwell_nodes_fail_the_check(
    etcd: EtcdProcess, serve: ServeFactory, registry: EtcdRegistry
) -> None:
    await serve("mixed", Greeter(), version="2.0.0")
    resting = await serve("mixed", Greeter(), version="2.0.0")
    await resting.server.set_serving(False)
    gone = f"127.0.0.1:{free_port()}"
    await registry.register(
        Service(name="mixed", version="1.0.0", nodes=(Node("mixed-gone", gone),))
    )

    table = await run_micro(etcd, "health", "mixed", "--timeout", "1")
    as_json = await run_micro(etcd, "health", "mixed", "-o", "json", "--timeout", "1")

    rows = {line.split()[1]: line.split()[3] for line in table.lines[1:]}
    assert sorted(rows.values()) == ["NOT_SERVING", "SERVING", "UNREACHABLE"]
    assert rows[resting.id] == "NOT_SERVING"
    assert rows["mixed-gone"] == "UNREACHABLE"
    assert_fails(table, 1, "2 of 3 nodes of mixed not serving")
    entries = {e["id"]: e for e in json.loads(as_json.stdout)}
    assert entries["mixed-gone"]["status"] == "UNREACHABLE"
    assert entries["mixed-gone"]["error"]
    assert entries[resting.id]["version"] == "2.0.0"
    assert as_json.code == 1


async def test_unknown_service(etcd: EtcdProcess) -> None:
    result = await run_micro(etcd, "health", "nobody")

    assert_fails(result, 3, "service not found: nobody")
