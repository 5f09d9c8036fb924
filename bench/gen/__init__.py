"""Code generated from bench/protos/bench/gen/echo.proto; do not edit.

Regenerate from the repository root:

    PATH=.venv/bin:$PATH .venv/bin/python -m grpc_tools.protoc -I bench/protos \\
        --python_out=. --mypy_out=. --grpc_python_out=. --mypy_grpc_out=. \\
        --grpclib_python_out=. --micro_out=. bench/protos/bench/gen/echo.proto
"""
