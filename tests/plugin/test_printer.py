from __future__ import annotations

from protoc_gen_micro.printer import Printer


def test_indent_nests_and_blank_lines_stay_empty() -> None:
    out = Printer()

    out.line("class A:")
    with out.indent():
        out.line("x = 1")
        out.line()
        out.line("y = 2")

    assert out.text() == "class A:\n    x = 1\n\n    y = 2\n"


def test_bracket_wraps_like_the_formatter() -> None:
    out = Printer()
    long = "x" * 50

    out.bracket("f(", ["a", "b"], ")")
    out.bracket("f(", [long, "b"], ")")
    out.bracket("f(", [long, long], ")")
    out.bracket("f(", ["a"], ")", explode=True)
    out.bracket("f(", [], ")", explode=True)

    assert out.text().splitlines() == [
        "f(a, b)",
        "f(" + long + ", b)",
        "f(",
        f"    {long},",
        f"    {long},",
        ")",
        "f(",
        "    a,",
        ")",
        "f()",
    ]


def test_single_subscript_item_gets_no_comma() -> None:
    out = Printer()
    name = "m" * 90

    out.bracket("AsyncIterator[", [name], "]:")

    assert out.text().splitlines() == ["AsyncIterator[", f"    {name}", "]:"]


def test_docstring_forms() -> None:
    out = Printer()

    out.docstring(["One line."])
    out.docstring(["First line", "second line."])
    out.docstring(['Ends in a "quote"'])
    out.docstring(['Has """ and \\ in it.'])

    assert out.text().splitlines() == [
        '"""One line."""',
        '"""First line',
        "second line.",
        '"""',
        '"""Ends in a "quote\\""""',
        '"""Has \\"\\"\\" and \\\\ in it."""',
    ]


def test_long_docstring_lines_are_broken_at_spaces() -> None:
    out = Printer()
    with out.indent(), out.indent():
        out.docstring(["word " * 20])

    lines = out.text().splitlines()
    assert all(len(line) <= 88 for line in lines)
    assert lines[-1] == '        """'
