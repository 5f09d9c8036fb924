"""The plugin parameter: `--micro_opt=key=value,flag` or `--micro_out=flag:DIR`."""

from __future__ import annotations

from dataclasses import dataclass

from protoc_gen_micro.errors import PluginError

# Flags take no value; the plugin has no key=value parameters yet.
FLAGS = ("relative_imports",)


@dataclass(frozen=True, slots=True)
class Params:
    """What the parameter asks of the generated code."""

    # Import `_pb2` modules relative to the generated module's package
    # (`from . import greeter_pb2`) instead of by their absolute path.
    relative_imports: bool = False


def parse_params(text: str) -> Params:
    """Parse protoc's comma-separated parameter string.

    Empty items are skipped, so `relative_imports,` is accepted. An unknown
    name, or a value given to a flag, is an error.
    """
    flags: set[str] = set()
    for item in text.split(","):
        name, has_value, value = item.strip().partition("=")
        if not name:
            continue

        if name not in FLAGS:
            known = ", ".join(FLAGS)
            raise PluginError(f"unknown parameter {name!r} (known parameters: {known})")
        if has_value:
            raise PluginError(
                f"parameter {name!r} is a flag and takes no value, got {value!r}"
            )
        flags.add(name)

    return Params(relative_imports="relative_imports" in flags)
