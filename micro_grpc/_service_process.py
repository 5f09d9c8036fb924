"""A service run in a process of its own, for tests that kill or stop it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

__all__ = ["ServiceProcess", "eventually"]

_SERVING = re.compile(r"serving on (\S+)")


class ServiceProcess:
    """`python -m MODULE` with extra environment, started and watched.

    `start()` returns once the process logs that it serves (the line
    `Service.start()` writes at INFO) and sets `address`; its output is
    kept in `output`. Stop it with `terminate()` (SIGTERM: deregister and
    drain) or `kill()` (SIGKILL: nothing is cleaned up); leaving `async
    with` terminates it.
    """

    def __init__(
        self,
        module: str,
        *,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.module = module
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.args = tuple(args)
        self.address = ""
        self.output: list[str] = []
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    async def start(self, timeout: float = 20.0) -> ServiceProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            self.module,
            *self.args,
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        serving = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(serving))
        try:
            self.address = await asyncio.wait_for(serving, timeout)
        except (TimeoutError, EOFError) as exc:
            await self.kill()
            raise RuntimeError(
                f"{self.module} did not start serving:\n{''.join(self.output)}"
            ) from exc
        return self

    async def _read(self, serving: asyncio.Future[str]) -> None:
        assert self._process is not None and self._process.stderr is not None
        while line := (await self._process.stderr.readline()).decode():
            self.output.append(line)
            found = _SERVING.search(line)
            if found and not serving.done():
                serving.set_result(found.group(1))
        if not serving.done():
            serving.set_exception(EOFError())

    async def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the exit code."""
        return await self._end(signal.SIGTERM, timeout)

    async def kill(self) -> int:
        """SIGKILL, then wait for the exit code."""
        return await self._end(signal.SIGKILL, 10.0)

    async def _end(self, sig: signal.Signals, timeout: float) -> int:
        if self._process is None:
            return 0
        if self._process.returncode is None:
            self._process.send_signal(sig)
        code = await asyncio.wait_for(self._process.wait(), timeout)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._reader, 2.0)
        return code

    async def __aenter__(self) -> ServiceProcess:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        # Leaving the block stops the service as an operator would: it
        # deregisters, so no later test finds a node that is gone.
        if self.returncode is None:
            try:
                await self.terminate(timeout=10.0)
            except TimeoutError:
                await self.kill()


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    *,
    timeout: float = 5.0,
    interval: float = 0.02,
    what: str = "condition",
) -> float:
    """Poll `check` until it is true; the seconds that took.

    Raises AssertionError naming `what` when `timeout` passes first.
    """
    start = time.monotonic()
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} not met within {timeout:g}s")
        await asyncio.sleep(interval)
