"""The local stack: an etcd on loopback when none answers at the address.

`make run` and `micro server` use this so that a fresh clone can run
services without setting anything up first.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from micro_grpc._etcd_process import EtcdProcess

__all__ = ["answers", "local_etcd"]

log = logging.getLogger(__name__)


def answers(address: str, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at `host:port`."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def local_etcd(address: str = "127.0.0.1:2379") -> Iterator[EtcdProcess | None]:
    """Start etcd at `address` (loopback only) unless one already answers.

    Yields the started process, or None when an etcd was already there;
    a process started here is stopped, and its data removed, on exit.
    """
    first = address.split(",")[0].strip()
    if answers(first):
        log.info("using the etcd at %s", first)
        yield None
        return
    host, _, port = first.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise OSError(
            f"no etcd answers at {first}, and only a loopback one is started here"
        )
    with EtcdProcess(name="micro-local", client_port=int(port)) as etcd:
        log.info("started etcd at %s", etcd.endpoint)
        yield etcd
