"""Calling a service without its generated code, learnt from reflection.

The `micro` command and the HTTP gateway call whatever is registered. They
learn each method's messages by asking a node of the service for its proto
files through gRPC server reflection, build message classes from them, and
then call through the ordinary `Client`, with its registry cache, selector
and channel pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from micro_grpc.client.client import Client
from micro_grpc.errors import NotFound, StatusError, from_rpc_error
from micro_grpc.methods import Cardinality, MethodSpec
from micro_grpc.registry import Service

__all__ = ["DynamicMethods", "cardinality_of", "spec_for"]

AnySpec = MethodSpec[Message, Message]


def cardinality_of(method: MethodDescriptor) -> Cardinality:
    """The shape of an rpc, from its descriptor."""
    client = bool(getattr(method, "client_streaming", False))
    server = bool(getattr(method, "server_streaming", False))
    return {
        (False, False): Cardinality.UNARY_UNARY,
        (False, True): Cardinality.UNARY_STREAM,
        (True, False): Cardinality.STREAM_UNARY,
        (True, True): Cardinality.STREAM_STREAM,
    }[(client, server)]


def spec_for(method: MethodDescriptor) -> AnySpec:
    """The spec of an rpc, its message classes built from its descriptor."""
    return MethodSpec(
        service=method.containing_service.full_name,
        name=method.name,
        attr="",
        cardinality=cardinality_of(method),
        request=message_factory.GetMessageClass(method.input_type),
        response=message_factory.GetMessageClass(method.output_type),
    )


class DynamicMethods:
    """Method specs for `service` + `Greeter.Hello`, built from reflection.

    Descriptors are fetched once per service name and kept in one pool per
    service; `forget(service)` drops them (after a new version deploys).
    """

    def __init__(self, client: Client, *, timeout: float = 5.0) -> None:
        self._client = client
        self._timeout = timeout
        self._pools: dict[str, descriptor_pool.DescriptorPool] = {}
        self._specs: dict[tuple[str, str], AnySpec] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, service: str) -> None:
        self._pools.pop(service, None)
        for key in [k for k in self._specs if k[0] == service]:
            del self._specs[key]

    async def records(self, service: str) -> list[Service]:
        """The registry's records of `service`; ServiceNotFound if none."""
        return await self._client.lookup(service)

    async def method(
        self, service: str, endpoint: str, *, address: str | None = None
    ) -> AnySpec:
        """The spec of `endpoint` (`Greeter.Hello`) as `service` serves it."""
        spec = self._specs.get((service, endpoint))
        if spec is not None:
            return spec
        async with self._locks.setdefault(service, asyncio.Lock()):
            spec = self._specs.get((service, endpoint))
            if spec is None:
                spec = await self._build(service, endpoint, address)
                self._specs[(service, endpoint)] = spec
        return spec

    async def service_descriptors(
        self, service: str, *, address: str | None = None
    ) -> list[ServiceDescriptor]:
        """Every proto service a node of `service` serves, health aside."""
        pool, names = await self._pool(service, address)
        return [pool.FindServiceByName(n) for n in names if not _is_infrastructure(n)]

    async def _build(self, service: str, endpoint: str, address: str | None) -> AnySpec:
        records = await self.records(service)
        short, _, rpc = endpoint.rpartition(".")
        if not short or not rpc:
            raise NotFound(
                f"endpoint {endpoint!r} of {service} should read Service.Method"
            )
        full_name = ""
        for record in records:
            for known in record.endpoints:
                if known.name == endpoint and known.metadata.get("path"):
                    full_name = known.metadata["path"].strip("/").rpartition("/")[0]
        pool, names = await self._pool(service, address)
        if not full_name:
            matches = [n for n in names if n == short or n.endswith(f".{short}")]
            full_name = matches[0] if matches else ""
        descriptor = None
        if full_name:
            try:
                descriptor = pool.FindServiceByName(full_name).methods_by_name.get(rpc)
            except KeyError:
                descriptor = None
        if descriptor is None:
            available = sorted(
                f"{s.name}.{m.name}"
                for n in names
                if not _is_infrastructure(n)
                for s in (pool.FindServiceByName(n),)
                for m in s.methods
            )
            raise NotFound(
                f"endpoint {endpoint} not found in service {service}; "
                f"it has: {', '.join(available) or 'nothing'}"
            )
        return spec_for(descriptor)

    async def _pool(
        self, service: str, address: str | None
    ) -> tuple[descriptor_pool.DescriptorPool, list[str]]:
        node = None if address else await self._client.pick(service)
        target = address or (node.address if node else "")
        secure = node.metadata.get("secure") == "true" if node else None
        pool = descriptor_pool.DescriptorPool()
        try:
            channel = self._client.channel(target, secure=secure)
            names, files = await _reflect(channel, self._timeout)
        except grpc.aio.AioRpcError as exc:
            error = from_rpc_error(exc)
            raise type(error)(
                f"reflection on {service} at {target} failed: {error.message}",
                code=error.code,
            ) from exc
        _add_in_order(pool, files)
        self._pools[service] = pool
        return pool, names


def _is_infrastructure(name: str) -> bool:
    return name.startswith(("grpc.health.", "grpc.reflection."))


async def _reflect(
    channel: grpc.aio.Channel, timeout: float
) -> tuple[list[str], dict[str, descriptor_pb2.FileDescriptorProto]]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call: Any = stub.ServerReflectionInfo(timeout=timeout)
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    async def ask(request: reflection_pb2.ServerReflectionRequest) -> Any:
        await call.write(request)
        reply = await call.read()
        if reply.HasField("error_response"):
            raise StatusError(
                reply.error_response.error_message,
                code=grpc.StatusCode(_code(reply.error_response.error_code)),
            )
        return reply

    def keep(raw: Iterable[bytes]) -> None:
        for blob in raw:
            proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
            files.setdefault(proto.name, proto)

    listed = await ask(reflection_pb2.ServerReflectionRequest(list_services=""))
    names = [s.name for s in listed.list_services_response.service]
    for name in names:
        if _is_infrastructure(name):
            continue
        reply = await ask(
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=name)
        )
        keep(reply.file_descriptor_response.file_descriptor_proto)
    missing = _missing(files)
    while missing:
        for name in missing:
            reply = await ask(
                reflection_pb2.ServerReflectionRequest(file_by_filename=name)
            )
            keep(reply.file_descriptor_response.file_descriptor_proto)
        still = _missing(files)
        if still & missing:
            raise NotFound(f"reflection did not return {', '.join(sorted(still))}")
        missing = still
    await call.done_writing()
    return names, files


def _code(value: int) -> tuple[int, str]:
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code.value  # type: ignore[no-any-return]
    return grpc.StatusCode.UNKNOWN.value  # type: ignore[no-any-return]


def _missing(files: dict[str, descriptor_pb2.FileDescriptorProto]) -> set[str]:
    return {dep for f in files.values() for dep in f.dependency if dep not in files}


def _add_in_order(
    pool: descriptor_pool.DescriptorPool,
    files: dict[str, descriptor_pb2.FileDescriptorProto],
) -> None:
    added: set[str] = set()

    def add(name: str) -> None:
        if name in added:
            return
        added.add(name)
        proto = files[name]
        for dep in proto.dependency:
            add(dep)
        pool.Add(proto)

    for name in sorted(files):
        add(name)
