"""Requests from JSON: every mistake named on one line, nested ones by path."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, struct_pb2

from micro_grpc.cli.failures import Failure
from micro_grpc.cli.messages import parse_json, parse_request


def test_nested_unknown_field_is_named_by_path() -> None:
    data = {"name": "M", "field": [{"name": "a"}, {"nmae": "b"}]}

    with pytest.raises(Failure) as caught:
        parse_request(data, descriptor_pb2.DescriptorProto)

    message = caught.value.message
    assert message.startswith('unknown field "field[1].nmae" in ')
    assert "google.protobuf.FieldDescriptorProto" in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_json_names_are_accepted() -> None:
    parsed = parse_request(
        {"name": "M", "nestedType": [{"name": "N"}]}, descriptor_pb2.DescriptorProto
    )

    assert parsed.nested_type[0].name == "N"


def test_well_known_types_keep_their_json_form() -> None:
    parsed = parse_request({"a": {"b": [1, "x"]}}, struct_pb2.Struct)

    assert (
        parsed.fields["a"].struct_value.fields["b"].list_value.values[1].string_value
        == "x"
    )


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(Failure, match=r"malformed JSON at line 2, column 8: "):
        parse_json('{"a": 1,\n  "b": }')
    with pytest.raises(Failure, match=r"malformed JSON at input line 7, column 2: "):
        parse_json("{x", line=7)


def test_empty_text_is_an_empty_request() -> None:
    assert parse_json("  \n") == {}
