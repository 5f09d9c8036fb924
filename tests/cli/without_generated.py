"""Run `micro` in a process that cannot import the example's generated code.

    python -m tests.cli.without_generated list services

Every test runs the command this way, so each call and stream it makes
shows that the messages came from server reflection: importing
`greeter.v1...` (or the examples) here fails outright.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

REFUSED = frozenset({"greeter", "examples"})


class RefuseGenerated(MetaPathFinder):
    """An import hook that refuses the top-level packages in REFUSED."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in REFUSED:
            raise ImportError(f"{fullname} is generated code the CLI must not import")
        return None


def refuse_generated() -> None:
    sys.meta_path.insert(0, RefuseGenerated())


if __name__ == "__main__":
    refuse_generated()
    from micro_grpc.cli import main

    main()
