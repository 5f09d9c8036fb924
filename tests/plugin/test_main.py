"""The protoc-gen-micro command and the ways protoc passes it parameters."""

from __future__ import annotations

import subprocess
from pathlib import Path

from google.protobuf.compiler import plugin_pb2

import protoc_gen_micro
from protoc_gen_micro.plugin import generate
from tests.plugin import golden


def test_version_flag_prints_the_version() -> None:
    result = subprocess.run(
        [golden.bin_dir() / "protoc-gen-micro", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout == f"protoc-gen-micro {protoc_gen_micro.__version__}\n"


def test_parameter_in_out_flag_matches_opt(tmp_path: Path) -> None:
    result = golden.protoc(
        "-I",
        golden.PROTOS,
        f"--micro_out=relative_imports:{tmp_path}",
        "shop/v1/orders.proto",
        cwd=golden.PROTOS,
    )

    assert result.returncode == 0, result.stderr
    expected = golden.GOLDEN / "relative/shop/v1/orders_micro.py"
    generated = tmp_path / "shop/v1/orders_micro.py"
    assert generated.read_text() == expected.read_text()


def test_response_declares_proto3_optional() -> None:
    request = plugin_pb2.CodeGeneratorRequest()

    response = generate(request)

    features = response.supported_features
    assert features & plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    assert not response.error
    assert not response.file
