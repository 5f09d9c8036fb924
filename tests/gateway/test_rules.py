"""HttpRule path templates and Micro's path routing, without a server."""

from __future__ import annotations

import pytest

from micro_grpc.errors import ConfigError
from micro_grpc.gateway.routing import Target, host_target, mapped_service, path_target
from micro_grpc.gateway.rules import compile_template


@pytest.mark.parametrize(
    ("source", "path", "expected"),
    [
        ("/v1/users/{id}", "/v1/users/42", {"id": "42"}),
        ("/v1/users/{id}", "/v1/users/42/x", None),
        (
            "/v1/{name=shelves/*/books/*}",
            "/v1/shelves/1/books/2",
            {"name": "shelves/1/books/2"},
        ),
        ("/v1/{name=files/**}", "/v1/files/a/b/c", {"name": "files/a/b/c"}),
        ("/v1/users/{id}:rename", "/v1/users/3:rename", {"id": "3"}),
        ("/v1/users/{user.id}", "/v1/users/7", {"user.id": "7"}),
        ("/v1/*/items", "/v1/any/items", {}),
    ],
)
def test_templates_match(
    source: str, path: str, expected: dict[str, str] | None
) -> None:
    assert compile_template(source).match(path) == expected


@pytest.mark.parametrize(
    "source", ["v1/x", "/v1/{id", "/v1//x", "/v1/{1x}", "/v1/{a=b{c}}"]
)
def test_bad_templates_are_refused(source: str) -> None:
    with pytest.raises(ConfigError):
        compile_template(source)


@pytest.mark.parametrize(
    ("path", "namespace", "expected"),
    [
        ("/greeter/hello", "", Target("greeter", "Greeter.Hello")),
        ("/greeter/say/hello", "", Target("greeter", "Say.Hello")),
        ("/v1/greeter/say/hello", "", Target("v1.greeter", "Say.Hello")),
        ("/greeter/lots_of-replies", "", Target("greeter", "Greeter.LotsOfReplies")),
        (
            "/greeter/hello",
            "go.micro.api",
            Target("go.micro.api.greeter", "Greeter.Hello"),
        ),
        ("/greeter", "", None),
        ("/", "", None),
        ("/greeter/..", "", None),
        ("/greeter/9lives", "", None),
    ],
)
def test_path_routing(path: str, namespace: str, expected: Target | None) -> None:
    assert path_target(path, namespace) == expected


def test_host_routing() -> None:
    hosts = {"hello.example": "greeter"}
    assert mapped_service("Hello.Example:8080", hosts) == "greeter"
    assert mapped_service("other", hosts) is None
    assert host_target("greeter", "/hello") == Target("greeter", "Greeter.Hello")
    assert host_target("greeter", "/say/hello") == Target("greeter", "Say.Hello")
    assert host_target("greeter", "/a/b/c") is None
