"""`micro register service` and `micro deregister service`, from JSON."""

from __future__ import annotations

import json

from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import Background, assert_fails, run_micro

BILLING = {
    "name": "billing",
    "version": "2.1.0",
    "metadata": {"team": "ledger"},
    "nodes": [
        {"id": "billing-1", "address": "10.0.0.7:9000", "metadata": {"zone": "a"}},
        {"id": "billing-2", "address": "10.0.0.8:9000"},
    ],
}


async def test_register_then_deregister(etcd: EtcdProcess) -> None:
    held = await Background.start(etcd, "register", "service", json.dumps(BILLING))
    lines = [await held.line(), await held.line()]

    listed = await run_micro(etcd, "list", "services")
    got = await run_micro(etcd, "get", "service", "billing", "-o", "json")
    one = await run_micro(
        etcd,
        "deregister",
        "service",
        '{"name": "billing", "nodes": [{"id": "billing-2"}]}',
    )
    again = await run_micro(
        etcd,
        "deregister",
        "service",
        '{"name": "billing", "nodes": [{"id": "billing-2"}]}',
    )
    left = await run_micro(etcd, "get", "service", "billing", "-o", "json")
    ended = await held.interrupt()
    after = await run_micro(etcd, "get", "service", "billing")

    assert lines == [
        "registered billing 2.1.0 node billing-1 at 10.0.0.7:9000",
        "registered billing 2.1.0 node billing-2 at 10.0.0.8:9000",
    ]
    assert "billing" in listed.lines
    (version,) = json.loads(got.stdout)
    assert version["metadata"] == {"team": "ledger"}
    assert {n["id"]: n["metadata"] for n in version["nodes"]} == {
        "billing-1": {"zone": "a"},
        "billing-2": {},
    }
    assert one.code == 0, one
    assert one.lines == ["deregistered billing node billing-2"]
    assert_fails(again, 3, "billing has no node billing-2")
    assert [n["id"] for n in json.loads(left.stdout)[0]["nodes"]] == ["billing-1"]
    assert ended.code == 0, ended
    assert_fails(after, 3, "service not found: billing")  # Ctrl-C deregistered


async def test_json_output(etcd: EtcdProcess) -> None:
    record = {"name": "audit", "nodes": [{"id": "audit-1", "address": "10.0.0.9:1"}]}
    held = await Background.start(
        etcd, "register", "service", json.dumps(record), "-o", "json"
    )
    lines = [await held.line()]
    while lines[-1] != "}":
        lines.append(await held.line())
    ended = await held.interrupt()

    printed = json.loads("\n".join(lines))
    assert printed["name"] == "audit"
    assert printed["nodes"] == [
        {"id": "audit-1", "address": "10.0.0.9:1", "metadata": {}}
    ]
    assert ended.code == 0


async def test_bad_records(etcd: EtcdProcess) -> None:
    no_name = await run_micro(etcd, "register", "service", '{"nodes": []}')
    no_nodes = await run_micro(etcd, "register", "service", '{"name": "x"}')
    no_address = await run_micro(
        etcd, "register", "service", '{"name": "x", "nodes": [{"id": "x-1"}]}'
    )
    malformed = await run_micro(etcd, "deregister", "service", '{"name": "x"')

    assert_fails(no_name, 2, 'the service JSON needs a "name"')
    assert_fails(no_nodes, 2, 'the service JSON needs "nodes"')
    assert_fails(no_address, 2, 'node x-1 of the service JSON needs an "address"')
    assert_fails(malformed, 2, "malformed JSON at line 1, column 13")
