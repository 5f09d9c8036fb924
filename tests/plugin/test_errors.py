"""Bad input comes back through the response's error field, never a traceback.

protoc prints the error after `--micro_out:` and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin import golden


def run_bad(proto: str, out: Path) -> str:
    result = golden.protoc(
        "-I", golden.BAD_PROTOS, f"--micro_out={out}", golden.BAD_PROTOS / proto
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert not list(out.iterdir())
    return result.stderr.strip()


@pytest.mark.parametrize(
    "option",
    [
        "--micro_opt=fancy",
        "--micro_opt=relative_imports,fancy=1",
        "--micro_out=fancy:{out}",
    ],
)
def test_unknown_parameter_is_named(tmp_path: Path, option: str) -> None:
    args: list[str | Path] = ["-I", golden.PROTOS, option.format(out=tmp_path)]
    if "--micro_out" not in option:
        args.append(f"--micro_out={tmp_path}")

    result = golden.protoc(*args, "ping.proto", cwd=golden.PROTOS)

    assert result.returncode != 0
    assert "unknown parameter 'fancy' (known parameters: relative_imports)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_flag_with_a_value_is_refused(tmp_path: Path) -> None:
    result = golden.protoc(
        "-I",
        golden.PROTOS,
        f"--micro_out={tmp_path}",
        "--micro_opt=relative_imports=yes",
        "ping.proto",
        cwd=golden.PROTOS,
    )

    assert result.returncode != 0
    assert "parameter 'relative_imports' is a flag and takes no value" in (
        result.stderr
    )


def test_snake_case_clash_names_file_service_and_rpcs(tmp_path: Path) -> None:
    error = run_bad("snake_clash.proto", tmp_path)

    assert error == (
        "--micro_out: snake_clash.proto: service bad.v1.Users: rpcs GetUser and "
        "Get_User both become the Python method get_user; rename one of them"
    )


def test_keyword_rename_clash_is_reported(tmp_path: Path) -> None:
    error = run_bad("keyword_clash.proto", tmp_path)

    assert error == (
        "--micro_out: keyword_clash.proto: service bad.v1.Loader: rpcs Import and "
        "Import_ both become the Python method import_; rename one of them"
    )


def test_service_name_clash_names_both_services(tmp_path: Path) -> None:
    error = run_bad("service_clash.proto", tmp_path)

    assert error == (
        "--micro_out: service_clash.proto: services bad.v1.HTTPServer and "
        "bad.v1.HttpServer both generate the Python name HTTP_SERVER_SERVICE; "
        "rename one of them"
    )


def test_rpc_with_leading_underscore_is_refused(tmp_path: Path) -> None:
    error = run_bad("underscore.proto", tmp_path)

    assert error == (
        "--micro_out: underscore.proto: service bad.v1.Hidden: rpc _Hidden would "
        "become the private Python method _hidden; rpc names must not start with "
        "an underscore"
    )


def test_message_named_with_a_keyword_is_refused(tmp_path: Path) -> None:
    error = run_bad("keyword_message.proto", tmp_path)

    assert error == (
        "--micro_out: keyword_message.proto: message bad.v1.Outer.None is used by "
        "an rpc, but its name is a Python keyword, so no Python code can name it"
    )
