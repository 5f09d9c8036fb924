from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin import golden


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each golden variant generated afresh, by variant name.

    The absolute variant also holds the `_pb2.py` and `_pb2.pyi` modules, so
    the generated code can be imported and type-checked.
    """
    root = tmp_path_factory.mktemp("generated")
    outs = {}
    for variant, parameter in golden.VARIANTS.items():
        out = root / variant
        extra = []
        if variant == "absolute":
            extra = [f"--python_out={out}", f"--mypy_out={out}"]
        golden.generate(out, parameter, *extra)
        outs[variant] = out
    return outs
