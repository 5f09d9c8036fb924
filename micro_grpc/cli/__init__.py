"""The `micro` command: list, inspect, call and watch services from a shell.

    micro list services
    micro get service greeter
    micro call greeter Greeter.Hello '{"name": "Ada"}'
    micro stream greeter Greeter.LotsOfReplies '{"name": "Ada", "count": 3}'
    micro health greeter
    micro watch
    micro server
    micro new hello

Services are called without their generated code, through descriptors
the service itself returns by gRPC server reflection. Every command takes
`--output json` for scripts; failures print one line on stderr and exit
with the code `failures` lists.
"""

from micro_grpc.cli.root import main, micro

__all__ = ["main", "micro"]
