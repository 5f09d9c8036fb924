"""The public surface: every package says what it exports, and has it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import micro_grpc

PACKAGES = [
    "micro_grpc",
    *sorted(
        info.name
        for info in pkgutil.walk_packages(micro_grpc.__path__, "micro_grpc.")
        if info.ispkg and ".cli.templates" not in info.name
    ),
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_what_the_package_defines(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    # Classes and functions defined in the package or its own submodules.
    public = {
        n
        for n, value in vars(package).items()
        if not n.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and (value.__module__ == name or value.__module__.startswith(f"{name}."))
    }
    unlisted = sorted(public - set(exported))
    assert not unlisted, f"{name} defines names __all__ leaves out: {unlisted}"


def test_the_version_is_the_distribution_version() -> None:
    from importlib.metadata import version

    assert micro_grpc.__version__ == version("micro-grpc")
