from __future__ import annotations

from protoc_gen_micro import imports
from protoc_gen_micro.imports import Import


def test_local_names_alias_only_clashing_modules() -> None:
    local = imports.local_names(
        ["common.money_pb2", "legacy.money_pb2", "shop.v1.orders_pb2"]
    )

    assert local == {
        "common.money_pb2": "common_money_pb2",
        "legacy.money_pb2": "legacy_money_pb2",
        "shop.v1.orders_pb2": "orders_pb2",
    }


def test_absolute_imports_follow_python_out() -> None:
    def pb2(module: str, local: str) -> Import:
        return imports.pb2_import(module, local, "shop.v1", relative=False)

    assert pb2("shop.v1.orders_pb2", "orders_pb2") == Import("shop.v1", "orders_pb2")
    assert pb2("ping_pb2", "ping_pb2") == Import("ping_pb2")
    assert pb2("common.money_pb2", "common_money_pb2") == Import(
        "common", "money_pb2", "common_money_pb2"
    )


def test_relative_imports_climb_to_the_common_package() -> None:
    def pb2(module: str, own_package: str) -> str:
        local = module.rpartition(".")[2]
        return imports.pb2_import(module, local, own_package, relative=True).module

    assert pb2("shop.v1.orders_pb2", "shop.v1") == "."
    assert pb2("shop.v1.admin.audit_pb2", "shop.v1") == ".admin"
    assert pb2("shop.v1.orders_pb2", "shop.v1.admin") == ".."
    assert pb2("common.money_pb2", "shop.v1.admin") == "....common"
    assert pb2("ping_pb2", "") == "."
    assert pb2("google.protobuf.empty_pb2", "shop.v1") == "google.protobuf"


def test_render_sorts_like_isort() -> None:
    sections = [
        [Import("typing", "Final"), Import("abc"), Import("typing", "ClassVar")],
        [],
        [
            Import("shop.v10", "b_pb2"),
            Import("shop.v2", "a_pb2"),
            Import("legacy", "money_pb2", "legacy_money_pb2"),
            Import("ping_pb2"),
        ],
        [Import(".", "x_pb2"), Import("..", "y_pb2"), Import(".sub", "z_pb2")],
    ]

    assert imports.render(sections) == [
        "import abc",
        "from typing import ClassVar, Final",
        "",
        "import ping_pb2",
        "from legacy import money_pb2 as legacy_money_pb2",
        "from shop.v2 import a_pb2",
        "from shop.v10 import b_pb2",
        "",
        "from .. import y_pb2",
        "from . import x_pb2",
        "from .sub import z_pb2",
    ]


def test_long_from_import_is_wrapped() -> None:
    module = "a" * 40 + "." + "b" * 40

    assert imports.render([[Import(module, "c_pb2")]]) == [
        f"from {module} import (",
        "    c_pb2,",
        ")",
    ]
