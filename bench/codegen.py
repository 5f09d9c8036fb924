"""The code generation case: a large proto set through each contender's plugin.

Writes `services` services (four rpcs each, one of every shape, with
comments) into files of ten, then times protoc with each contender's
plugin: grpc_tools' own `--grpc_python_out`, protoc-gen-micro and
grpclib's plugin. A run of protoc that only parses (`--descriptor_set_out`)
is timed alongside, so the plugin's own share can be read off.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PARSE_ONLY", "generate_protos", "time_plugin"]

PARSE_ONLY = "parse"
_PER_FILE = 10
_BIN = Path(sys.executable).parent


def generate_protos(root: Path, services: int) -> list[Path]:
    """Write the proto set under `root`; the files, relative to it."""
    files = []
    for start in range(0, services, _PER_FILE):
        package = f"load{start // _PER_FILE}"
        path = Path(package, "v1", f"{package}.proto")
        lines = ['syntax = "proto3";', "", f"package bench.{package}.v1;", ""]
        for n in range(start, min(start + _PER_FILE, services)):
            lines += _service(n)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


def _service(n: int) -> list[str]:
    name = f"Service{n}"
    return [
        f"// {name} is one of the generated services of the codegen case.",
        f"service {name} {{",
        "  // Get answers one request with one reply.",
        f"  rpc Get({name}Request) returns ({name}Reply);",
        "  // List answers one request with a stream of replies.",
        f"  rpc List({name}Request) returns (stream {name}Reply);",
        "  // Put reads a stream of requests, then answers once.",
        f"  rpc Put(stream {name}Request) returns ({name}Reply);",
        "  // Sync answers each request of a stream as it arrives.",
        f"  rpc Sync(stream {name}Request) returns (stream {name}Reply);",
        "}",
        "",
        f"message {name}Request {{",
        "  string id = 1;",
        "  int64 version = 2;",
        "  repeated string tags = 3;",
        "}",
        "",
        f"message {name}Reply {{",
        "  string id = 1;",
        "  bytes body = 2;",
        "}",
        "",
    ]


def _plugin_args(contender: str, out: Path) -> list[str]:
    if contender == PARSE_ONLY:
        return [f"--descriptor_set_out={out / 'set.pb'}"]
    if contender == "grpc":
        return [f"--grpc_python_out={out}"]
    if contender == "micro":
        return [
            f"--plugin=protoc-gen-micro={_BIN / 'protoc-gen-micro'}",
            f"--micro_out={out}",
        ]
    if contender == "grpclib":
        return [
            f"--plugin=protoc-gen-grpclib_python={_BIN / 'protoc-gen-grpclib_python'}",
            f"--grpclib_python_out={out}",
        ]
    raise ValueError(f"unknown contender {contender!r}")


def time_plugin(contender: str, root: Path, files: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds of one protoc run with `contender`'s plugin.

    The CPU figure is protoc's and the plugin's together (the plugin is a
    child of protoc, waited for by it).
    """
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I.",
            *_plugin_args(contender, Path(out)),
            *map(str, files),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"protoc with {contender} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu
