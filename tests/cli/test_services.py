"""`micro list services` and `micro get service`, in table and JSON form."""

from __future__ import annotations

import json

from examples.greeter.server import Greeter
from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import (
    GreeterProcess,
    ServeFactory,
    assert_fails,
    free_port,
    run_micro,
)


async def test_list_services_sorted(
    etcd: EtcdProcess, greeter_process: GreeterProcess, serve: ServeFactory
) -> None:
    await serve("alpha", Greeter())

    table = await run_micro(etcd, "list", "services")
    as_json = await run_micro(etcd, "list", "services", "-o", "json")
    global_flag = await run_micro(etcd, "--output", "json", "list", "services")

    assert table.code == 0, table
    assert table.lines == ["alpha", "greeter"]
    assert json.loads(as_json.stdout) == ["alpha", "greeter"]
    assert json.loads(global_flag.stdout) == ["alpha", "greeter"]


async def test_get_service_table(
    etcd: EtcdProcess, greeter_process: GreeterProcess
) -> None:
    result = await run_micro(etcd, "get", "service", "greeter")

    assert result.code == 0, result
    lines = result.lines
    assert lines[0].split() == ["service", "greeter"]
    assert lines[1].split() == ["version", "1.0.0"]
    header = lines.index("NODE" + lines[lines.index("") + 1][4:])
    node_id, address, metadata = lines[header + 1].split(maxsplit=2)
    assert node_id.startswith("greeter-")
    assert address == greeter_process.address
    assert "transport=grpc" in metadata.split()
    hello = lines.index("Greeter.Hello  (unary)")
    assert lines[hello + 1].split() == ["request", "greeter.v1.HelloRequest"]
    assert lines[hello + 2].split() == ["name", "string"]
    assert lines[hello + 3].split() == ["response", "greeter.v1.HelloReply"]
    assert lines[hello + 4].split() == ["message", "string"]
    assert "Greeter.LotsOfReplies  (server stream)" in lines
    assert "Greeter.LotsOfGreetings  (client stream)" in lines
    assert "Greeter.BidiHello  (bidi stream)" in lines


async def test_get_service_json(
    etcd: EtcdProcess, greeter_process: GreeterProcess
) -> None:
    result = await run_micro(etcd, "get", "service", "greeter", "-o", "json")

    assert result.code == 0, result
    (version,) = json.loads(result.stdout)
    assert version["name"] == "greeter"
    assert version["version"] == "1.0.0"
    assert [node["address"] for node in version["nodes"]] == [greeter_process.address]
    endpoints = {e["name"]: e for e in version["endpoints"]}
    assert set(endpoints) == {
        "Greeter.Hello",
        "Greeter.LotsOfReplies",
        "Greeter.LotsOfGreetings",
        "Greeter.BidiHello",
    }
    replies = endpoints["Greeter.LotsOfReplies"]
    assert replies["request"]["values"] == [
        {"name": "name", "type": "string"},
        {"name": "count", "type": "int32"},
    ]
    assert replies["metadata"]["server_stream"] == "true"


async def test_unknown_service(
    etcd: EtcdProcess, greeter_process: GreeterProcess
) -> None:
    for form in ("table", "json"):
        result = await run_micro(etcd, "get", "service", "nobody", "-o", form)
        assert_fails(result, 3, "service not found: nobody")


async def test_unreachable_registry(etcd: EtcdProcess) -> None:
    nowhere = f"127.0.0.1:{free_port()}"

    listed = await run_micro(etcd, "--registry-address", nowhere, "list", "services")
    got = await run_micro(etcd, "--registry-address", nowhere, "get", "service", "x")

    assert_fails(listed, 4, f"registry: etcd unreachable at {nowhere}")
    assert_fails(got, 4, f"registry: etcd unreachable at {nowhere}")


async def test_bad_settings(etcd: EtcdProcess) -> None:
    kind = await run_micro(etcd, "--registry", "zookeeper", "list", "services")
    timeout = await run_micro(etcd, "--registry-timeout", "-1", "list", "services")

    assert_fails(kind, 2, "unknown registry 'zookeeper'")
    assert kind.stderr.count("\n") == 1
    assert timeout.code == 2
    assert "Traceback" not in timeout.stderr
