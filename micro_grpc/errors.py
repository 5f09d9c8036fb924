"""The exceptions micro-grpc raises, all below one root.

    MicroError
    ├── StatusError              a failure with a gRPC status, local or remote
    │   ├── Cancelled            CANCELLED
    │   ├── Unknown              UNKNOWN
    │   ├── InvalidArgument      INVALID_ARGUMENT
    │   ├── DeadlineExceeded     DEADLINE_EXCEEDED
    │   ├── NotFound             NOT_FOUND
    │   │   └── ServiceNotFound  no node of the service is registered
    │   ├── AlreadyExists        ALREADY_EXISTS
    │   ├── PermissionDenied     PERMISSION_DENIED
    │   ├── ResourceExhausted    RESOURCE_EXHAUSTED
    │   ├── FailedPrecondition   FAILED_PRECONDITION
    │   ├── Aborted              ABORTED
    │   ├── OutOfRange           OUT_OF_RANGE
    │   ├── Unimplemented        UNIMPLEMENTED
    │   ├── Internal             INTERNAL
    │   ├── Unavailable          UNAVAILABLE
    │   │   └── RegistryUnavailable  (also a RegistryError) a first lookup
    │   │                            found the registry unreachable
    │   ├── DataLoss             DATA_LOSS
    │   ├── Unauthenticated      UNAUTHENTICATED
    │   └── Refused              refused in this process before any node saw
    │       │                    it; never retried (micro_grpc.middleware)
    │       ├── BreakerOpen      also Unavailable: a circuit breaker is open
    │       └── RateLimited      also ResourceExhausted: the client's limit
    ├── RegistryError            the registry could not be reached or read
    └── ConfigError              a setting that cannot work, named

A handler raises a `StatusError` (usually one of its subclasses) to answer
with that status; the caller receives it as the same subclass, with the
message and any trailing metadata. Any other exception in a handler reaches
the caller as `Internal` with no detail, and is logged where it happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

__all__ = [
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "ConfigError",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "MicroError",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "RegistryError",
    "RegistryUnavailable",
    "ResourceExhausted",
    "ServiceNotFound",
    "StatusError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "from_rpc_error",
]

Metadata = Sequence[tuple[str, str | bytes]]


class MicroError(Exception):
    """The root of every exception micro-grpc raises."""


class ConfigError(MicroError):
    """A setting or argument that cannot work; the message names it."""


class RegistryError(MicroError):
    """The registry could not be reached, or answered something unreadable."""


class StatusError(MicroError):
    """A failure that carries a gRPC status code and message.

    Raise it from a handler to answer the call with that status. The client
    raises the subclass that matches the code it received.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str = "",
        *,
        code: grpc.StatusCode | None = None,
        trailing_metadata: Metadata = (),
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.trailing_metadata = tuple(trailing_metadata)

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class Cancelled(StatusError):
    code = grpc.StatusCode.CANCELLED


class Unknown(StatusError):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(StatusError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(StatusError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(StatusError):
    code = grpc.StatusCode.NOT_FOUND


class ServiceNotFound(NotFound):
    """No node of the named service is registered."""

    def __init__(self, service: str) -> None:
        super().__init__(f"service not found: {service}")
        self.service = service


class AlreadyExists(StatusError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(StatusError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(StatusError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(StatusError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(StatusError):
    code = grpc.StatusCode.ABORTED


class OutOfRange(StatusError):
    code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(StatusError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(StatusError):
    code = grpc.StatusCode.INTERNAL


class Unavailable(StatusError):
    code = grpc.StatusCode.UNAVAILABLE


class RegistryUnavailable(Unavailable, RegistryError):
    """A service was looked up for the first time while the registry was down.

    Once a service is known, lookups are answered from the cache and keep
    working while the registry is away; only a first lookup can fail so.
    """


class DataLoss(StatusError):
    code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(StatusError):
    code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE: dict[grpc.StatusCode, type[StatusError]] = {
    cls.code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def status_error(
    code: grpc.StatusCode, message: str, trailing_metadata: Metadata = ()
) -> StatusError:
    """The StatusError subclass for `code`, carrying `message`."""
    cls = _BY_CODE.get(code, StatusError)
    return cls(message, code=code, trailing_metadata=trailing_metadata)


def from_rpc_error(exc: grpc.aio.AioRpcError) -> StatusError:
    """Turn grpc's call error into the matching StatusError."""
    pairs: Any = exc.trailing_metadata() or ()
    trailing = [(str(key), value) for key, value in pairs]
    return status_error(exc.code(), exc.details() or "", trailing)
