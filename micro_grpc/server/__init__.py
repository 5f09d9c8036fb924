"""The serving side: the grpc.aio server and what handlers see of a call."""

from micro_grpc.server.context import Context
from micro_grpc.server.server import Server

__all__ = ["Context", "Server"]
