"""The import block of a generated module, laid out the way isort does.

Sections, each sorted and separated by a blank line: `__future__`, the
standard library, third-party packages (`micro_grpc` and Google's protos,
such as the well-known types in `google.protobuf`), the project's own `_pb2`
modules, and relative imports. That is how ruff's isort sorts the file in a
user's project, where micro_grpc is a dependency and the `_pb2` packages are
the project's own.

When two imported `_pb2` modules would have the same local name
(`a/money.proto` and `b/money.proto` are both `money_pb2`), each of them is
imported under its dotted path with `_` for `.`: `a_money_pb2` and
`b_money_pb2`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from protoc_gen_micro.printer import WIDTH

# Google's own protos ship in installed packages (the well-known types in
# protobuf, google.type and google.rpc in googleapis-common-protos), never in
# the user's output tree: always imported by absolute path, as third-party.
GOOGLE = "google"

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class Import:
    """`import module`, `from module import name` or `... import name as alias`.

    A relative import has a module that starts with dots (`..other`, `.`).
    """

    module: str
    name: str | None = None
    alias: str | None = None

    @property
    def level(self) -> int:
        return len(self.module) - len(self.module.lstrip("."))


def local_names(modules: Iterable[str]) -> dict[str, str]:
    """Map each dotted `_pb2` module to the name the generated code uses."""
    plain = {module: module.rpartition(".")[2] for module in modules}
    counts = Counter(plain.values())
    return {
        module: name if counts[name] == 1 else module.replace(".", "_")
        for module, name in plain.items()
    }


def pb2_import(module: str, local: str, own_package: str, relative: bool) -> Import:
    """How the module `own_package.<name>_micro` imports a `_pb2` module.

    Relative imports climb from `own_package` to the common ancestor;
    well-known types stay absolute since they live in the protobuf package.
    """
    package, _, name = module.rpartition(".")
    alias = local if local != name else None
    if relative and not _is_google(module):
        return Import(_relative(own_package, package), name, alias)
    if not package:
        return Import(name, None, alias)
    return Import(package, name, alias)


def split_pb2(pb2_imports: Iterable[Import]) -> tuple[list[Import], ...]:
    """Sort `_pb2` imports into the third-party, first-party, relative sections."""
    third_party, first_party, relative = [], [], []
    for imp in pb2_imports:
        if imp.level:
            relative.append(imp)
        elif _is_google(imp.module):
            third_party.append(imp)
        else:
            first_party.append(imp)
    return third_party, first_party, relative


def _is_google(module: str) -> bool:
    return module == GOOGLE or module.startswith(GOOGLE + ".")


def _relative(start: str, target: str) -> str:
    """The relative module path of package `target` seen from package `start`."""
    start_parts = start.split(".") if start else []
    target_parts = target.split(".") if target else []
    common = 0
    while (
        common < min(len(start_parts), len(target_parts))
        and start_parts[common] == target_parts[common]
    ):
        common += 1
    dots = "." * (len(start_parts) - common + 1)
    return dots + ".".join(target_parts[common:])


def render(sections: Iterable[Iterable[Import]]) -> list[str]:
    """The lines of the import block, sections separated by blank lines."""
    lines: list[str] = []
    for section in sections:
        statements = _statements(section)
        if not statements:
            continue
        if lines:
            lines.append("")
        lines.extend(statements)
    return lines


def _statements(section: Iterable[Import]) -> list[str]:
    """One section's statements: plain imports first, then `from` imports."""
    straight: set[tuple[str, str | None]] = set()
    merged: dict[str, set[str]] = {}
    aliased: set[tuple[str, str, str]] = set()
    for imp in section:
        if imp.name is None:
            straight.add((imp.module, imp.alias))
        elif imp.alias is None:
            merged.setdefault(imp.module, set()).add(imp.name)
        else:
            aliased.add((imp.module, imp.name, imp.alias))

    lines = []
    for module, alias in sorted(straight, key=lambda s: (_module_key(s[0]), s)):
        lines.append(f"import {module}" + (f" as {alias}" if alias else ""))

    froms: list[tuple[str, list[str]]] = [
        (module, sorted(names, key=_member_key)) for module, names in merged.items()
    ]
    froms += [(module, [f"{name} as {alias}"]) for module, name, alias in aliased]
    froms.sort(key=lambda f: (_module_key(f[0]), _member_key(f[1][0]), f[1][0]))
    for module, names in froms:
        lines.extend(_from_statement(module, names))
    return lines


def _from_statement(module: str, names: list[str]) -> list[str]:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= WIDTH:
        return [line]
    return [f"from {module} import (", *(f"    {name}," for name in names), ")"]


def _module_key(module: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """Furthest relative imports first, then natural, case-blind order."""
    level = len(module) - len(module.lstrip("."))
    return (-level, _natural(module.lstrip(".").lower()))


def _member_key(name: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """isort's order by type: CONSTANTS, then Classes, then the rest."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    return (kind, _natural(name.lower()))


def _natural(text: str) -> tuple[tuple[int, int], ...]:
    """Compare character by character, but runs of digits by their value."""
    key: list[tuple[int, int]] = []
    for chunk in _DIGITS.split(text):
        if chunk.isdigit():
            key.append((ord("0"), int(chunk)))
        else:
            key.extend((ord(char), 0) for char in chunk)
    return tuple(key)
