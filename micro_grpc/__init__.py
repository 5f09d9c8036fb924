"""micro-grpc: a gRPC-native microservice toolkit.

Write a `.proto`, run `protoc --micro_out`, subclass the generated base
class, serve it with `Service`, and call it with the generated client.
"""

from micro_grpc.client import (
    BidiStream,
    CallOptions,
    Client,
    ClientStream,
    Metadata,
    ServerStream,
)
from micro_grpc.config import Options
from micro_grpc.errors import (
    ConfigError,
    MicroError,
    RegistryError,
    ServiceNotFound,
    StatusError,
)
from micro_grpc.methods import Cardinality, MethodSpec, ServiceSpec
from micro_grpc.server import Context, Server
from micro_grpc.service import Service
from micro_grpc.tls import ClientTLS, ServerTLS

__version__ = "0.1.0"

__all__ = [
    "BidiStream",
    "CallOptions",
    "Cardinality",
    "Client",
    "ClientStream",
    "ClientTLS",
    "ConfigError",
    "Context",
    "Metadata",
    "MethodSpec",
    "MicroError",
    "Options",
    "RegistryError",
    "Server",
    "ServerStream",
    "ServerTLS",
    "Service",
    "ServiceNotFound",
    "ServiceSpec",
    "StatusError",
    "__version__",
]
