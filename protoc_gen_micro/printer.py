"""A tiny printer: lines, an indenting context manager, ruff-style wrapping."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

WIDTH = 88
INDENT = "    "


class Printer:
    """Collects the lines of one module.

    `bracket` and `docstring` wrap the way `ruff format` would, so the output
    is stable under the formatter and stays within WIDTH where it can.
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    @property
    def _indent(self) -> str:
        return INDENT * self._depth

    def line(self, text: str = "") -> None:
        self._lines.append(self._indent + text if text else "")

    @contextmanager
    def indent(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def bracket(
        self, head: str, items: Sequence[str], tail: str, *, explode: bool = False
    ) -> None:
        """Write `head` + items joined by `, ` + `tail`, wrapped when too long.

        `head` ends with an opening bracket and `tail` starts with the closing
        one. Like the formatter: one line if it fits, else the items on one
        line of their own, else one item a line with a trailing comma; a
        single item gets no comma, since in a subscript that makes a tuple.
        `explode` always puts one item a line, as a "magic" trailing comma
        makes the formatter do.
        """
        joined = ", ".join(items)
        width = WIDTH - len(self._indent)
        fits = len(head) + len(joined) + len(tail) <= width
        if not items or (fits and not explode):
            self.line(head + joined + tail)
            return

        self.line(head)
        with self.indent():
            if not explode and (len(items) == 1 or len(INDENT) + len(joined) <= width):
                self.line(joined)
            else:
                for item in items:
                    self.line(item + ",")
        self.line(tail)

    def docstring(self, lines: Sequence[str]) -> None:
        """Write a docstring of the given lines, escaped as needed.

        One line when it fits, else the closing quotes on a line of their own,
        as in PEP 257. Lines too long to fit are broken at spaces.
        """
        lines = [_escape(line) for line in lines[:-1]] + [_escape_last(lines[-1])]
        width = WIDTH - len(self._indent)
        if len(lines) == 1 and len(lines[0]) + 6 <= width:
            self.line(f'"""{lines[0]}"""')
            return

        wrapped = _wrap(lines[0], width - 3)
        wrapped += [part for line in lines[1:] for part in _wrap(line, width)]
        self.line('"""' + wrapped[0])
        for line in wrapped[1:]:
            self.line(line)
        self.line('"""')

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _escape_last(line: str) -> str:
    # A quote right before the closing quotes would end the string early.
    if line.endswith('"'):
        return _escape(line[:-1]) + '\\"'
    return _escape(line)


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.wrap(
        line,
        width,
        initial_indent=lead,
        subsequent_indent=lead,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [line]
