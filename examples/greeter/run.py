"""`make run`: the greeter example end to end, then exit.

Starts an etcd on 127.0.0.1:2379 when none answers there, the greeter
server in its own process, then the client in another, then the HTTP
gateway, which it asks for a greeting as `curl` would; then the server gets
SIGTERM (it deregisters, then drains) and the etcd started here is stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time

import aiohttp

from micro_grpc import Client
from micro_grpc.config import Options, load_registry
from micro_grpc.gateway import Gateway, GatewayOptions
from micro_grpc.local import local_etcd

log = logging.getLogger("make-run")


def _wait_for_registration(server: subprocess.Popen[str], timeout: float) -> None:
    assert server.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = server.stderr.readline()
        if not line:
            raise SystemExit("the greeter server exited before registering")
        sys.stderr.write(line)
        if "registered greeter" in line:
            return
    raise SystemExit("the greeter server did not register in time")


async def _through_the_gateway(options: Options) -> None:
    registry = load_registry(options)
    async with (
        Client(registry) as client,
        Gateway(client, GatewayOptions.from_env(address="127.0.0.1:0")) as gateway,
        aiohttp.ClientSession() as http,
    ):
        url = f"{gateway.url}/greeter/hello"
        async with http.post(url, json={"name": "Ada"}) as reply:
            body = await reply.json()
        print(f"HTTP gateway:     POST {url} -> {reply.status} {json.dumps(body)}")
    await registry.close()


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    options = Options.from_env(registry="etcd")
    env = {
        **os.environ,
        "MICRO_REGISTRY": "etcd",
        "MICRO_REGISTRY_ADDRESS": options.registry_address,
        "PYTHONUNBUFFERED": "1",
    }
    with local_etcd(options.registry_address):
        server = subprocess.Popen(
            [sys.executable, "-m", "examples.greeter.server"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_registration(server, timeout=30)
            client = subprocess.run(
                [sys.executable, "-m", "examples.greeter.client"], env=env, check=False
            )
            asyncio.run(_through_the_gateway(options))
        finally:
            server.send_signal(signal.SIGTERM)
            _, rest = server.communicate(timeout=30)
            sys.stderr.write(rest)
    log.info(
        "client exited with %d, server with %d", client.returncode, server.returncode
    )
    return client.returncode or server.returncode


if __name__ == "__main__":
    sys.exit(main())
