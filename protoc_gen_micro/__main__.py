"""The `protoc-gen-micro` command: protoc's request on stdin, response on stdout.

protoc runs it for `--micro_out`; run by hand, it answers `--version`.
"""

from __future__ import annotations

import sys

from google.protobuf.compiler import plugin_pb2

from protoc_gen_micro import __version__
from protoc_gen_micro.plugin import generate


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        print(f"protoc-gen-micro {__version__}")
        return
    if sys.argv[1:]:
        sys.exit(
            "usage: protoc-gen-micro [--version]\n"
            "Run by protoc: protoc --micro_out=DIR file.proto"
        )

    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = generate(request)
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
