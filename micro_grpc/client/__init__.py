"""The calling side: resolve, select, call; typed stream wrappers."""

from micro_grpc.client.client import CallOptions, Client, Metadata
from micro_grpc.client.streams import BidiStream, ClientStream, ServerStream

__all__ = [
    "BidiStream",
    "CallOptions",
    "Client",
    "ClientStream",
    "Metadata",
    "ServerStream",
]
