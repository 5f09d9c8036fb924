from __future__ import annotations

import pytest

from protoc_gen_micro.errors import PluginError
from protoc_gen_micro.params import Params, parse_params


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("", Params()),
        ("relative_imports", Params(relative_imports=True)),
        (" relative_imports , ", Params(relative_imports=True)),
    ],
)
def test_parse_params(text: str, params: Params) -> None:
    assert parse_params(text) == params


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(PluginError, match=r"unknown parameter 'relative'"):
        parse_params("relative")


def test_flag_takes_no_value() -> None:
    with pytest.raises(PluginError, match=r"'relative_imports' is a flag"):
        parse_params("relative_imports=false")
