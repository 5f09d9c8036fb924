"""`micro new`: a service folder that builds, passes its test and mypy --strict.

The new service is then served and called with `micro call`: code the CLI
process has never seen, generated minutes before.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from micro_grpc.testing import EtcdProcess
from tests.cli.conftest import ROOT, TIMEOUT, assert_fails, child_env, run_micro

FILES = [
    ".gitignore",
    "Makefile",
    "README.md",
    "client.py",
    "handler.py",
    "main.py",
    "protos/hello_world/v1/hello_world.proto",
    "pyproject.toml",
    "test_handler.py",
]


def make_env() -> dict[str, str]:
    # micro_grpc is installed editable here, which mypy cannot follow; a
    # user's `pip install micro-grpc` puts it where mypy finds it.
    return {**child_env(), "MYPYPATH": str(ROOT)}


async def make(folder: Path, target: str) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        "make",
        target,
        f"PYTHON={sys.executable}",
        cwd=folder,
        env=make_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(target, proc.returncode, out.decode())


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("new")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "micro_grpc.cli",
            "new",
            "hello-world",
            "--dir",
            str(parent),
        ],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:10] == [f"  {name}" for name in FILES]
    return parent / "hello-world"


async def test_builds_and_passes_its_own_test(made: Path) -> None:
    tested = await make(made, "test")

    assert tested.returncode == 0, tested.stdout
    assert re.search(r"\b1 passed\b", tested.stdout), tested.stdout
    assert (made / "gen/hello_world/v1/hello_world_micro.py").exists()


async def test_passes_mypy_strict(made: Path) -> None:
    checked = await make(made, "typecheck")
    strict = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mypy",
        "--strict",
        cwd=made,
        env=make_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(strict.communicate(), 120)

    assert checked.returncode == 0, checked.stdout
    assert strict.returncode == 0, out.decode()
    assert "Success: no issues found in 6 source files" in out.decode()


@pytest.fixture
async def running(made: Path, etcd: EtcdProcess) -> AsyncIterator[None]:
    """The new service's main.py, registered in the module's etcd."""
    assert (await make(made, "proto")).returncode == 0
    env = {
        **child_env(MICRO_REGISTRY="etcd", MICRO_REGISTRY_ADDRESS=etcd.endpoint),
        "PYTHONPATH": os.pathsep.join(["gen", ".", child_env()["PYTHONPATH"]]),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        cwd=made,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    while b"serving on" not in await asyncio.wait_for(proc.stderr.readline(), 20):
        pass
    yield
    proc.terminate()
    await proc.wait()


@pytest.mark.usefixtures("running")
async def test_the_new_service_answers_micro_call(etcd: EtcdProcess) -> None:
    called = await run_micro(
        etcd, "call", "hello-world", "HelloWorld.Call", '{"name": "Ada"}', "-o", "json"
    )
    streamed = await run_micro(
        etcd,
        "stream",
        "hello-world",
        "HelloWorld.Stream",
        '{"name": "Ada", "count": 2}',
    )

    assert json.loads(called.stdout) == {"message": "Hello Ada"}
    assert [json.loads(line) for line in streamed.lines] == [
        {"message": "Hello Ada #1"},
        {"message": "Hello Ada #2"},
    ]


async def test_json_output_and_bad_names(etcd: EtcdProcess, tmp_path: Path) -> None:
    made = await run_micro(etcd, "new", "shop", "--dir", str(tmp_path), "-o", "json")
    again = await run_micro(etcd, "new", "shop", "--dir", str(tmp_path))
    shouting = await run_micro(etcd, "new", "Shop", "--dir", str(tmp_path))
    stdlib = await run_micro(etcd, "new", "json", "--dir", str(tmp_path))

    printed = json.loads(made.stdout)
    assert printed["path"] == str(tmp_path / "shop")
    assert "protos/shop/v1/shop.proto" in printed["files"]
    assert_fails(again, 2, "already exists")
    assert_fails(shouting, 2, "'Shop' is not a service name")
    assert_fails(stdlib, 2, "would hide Python's own 'json'")
