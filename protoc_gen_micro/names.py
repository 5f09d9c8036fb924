"""How proto names become Python names.

rpc `LotsOfReplies` becomes the method `lots_of_replies`; service `Greeter`
becomes `GreeterMethods`, `GREETER_SERVICE`, `GreeterBase` and
`GreeterClient`; file `greeter/v1/greeter.proto` is the module
`greeter.v1.greeter_pb2`, as protoc's python_out lays it out.

A method name that would break the generated module gets one trailing
underscore (rpc `Import` becomes `import_`). That covers Python keywords,
and the names the generated class bodies themselves read: `abc`,
`micro_grpc`, `str` and the imported `_pb2` modules, which a method of the
same name would shadow for the lines after it. Soft keywords (`match`,
`case`, `type`, `_`) and other builtins stay as they are: they are legal
method names and the generated code does not use them. The gRPC method path
always keeps the proto name.
"""

from __future__ import annotations

import keyword
import re

# Names the generated class bodies refer to; see the module docstring.
_BODY_NAMES = frozenset({"abc", "micro_grpc", "str"})

_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_START = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """`LotsOfReplies` -> `lots_of_replies`, `GetHTTPStatus` -> `get_http_status`.

    Existing underscores are kept, so `Get_User` and `GetUser` both become
    `get_user`; the model reports such a clash.
    """
    name = _ACRONYM_END.sub(r"\1_\2", name)
    name = _WORD_START.sub(r"\1_\2", name)
    return name.lower()


def constant_case(name: str) -> str:
    """`UserProfile` -> `USER_PROFILE`."""
    return snake_case(name).upper()


def method_name(rpc: str, module_names: frozenset[str]) -> str:
    """The Python method for an rpc, renamed when it would break the module.

    `module_names` are the local names of the `_pb2` modules the generated
    module imports.
    """
    name = snake_case(rpc)
    if keyword.iskeyword(name) or name in _BODY_NAMES or name in module_names:
        return name + "_"
    return name


def proto_module(proto_file: str, suffix: str) -> str:
    """The dotted Python module protoc writes for a `.proto` file.

    `greeter/v1/greeter.proto` with suffix `_pb2` is `greeter.v1.greeter_pb2`.
    Like python_out, a `-` in the path becomes `_`.
    """
    stem = proto_file.removesuffix(".proto").removesuffix(".protodevel")
    return stem.replace("-", "_").replace("/", ".") + suffix


def module_path(module: str) -> str:
    """The file that holds a dotted module: `a.b.c_micro` -> `a/b/c_micro.py`."""
    return module.replace(".", "/") + ".py"
