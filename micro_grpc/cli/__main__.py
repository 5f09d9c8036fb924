"""`python -m micro_grpc.cli`: the `micro` command."""

from micro_grpc.cli import main

main()
