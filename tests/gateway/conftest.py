"""A gateway in front of real services, registered in a real etcd.

`stack` starts etcd once per session; each test gets the greeter (the
runtime tests' ProbeGreeter) and a users service registered in it, and a
gateway on 127.0.0.1:0 with a client of its own on the same etcd, so every
request travels HTTP -> gateway -> etcd-fed cache -> gRPC.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from users.v1.users_micro import UsersBase
from users.v1.users_pb2 import (
    CreateUserRequest,
    DeleteUserReply,
    DeleteUserRequest,
    FailRequest,
    GetUserRequest,
    ListUsersRequest,
    RenameRequest,
    UpdateUserRequest,
    User,
)

from micro_grpc import Client, Context, Service
from micro_grpc.errors import NotFound, status_error
from micro_grpc.gateway import Gateway, GatewayOptions
from micro_grpc.registry.etcd import EtcdRegistry
from micro_grpc.testing import EtcdProcess
from tests.conftest import ProbeGreeter


class Users(UsersBase):
    """Users that echo what reached them, so tests can see every field.

    Get answers with the id it was asked for, `org/view/fields` folded into
    the display name and tags; user 404 does not exist.
    """

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}

    async def get(self, request: GetUserRequest, context: Context) -> User:
        if request.id == 404:
            raise NotFound(f"user {request.id} not found")
        self.metadata = {k: str(v) for k, v in context.metadata.items()}
        return User(
            id=request.id,
            display_name=f"org={request.org} view={request.view}",
            tags=list(request.fields),
        )

    async def create(self, request: CreateUserRequest, context: Context) -> User:
        user = User()
        user.CopyFrom(request.user)
        user.id = 7
        user.labels["request_id"] = request.request_id
        return user

    async def update(self, request: UpdateUserRequest, context: Context) -> User:
        return request.user

    async def delete(
        self, request: DeleteUserRequest, context: Context
    ) -> DeleteUserReply:
        if request.id == 404:
            raise NotFound("no such user")
        return DeleteUserReply(deleted=True)

    async def list(
        self, request: ListUsersRequest, context: Context
    ) -> AsyncIterator[User]:
        for i in range(request.limit):
            yield User(id=i + 1, display_name=f"{request.prefix}{i + 1}")
            await asyncio.sleep(0)

    async def rename(self, request: RenameRequest, context: Context) -> User:
        return User(id=request.id, display_name=request.display_name)

    async def fail(self, request: FailRequest, context: Context) -> User:
        raise status_error(grpc.StatusCode[request.code], request.message)


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess(name="gateway-tests") as process:
        yield process


@dataclass
class Stack:
    """The running pieces of one test, and an HTTP session to the gateway."""

    gateway: Gateway
    http: aiohttp.ClientSession
    greeter: ProbeGreeter
    users: Users
    registry: EtcdRegistry

    @property
    def url(self) -> str:
        return self.gateway.url

    async def call(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        """Send one request; the status, the decoded JSON (or text) body."""
        async with self.http.request(method, self.url + path, **kwargs) as response:
            text = await response.text()
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                body = text
            return response.status, body, response


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def make_stack(etcd: EtcdProcess, tmp_path: Path) -> AsyncIterator[StackFactory]:
    """Start services and a gateway with the given GatewayOptions fields."""
    etcd.etcdctl("del", "--prefix", "/micro/")
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def make(**options: Any) -> Stack:
        registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=5)
        cleanups.append(registry.close)
        greeter, users = ProbeGreeter(), Users()
        for name, impl in (("greeter", greeter), ("users", users)):
            service = Service(name, registry=registry, version="1.0.0", grace=0.5)
            service.handle(impl)
            await service.start()
            cleanups.append(service.stop)
        client_registry = EtcdRegistry(endpoints=[etcd.endpoint], ttl=5)
        client = Client(client_registry)
        options.setdefault("address", "127.0.0.1:0")
        options.setdefault("access_log", str(tmp_path / "access.log"))
        gateway = Gateway(client, GatewayOptions(**options))
        await gateway.start()
        http = aiohttp.ClientSession()
        cleanups.extend([client_registry.close, client.close, gateway.stop, http.close])
        await _until_routes(gateway)
        return Stack(gateway, http, greeter, users, registry)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack()


async def _until_routes(gateway: Gateway, timeout: float = 5.0) -> None:
    """Wait until the catalog has both services and the users' REST routes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        catalog = gateway.catalog
        if catalog.routes.routes and {"greeter", "users"} <= catalog.names:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the gateway did not learn the services in time")


@pytest.fixture
async def fuzz_stack(make_stack: StackFactory) -> Stack:
    """A gateway that passes on `x-*` headers, for the property tests."""
    return await make_stack(allowed_headers=("x-*",), timeout=5.0)
