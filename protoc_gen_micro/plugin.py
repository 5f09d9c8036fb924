"""One run of the plugin: a CodeGeneratorRequest in, a response out."""

from __future__ import annotations

from google.protobuf.compiler import plugin_pb2

from protoc_gen_micro import model, render
from protoc_gen_micro.errors import PluginError
from protoc_gen_micro.params import parse_params

Response = plugin_pb2.CodeGeneratorResponse


def generate(request: plugin_pb2.CodeGeneratorRequest) -> Response:
    """Generate the `_micro.py` modules, or an error protoc will print."""
    response = Response(supported_features=Response.FEATURE_PROTO3_OPTIONAL)
    try:
        params = parse_params(request.parameter)
        files = model.build(request, params)
    except PluginError as exc:
        response.error = str(exc)
        return response

    for file in files:
        response.file.add(name=file.output, content=render.render(file))
    return response
