"""The small form the renderer works from: files, services, rpcs, imports.

`build` reads a CodeGeneratorRequest and checks that its names make valid,
unambiguous Python; anything that does not raises PluginError naming the
file and the services or rpcs at fault.
"""

from __future__ import annotations

import enum
import keyword
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from google.protobuf.compiler import plugin_pb2
from google.protobuf.descriptor_pb2 import (
    DescriptorProto,
    FileDescriptorProto,
    MethodDescriptorProto,
)

from protoc_gen_micro import imports, names
from protoc_gen_micro.errors import PluginError
from protoc_gen_micro.params import Params

# Field numbers in descriptor.proto, for paths into SourceCodeInfo.
_FILE_SERVICE = 6
_SERVICE_METHOD = 2


class Cardinality(enum.Enum):
    """The shape of an rpc, named as in micro_grpc.Cardinality."""

    UNARY_UNARY = "UNARY_UNARY"
    UNARY_STREAM = "UNARY_STREAM"
    STREAM_UNARY = "STREAM_UNARY"
    STREAM_STREAM = "STREAM_STREAM"

    @property
    def client_streaming(self) -> bool:
        return self in (Cardinality.STREAM_UNARY, Cardinality.STREAM_STREAM)

    @property
    def server_streaming(self) -> bool:
        return self in (Cardinality.UNARY_STREAM, Cardinality.STREAM_STREAM)


@dataclass(frozen=True, slots=True)
class Method:
    """One rpc. `request` and `response` are Python expressions for the types."""

    name: str
    attr: str
    cardinality: Cardinality
    request: str
    response: str
    comment: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    full_name: str
    methods: tuple[Method, ...]
    comment: tuple[str, ...]

    @property
    def methods_class(self) -> str:
        return f"{self.name}Methods"

    @property
    def constant(self) -> str:
        return f"{names.constant_case(self.name)}_SERVICE"

    @property
    def base_class(self) -> str:
        return f"{self.name}Base"

    @property
    def client_class(self) -> str:
        return f"{self.name}Client"

    @property
    def generated_names(self) -> tuple[str, ...]:
        return (self.methods_class, self.constant, self.base_class, self.client_class)


@dataclass(frozen=True, slots=True)
class File:
    """One generated `_micro.py` module and what goes into it."""

    proto: str
    output: str
    services: tuple[Service, ...]
    pb2_imports: tuple[imports.Import, ...]

    @property
    def methods(self) -> tuple[Method, ...]:
        return tuple(m for service in self.services for m in service.methods)

    @property
    def streams(self) -> bool:
        return any(m.cardinality != Cardinality.UNARY_UNARY for m in self.methods)


def build(request: plugin_pb2.CodeGeneratorRequest, params: Params) -> list[File]:
    """The files to write: one per file to generate that declares a service."""
    by_name = {proto.name: proto for proto in request.proto_file}
    types = _TypeIndex(request.proto_file)
    files = []
    for name in request.file_to_generate:
        proto = by_name[name]
        if proto.service:
            files.append(_build_file(proto, types, params))
    return files


class _TypeIndex:
    """Where each message is defined: full proto name -> (file, Python path)."""

    def __init__(self, protos: Iterable[FileDescriptorProto]) -> None:
        self._types: dict[str, tuple[str, str]] = {}
        for proto in protos:
            prefix = f".{proto.package}." if proto.package else "."
            self._add(proto.name, prefix, "", proto.message_type)

    def _add(
        self, file: str, prefix: str, outer: str, messages: Iterable[DescriptorProto]
    ) -> None:
        for message in messages:
            path = f"{outer}{message.name}"
            self._types[prefix + path] = (file, path)
            self._add(file, prefix, path + ".", message.nested_type)

    def find(self, full_name: str) -> tuple[str, str]:
        return self._types[full_name]


def _build_file(proto: FileDescriptorProto, types: _TypeIndex, params: Params) -> File:
    used = {
        types.find(type_name)[0]
        for service in proto.service
        for method in service.method
        for type_name in (method.input_type, method.output_type)
    }
    local = imports.local_names(names.proto_module(f, "_pb2") for f in sorted(used))
    _check_modules(proto.name, local)

    own_module = names.proto_module(proto.name, "_micro")
    own_package = own_module.rpartition(".")[0]
    pb2_imports = tuple(
        imports.pb2_import(module, name, own_package, params.relative_imports)
        for module, name in local.items()
    )

    def python_type(type_name: str) -> str:
        file, path = types.find(type_name)
        if any(keyword.iskeyword(part) for part in path.split(".")):
            raise PluginError(
                f"{proto.name}: message {type_name.lstrip('.')} is used by an rpc, "
                "but its name is a Python keyword, so no Python code can name it"
            )
        return f"{local[names.proto_module(file, '_pb2')]}.{path}"

    comments = _comments(proto)
    module_names = frozenset(local.values())
    services = [
        Service(
            name=service.name,
            full_name=f"{proto.package}.{service.name}".lstrip("."),
            methods=tuple(
                Method(
                    name=method.name,
                    attr=names.method_name(method.name, module_names),
                    cardinality=_cardinality(method),
                    request=python_type(method.input_type),
                    response=python_type(method.output_type),
                    comment=comments.get((_FILE_SERVICE, s, _SERVICE_METHOD, m), ()),
                )
                for m, method in enumerate(service.method)
            ),
            comment=comments.get((_FILE_SERVICE, s), ()),
        )
        for s, service in enumerate(proto.service)
    ]

    _check_methods(proto.name, services)
    _check_services(proto.name, services)
    return File(
        proto=proto.name,
        output=names.module_path(own_module),
        services=tuple(services),
        pb2_imports=pb2_imports,
    )


def _cardinality(method: MethodDescriptorProto) -> Cardinality:
    client = "STREAM" if method.client_streaming else "UNARY"
    server = "STREAM" if method.server_streaming else "UNARY"
    return Cardinality[f"{client}_{server}"]


def _comments(proto: FileDescriptorProto) -> dict[tuple[int, ...], tuple[str, ...]]:
    """The leading comment of each element, by its SourceCodeInfo path.

    protoc keeps the text after `//` (or inside `/* */`) with its leading
    space; the common indent is removed, blank edges dropped and tabs
    expanded, so each line is ready to be a docstring line.
    """
    comments = {}
    for location in proto.source_code_info.location:
        if not location.HasField("leading_comments"):
            continue
        text = textwrap.dedent(location.leading_comments.expandtabs(4))
        lines = [line.rstrip() for line in text.splitlines()]
        while lines and not lines[0]:
            del lines[0]
        while lines and not lines[-1]:
            del lines[-1]
        if lines:
            comments[tuple(location.path)] = tuple(lines)
    return comments


def _check_modules(proto: str, local: dict[str, str]) -> None:
    """Even aliased, two imported modules must not share a local name."""
    seen: dict[str, str] = {}
    for module, name in local.items():
        if name in seen:
            raise PluginError(
                f"{proto}: the imported modules {seen[name]} and {module} "
                f"both need the local name {name}; rename one of their files"
            )
        seen[name] = module


def _check_methods(proto: str, services: Iterable[Service]) -> None:
    """Each rpc of a service needs a Python method name of its own."""
    for service in services:
        seen: dict[str, Method] = {}
        for method in service.methods:
            if method.attr.startswith("_"):
                raise PluginError(
                    f"{proto}: service {service.full_name}: rpc {method.name} "
                    f"would become the private Python method {method.attr}; "
                    "rpc names must not start with an underscore"
                )
            other = seen.get(method.attr)
            if other is not None:
                raise PluginError(
                    f"{proto}: service {service.full_name}: rpcs {other.name} "
                    f"and {method.name} both become the Python method "
                    f"{method.attr}; rename one of them"
                )
            seen[method.attr] = method


def _check_services(proto: str, services: Iterable[Service]) -> None:
    """The classes and constants of each service need names of their own."""
    seen: dict[str, Service] = {}
    for service in services:
        for name in service.generated_names:
            other = seen.get(name)
            if other is not None:
                raise PluginError(
                    f"{proto}: services {other.full_name} and "
                    f"{service.full_name} both generate the Python name {name}; "
                    "rename one of them"
                )
            seen[name] = service
