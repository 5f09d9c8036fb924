"""The greeter service: serves greeter.v1.Greeter as the service `greeter`.

    python -m examples.greeter.server

It registers in the registry MICRO_REGISTRY names (etcd at 127.0.0.1:2379
by default) and serves until Ctrl-C or SIGTERM, then deregisters and drains.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from greeter.v1.greeter_micro import GreeterBase
from greeter.v1.greeter_pb2 import HelloReply, HelloRequest, LotsOfRepliesRequest

from micro_grpc import Context, Service
from micro_grpc.errors import InvalidArgument


class Greeter(GreeterBase):
    async def hello(self, request: HelloRequest, context: Context) -> HelloReply:
        if not request.name:
            raise InvalidArgument("name must not be empty")
        return HelloReply(message=f"Hello {request.name}")

    async def lots_of_replies(
        self, request: LotsOfRepliesRequest, context: Context
    ) -> AsyncIterator[HelloReply]:
        for i in range(1, request.count + 1):
            yield HelloReply(message=f"Hello {request.name} #{i}")

    async def lots_of_greetings(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> HelloReply:
        names = [request.name async for request in requests]
        return HelloReply(message=f"Hello {', '.join(names)}")

    async def bidi_hello(
        self, requests: AsyncIterator[HelloRequest], context: Context
    ) -> AsyncIterator[HelloReply]:
        async for request in requests:
            yield HelloReply(message=f"Hello {request.name}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    service = Service("greeter", version="1.0.0")
    service.handle(Greeter())
    service.run()


if __name__ == "__main__":
    main()
