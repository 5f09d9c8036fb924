"""Calls the `greeter` service in each of its four rpc shapes.

    python -m examples.greeter.client

It finds the service through the registry MICRO_REGISTRY names, like any
other micro-grpc client.
"""

from __future__ import annotations

import asyncio

from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest, LotsOfRepliesRequest

from micro_grpc import Client
from micro_grpc.config import Options, load_registry


async def main() -> None:
    options = Options.from_env()
    async with Client(load_registry(options)) as client:
        greeter = GreeterClient(client, "greeter")

        reply = await greeter.hello(HelloRequest(name="Ada"), timeout=5.0)
        print("unary:           ", reply.message)

        async with greeter.lots_of_replies(
            LotsOfRepliesRequest(name="Grace", count=3), timeout=5.0
        ) as replies:
            async for reply in replies:
                print("server streaming:", reply.message)

        async with greeter.lots_of_greetings(timeout=5.0) as upload:
            for name in ("Alan", "Barbara", "Edsger"):
                await upload.send(HelloRequest(name=name))
            reply = await upload.recv()
            print("client streaming:", reply.message)

        async with greeter.bidi_hello(timeout=5.0) as chat:
            for name in ("Ken", "Dennis"):
                await chat.send(HelloRequest(name=name))
                answer = await chat.recv()
                print("bidirectional:   ", answer.message if answer else "(closed)")
            await chat.done_writing()


if __name__ == "__main__":
    asyncio.run(main())
