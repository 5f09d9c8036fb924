"""Serving one service from several processes, each its own node.

`run_workers(make_service, n)` starts `n` worker processes. Each calls
`make_service()` and runs the `Service` it returns: it binds its own port,
registers itself in the registry as a node of its own, heartbeats, and
deregisters and drains when told to stop. Clients then spread calls over
the workers the way they spread them over machines, through the selector.

Why not one port shared through SO_REUSEPORT: the kernel balances
connections, not calls, and a gRPC client sends every call over the one
connection it keeps per address, so a client would stay with whichever
worker accepted it. Nodes of their own also give each worker its own
health, outlier ejection and lease: a worker that dies leaves the
registry by itself. The cost is one registry node, and in each client one
channel, per worker.

The supervisor (the process that called `run_workers`) serves nothing. It
restarts a worker that exits unasked, waiting longer each time it dies
young, and on SIGINT or SIGTERM passes SIGTERM on and waits for every
worker to deregister and drain.

Ports: with an address of port 0 (the default) each worker binds a free
port. With a fixed port P in MICRO_SERVER_ADDRESS, worker i binds P + i.
Each worker finds its index in the MICRO_WORKER variable.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING

from micro_grpc.errors import ConfigError

if TYPE_CHECKING:
    from micro_grpc.service import Service

__all__ = ["WORKER_VARIABLE", "Workers", "run_workers", "worker_address"]

log = logging.getLogger(__name__)

WORKER_VARIABLE = "MICRO_WORKER"
"""Set in each worker to its index, from 0."""

_ADDRESS_VARIABLE = "MICRO_SERVER_ADDRESS"

# A worker that dies within this many seconds of starting is restarted
# after a growing delay, so a service that cannot start does not spin.
_YOUNG = 10.0
_FIRST_DELAY = 0.5
_MAX_DELAY = 30.0


def run_workers(make_service: Callable[[], Service], n: int | None = None) -> None:
    """Serve `make_service()`'s service from `n` processes until SIGINT/SIGTERM.

    `n` defaults to the number of CPUs. `make_service` must be picklable:
    a function defined at the top level of a module (or a
    `functools.partial` of one), since each worker is a fresh interpreter.
    """
    workers = Workers(make_service, n)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        workers.start()
        log.info("serving from %d workers: %s", len(workers.pids), workers.pids)
        while not stopping.is_set():
            workers.supervise(timeout=0.5)
    finally:
        workers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Workers:
    """`n` worker processes running the service `make_service()` builds.

    `start()` spawns them, `supervise()` restarts those that exit unasked,
    `stop()` asks them to deregister and drain, and waits.
    """

    def __init__(
        self,
        make_service: Callable[[], Service],
        n: int | None = None,
        *,
        stop_timeout: float = 30.0,
    ) -> None:
        count = n if n is not None else os.cpu_count() or 1
        if count < 1:
            raise ConfigError(f"workers={count}: at least one worker is needed")
        try:
            pickle.dumps(make_service)
        except Exception as exc:
            raise ConfigError(
                f"{make_service!r} cannot be sent to a worker process: pass a "
                "function defined at the top level of a module"
            ) from exc
        self._make_service = make_service
        self._count = count
        self._stop_timeout = stop_timeout
        # Worker processes are fresh interpreters: a forked child would
        # inherit grpc's threads and state, which grpc does not support.
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess | None] = [None] * count
        self._started_at = [0.0] * count
        self._delays = [0.0] * count
        self._due = [0.0] * count

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers running now, by index."""
        return [p.pid for p in self._processes if p is not None and p.pid is not None]

    def start(self) -> None:
        for index in range(self._count):
            self._spawn(index)

    def supervise(self, timeout: float) -> None:
        """Wait up to `timeout` seconds, restarting workers that exited."""
        running = [p.sentinel for p in self._processes if p is not None]
        if running:
            multiprocessing.connection.wait(running, timeout)
        else:
            time.sleep(timeout)
        now = time.monotonic()
        for index, process in enumerate(self._processes):
            if process is not None and not process.is_alive():
                self._exited(index, process, now)
            elif process is None and now >= self._due[index]:
                self._spawn(index)

    def stop(self) -> None:
        """SIGTERM every worker, wait for them to drain; kill what remains."""
        alive = [p for p in self._processes if p is not None and p.is_alive()]
        for process in alive:
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self._stop_timeout
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %d did not stop in time; killing it", process.pid)
                process.kill()
                process.join()
        self._processes = [None] * self._count

    def _spawn(self, index: int) -> None:
        process = self._context.Process(
            target=_worker,
            args=(self._make_service, index),
            name=f"micro-worker-{index}",
        )
        process.start()
        self._processes[index] = process
        self._started_at[index] = time.monotonic()
        log.debug("worker %d started as process %d", index, process.pid)

    def _exited(self, index: int, process: BaseProcess, now: float) -> None:
        self._processes[index] = None
        lived = now - self._started_at[index]
        if lived < _YOUNG:
            self._delays[index] = min(
                _MAX_DELAY, max(_FIRST_DELAY, self._delays[index] * 2)
            )
        else:
            self._delays[index] = 0.0
        self._due[index] = now + self._delays[index]
        log.warning(
            "worker %d (process %d) exited with %s after %.1fs; restarting in %.1fs",
            index,
            process.pid,
            process.exitcode,
            lived,
            self._delays[index],
        )


def worker_address(address: str, index: int) -> str:
    """The address worker `index` binds when the service's is `address`.

    Port 0 stays 0 (each worker a free port); port P becomes P + index.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) == 0:
        return address
    return f"{host}:{int(port) + index}"


def _worker(make_service: Callable[[], Service], index: int) -> None:
    """A worker process's body: build the service and run it until signalled."""
    os.environ[WORKER_VARIABLE] = str(index)
    address = os.environ.get(_ADDRESS_VARIABLE)
    if address:
        os.environ[_ADDRESS_VARIABLE] = worker_address(address, index)
    # Service.run stops on SIGTERM (what the supervisor sends) and on the
    # SIGINT a terminal's Ctrl-C sends the whole process group.
    make_service().run()
