"""Service.run() in its own process: serve, answer, stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

from greeter.v1.greeter_micro import GreeterClient
from greeter.v1.greeter_pb2 import HelloRequest

from micro_grpc import Client


async def test_example_server_runs_until_sigterm() -> None:
    env = {**os.environ, "MICRO_REGISTRY": "memory", "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.greeter.server",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        address = ""
        async with asyncio.timeout(15):
            while not address:
                line = (await process.stderr.readline()).decode()
                assert line, "the server exited before serving"
                if found := re.search(r"serving on (\S+)", line):
                    address = found.group(1)

        async with Client() as client:
            reply = await GreeterClient(client, "greeter").hello(
                HelloRequest(name="Ada"), address=address, timeout=5
            )
        assert reply.message == "Hello Ada"

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            rest = (await process.stderr.read()).decode()
            code = await process.wait()
        assert code == 0
        assert "service greeter stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
