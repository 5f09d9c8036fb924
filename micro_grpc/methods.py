"""What generated code tells the runtime about a service and its rpcs.

protoc-gen-micro writes one `MethodSpec` per rpc and one `ServiceSpec` per
service, so the server can register handlers and advertise endpoints, and
the client can call them, without reading descriptors at import time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf.message import Message

__all__ = ["Cardinality", "MethodSpec", "ServiceSpec"]

RequestT = TypeVar("RequestT", bound=Message, covariant=True)
ResponseT = TypeVar("ResponseT", bound=Message, covariant=True)


class Cardinality(enum.Enum):
    """The four shapes of an rpc, by whether each side streams."""

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"

    @property
    def client_streaming(self) -> bool:
        return self in (Cardinality.STREAM_UNARY, Cardinality.STREAM_STREAM)

    @property
    def server_streaming(self) -> bool:
        return self in (Cardinality.UNARY_STREAM, Cardinality.STREAM_STREAM)


@dataclass(frozen=True, slots=True)
class MethodSpec(Generic[RequestT, ResponseT]):
    """One rpc: `service` is the full proto name, `name` the rpc's.

    `attr` is the snake_case name of the handler method on the base class.
    """

    service: str
    name: str
    attr: str
    cardinality: Cardinality
    request: type[RequestT]
    response: type[ResponseT]
    path: str = field(init=False, compare=False)
    """The gRPC method path on the wire: `/greeter.v1.Greeter/Hello`."""

    def __post_init__(self) -> None:
        # Read on every call, so built once.
        object.__setattr__(self, "path", f"/{self.service}/{self.name}")

    @property
    def endpoint(self) -> str:
        """The registry's name for it: `Greeter.Hello`."""
        return f"{self.service.rpartition('.')[2]}.{self.name}"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """A proto service: its full name and its rpcs, in declaration order."""

    name: str
    methods: tuple[MethodSpec[Message, Message], ...]
