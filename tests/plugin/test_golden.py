"""The plugin's output for the test protos and the greeter is fixed text."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin import golden


@pytest.mark.parametrize("variant", sorted(golden.VARIANTS))
def test_output_matches_golden_files(generated: dict[str, Path], variant: str) -> None:
    expected = golden.micro_files(golden.GOLDEN / variant)
    actual = golden.micro_files(generated[variant])

    found = golden.diff(expected, actual)

    assert not found, f"run `make golden` if this is intended:\n{found}"


def test_golden_set_covers_each_service_file() -> None:
    expected = {
        "ping_micro.py",
        "shop/v1/catalog_micro.py",
        "shop/v1/orders_micro.py",
        "shop/v1/admin/console_micro.py",
    }

    for variant in golden.VARIANTS:
        assert set(golden.micro_files(golden.GOLDEN / variant)) == expected


def test_files_without_services_produce_nothing(generated: dict[str, Path]) -> None:
    out = generated["absolute"]

    assert (out / "common" / "money_pb2.py").exists()
    assert not (out / "common" / "money_micro.py").exists()
    assert not (out / "shop" / "v1" / "admin" / "audit_micro.py").exists()


def test_greeter_matches_committed_gen(tmp_path: Path) -> None:
    protos = golden.REPO / "protos"

    result = golden.protoc(
        "-I", protos, f"--micro_out={tmp_path}", protos / "greeter/v1/greeter.proto"
    )

    assert result.returncode == 0, result.stderr
    committed = golden.REPO / "gen/greeter/v1/greeter_micro.py"
    generated = tmp_path / "greeter/v1/greeter_micro.py"
    assert generated.read_text() == committed.read_text()
