"""Fixtures for the interop tests: the greeter, and Node with its packages."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from examples.greeter.server import Greeter
from micro_grpc import Service
from micro_grpc.registry.memory import MemoryRegistry

NODE_PROJECT = Path(__file__).parent / "node"


@pytest.fixture
async def greeter_address() -> AsyncIterator[str]:
    """The `host:port` of the example greeter, served in this event loop."""
    service = Service("greeter", registry=MemoryRegistry())
    service.handle(Greeter())
    async with service:
        yield service.address


@pytest.fixture(scope="session")
def node() -> Path:
    """The node executable, once the Node client's packages are installed.

    `npm ci` runs when node_modules is missing or older than the lock file,
    so a fresh clone and a changed lock both install before the first call.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "the Node interop tests need node (18 or later) and npm on PATH",
            pytrace=False,
        )

    if _needs_install(NODE_PROJECT):
        # --ignore-scripts: the only install script in the tree (protobufjs)
        # prints advice about version ranges and builds nothing.
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=NODE_PROJECT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(
                f"npm ci failed in {NODE_PROJECT}:\n{result.stdout}{result.stderr}",
                pytrace=False,
            )
    return Path(node)


def _needs_install(project: Path) -> bool:
    # npm ci writes this copy of the lock into node_modules as it finishes.
    installed = project / "node_modules" / ".package-lock.json"
    if not installed.exists():
        return True
    lock = project / "package-lock.json"
    return installed.stat().st_mtime < lock.stat().st_mtime
