"""Running the foreign clients as child processes while the loop serves."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

# Generous next to the half second a call takes, short next to pytest's
# own timeout, so a hung client fails with its output rather than a dump.
TIMEOUT = 15.0


async def run(
    *argv: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `argv` to completion and capture its output as text.

    The test's event loop keeps serving the greeter while the child runs,
    which `subprocess.run` would block.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
        raise AssertionError(
            f"{argv[0]} ran past {TIMEOUT} s\nstdout:\n{stdout.decode()}"
            f"\nstderr:\n{stderr.decode()}"
        ) from None

    assert proc.returncode is not None
    return subprocess.CompletedProcess(
        [str(arg) for arg in argv],
        proc.returncode,
        stdout.decode(),
        stderr.decode(),
    )
