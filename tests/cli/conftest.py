"""A real etcd and the example greeter, shared by each test module.

The `micro` command always runs as a child process (`run_micro`), through
`without_generated`, so its output, stderr and exit code are the ones a
person sees, and it never has the greeter's generated code to lean on.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from greeter.v1.greeter_micro import GreeterBase

from micro_grpc import Service
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def child_env(**extra: str) -> dict[str, str]:
    """This environment with the repository and gen/ importable."""
    paths = [str(ROOT / "gen"), str(ROOT)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MICRO_")}
    return {**env, "PYTHONPATH": os.pathsep.join(paths), **extra}


def micro_argv(etcd: EtcdProcess, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.cli.without_generated",
        "--registry",
        "etcd",
        "--registry-address",
        etcd.endpoint,
        *args,
    ]


async def run_micro(
    etcd: EtcdProcess, *args: str, stdin: str | None = None, timeout: float = TIMEOUT
) -> Result:
    """Run `micro ARGS` against `etcd` to its end, while this loop serves."""
    proc = await asyncio.create_subprocess_exec(
        *micro_argv(etcd, *args),
        cwd=ROOT,
        env=child_env(),
        stdin=asyncio.subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    data = stdin.encode() if stdin is not None else None
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(
            f"micro {' '.join(args)} ran past {timeout}s\n{out.decode()}{err.decode()}"
        ) from None
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def assert_fails(result: Result, code: int, message: str) -> None:
    """Exit `code` and one `error:` line on stderr holding `message`."""
    assert result.code == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert message in lines[0], lines[0]


@dataclass(frozen=True)
class GreeterProcess:
    address: str
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess(name="cli-tests") as process:
        yield process


@pytest.fixture(scope="module")
def greeter_process(
    etcd: EtcdProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GreeterProcess]:
    """`python -m examples.greeter.server`, registered in the module's etcd."""
    log_path = tmp_path_factory.mktemp("greeter") / "server.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.greeter.server"],
            cwd=ROOT,
            env=child_env(MICRO_REGISTRY="etcd", MICRO_REGISTRY_ADDRESS=etcd.endpoint),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        address = _wait_serving(proc, log_path)
        yield GreeterProcess(address, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_serving(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + TIMEOUT
    pattern = re.compile(r"service greeter \S+ serving on (\S+)")
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        found = pattern.search(text)
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"the greeter exited:\n{text}")
        time.sleep(0.05)
    raise AssertionError(f"the greeter did not serve:\n{log_path.read_text()}")


@pytest.fixture
async def registry(etcd: EtcdProcess) -> AsyncIterator[EtcdRegistry]:
    """A registry on the module's etcd for services served in this process."""
    found = EtcdRegistry(endpoints=[etcd.endpoint], ttl=5)
    yield found
    await found.close()


ServeFactory = Callable[..., Awaitable[Service]]


@pytest.fixture
async def serve(registry: EtcdRegistry) -> AsyncIterator[ServeFactory]:
    """Start in-process services registered in etcd; stopped after the test."""
    started: list[Service] = []

    async def start(name: str, impl: GreeterBase, **options: Any) -> Service:
        service = Service(name, registry=registry, grace=0.5, **options)
        service.handle(impl)
        await service.start()
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        await service.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Background:
    """`micro ARGS` left running, read line by line, then interrupted."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, etcd: EtcdProcess, *args: str) -> Background:
        proc = await asyncio.create_subprocess_exec(
            *micro_argv(etcd, *args),
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line(self, *, err: bool = False, timeout: float = 10.0) -> str:
        stream = self.proc.stderr if err else self.proc.stdout
        assert stream is not None
        raw = await asyncio.wait_for(stream.readline(), timeout)
        assert raw, f"micro ended early with {await self.interrupt()}"
        return raw.decode().rstrip("\n")

    async def interrupt(self) -> Result:
        """Ctrl-C, then what is left of its output and its exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(self.proc.communicate(), TIMEOUT)
        assert self.proc.returncode is not None
        return Result(self.proc.returncode, out.decode(), err.decode())
