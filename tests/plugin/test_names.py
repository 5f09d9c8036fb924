from __future__ import annotations

import pytest

from protoc_gen_micro import names


@pytest.mark.parametrize(
    ("rpc", "snake"),
    [
        ("Hello", "hello"),
        ("LotsOfReplies", "lots_of_replies"),
        ("GetHTTPStatus", "get_http_status"),
        ("Get_User", "get_user"),
        ("HelloV2", "hello_v2"),
        ("V2Hello", "v2_hello"),
        ("lowercase", "lowercase"),
    ],
)
def test_snake_case(rpc: str, snake: str) -> None:
    assert names.snake_case(rpc) == snake


def test_constant_case() -> None:
    assert names.constant_case("PriceList") == "PRICE_LIST"


@pytest.mark.parametrize(
    ("rpc", "method"),
    [
        ("Import", "import_"),
        ("Class", "class_"),
        ("Abc", "abc_"),
        ("MicroGrpc", "micro_grpc_"),
        ("Str", "str_"),
        ("CatalogPb2", "catalog_pb2_"),
        # Legal method names that the generated code does not read.
        ("Match", "match"),
        ("Type", "type"),
        ("List", "list"),
    ],
)
def test_method_name_renames_only_what_would_break(rpc: str, method: str) -> None:
    assert names.method_name(rpc, frozenset({"catalog_pb2"})) == method


@pytest.mark.parametrize(
    ("proto", "module"),
    [
        ("greeter/v1/greeter.proto", "greeter.v1.greeter_pb2"),
        ("ping.proto", "ping_pb2"),
        ("my-api/v1/my-service.proto", "my_api.v1.my_service_pb2"),
    ],
)
def test_proto_module_follows_python_out(proto: str, module: str) -> None:
    assert names.proto_module(proto, "_pb2") == module


def test_module_path() -> None:
    assert (
        names.module_path("greeter.v1.greeter_micro") == "greeter/v1/greeter_micro.py"
    )
