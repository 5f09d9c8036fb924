"""The calling side: resolve, select, call; typed stream wrappers."""

from micro_grpc.client.client import CallOptions, Client, Metadata
from micro_grpc.client.retry import NO_RETRY, RetryPolicy
from micro_grpc.client.streams import BidiStream, ClientStream, ServerStream

__all__ = [
    "NO_RETRY",
    "BidiStream",
    "CallOptions",
    "Client",
    "ClientStream",
    "Metadata",
    "RetryPolicy",
    "ServerStream",
]
