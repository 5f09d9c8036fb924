"""The HTTP gateway: one HTTP door in front of every registered service.

`micro api` runs it. It routes as Micro's API did (`POST /greeter/hello`
calls `Greeter.Hello` of the service `greeter`), serves the REST routes
that `google.api.http` annotations declare, takes `POST /rpc` envelopes,
and learns every message by server reflection, so no generated code is
needed. Calls go through the ordinary `Client`: registry cache, selector,
channel pool.

    gateway = Gateway(client, GatewayOptions.from_env(address="127.0.0.1:0"))
    await gateway.start()

Modules, one concern each: `routing` (Micro's path and Host routing),
`rules` (HttpRule templates), `catalog` (what is registered), `bodies`
(JSON and protobuf), `errors` (gRPC status to HTTP), `streaming` (NDJSON,
SSE, websockets), `headers` (metadata and CORS), `stats`, `access_log`,
`handlers` (the request pipeline) and `server` (the lifecycle).
"""

from micro_grpc.gateway.options import GatewayOptions
from micro_grpc.gateway.server import Gateway, run_gateway

__all__ = ["Gateway", "GatewayOptions", "run_gateway"]
