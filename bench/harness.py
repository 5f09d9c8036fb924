"""Running the benchmark's processes and reading their CPU clocks.

Servers and load generators are processes of their own, so that each one's
CPU time is the operating system's account of that process alone, all of
its threads included (grpc's core does work outside the Python thread).
The runner reads those clocks from outside, at moments when the load
generator is idle, waiting for its next word.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["ROOT", "BenchError", "Child", "cpu_seconds"]

ROOT = Path(__file__).resolve().parent.parent


class BenchError(Exception):
    """A benchmark process failed, hung or said something unexpected."""


def cpu_seconds(pid: int) -> float:
    """CPU seconds that process `pid` has used, all threads, living or not.

    This is the kernel's own per-process clock (Linux's CPUCLOCK_SCHED for
    a pid, the id that clock_getcpuclockid(3) would give): nanosecond
    resolution, where /proc/<pid>/stat counts in 10 ms ticks.
    """
    return time.clock_gettime(((~pid) << 3) | 2)


class Child:
    """A `python -m bench.<module>` process that talks in lines."""

    def __init__(self, module: str, *args: str, env: dict[str, str] | None = None):
        # Kept open for the life of the process; closed by stop().
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **(env or {})},
            bufsize=0,
        )
        self._buffer = b""
        self.name = f"{module} {' '.join(args)}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_line(self, timeout: float = 60.0) -> str:
        """The next line the process prints, within `timeout` seconds."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{self.name}: no answer in {timeout:.0f}s")
            ready, _, _ = select.select([stdout], [], [], left)
            if ready:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise BenchError(f"{self.name} exited:\n{self.stderr()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def read_json(self, timeout: float = 60.0) -> dict[str, Any]:
        line = self.read_line(timeout)
        try:
            found: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise BenchError(f"{self.name} said {line!r}") from exc
        return found

    def expect(self, word: str, timeout: float = 60.0) -> None:
        line = self.read_line(timeout)
        if line != word:
            raise BenchError(f"{self.name} said {line!r}, not {word!r}")

    def say(self, word: str) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(word.encode() + b"\n")

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not gone within `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the process to exit by itself; raise if it failed."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            self.stop()
            raise BenchError(f"{self.name} did not exit") from exc
        if code != 0:
            raise BenchError(f"{self.name} exited with {code}:\n{self.stderr()}")
        self.stop()
