"""Real etcd processes for the registry tests, and a few waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from micro_grpc import testing
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess

Eventually = Callable[..., Awaitable[float]]


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    """One etcd for a test module; the registry prefix is emptied per test."""
    with EtcdProcess(name="registry-tests") as process:
        yield process


@pytest.fixture(autouse=True)
def _clean_prefix(request: pytest.FixtureRequest) -> None:
    if "etcd" in request.fixturenames:
        process: EtcdProcess = request.getfixturevalue("etcd")
        if process.running:
            process.etcdctl("del", "--prefix", "/micro/")


@pytest.fixture
def fresh_etcd() -> Iterator[EtcdProcess]:
    """An etcd of the test's own, for tests that stop or wipe it."""
    with EtcdProcess(name="registry-fresh") as process:
        yield process


@pytest.fixture
async def etcd_registry(etcd: EtcdProcess) -> AsyncIterator[EtcdRegistry]:
    """A registry on the module's etcd, with a 2 s lease."""
    registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=2)
    yield registry
    await registry.close()


@pytest.fixture
def eventually() -> Eventually:
    """Poll `check` until true; the seconds it took, or AssertionError."""
    return testing.eventually


class TcpProxy:
    """A loopback TCP relay the test can cut, to break connections at will."""

    def __init__(self, target: str) -> None:
        host, _, port = target.rpartition(":")
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def tcp_proxy(etcd: EtcdProcess) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(etcd.endpoint)
    await proxy.start()
    yield proxy
    await proxy.cut()
