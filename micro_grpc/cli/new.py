"""`micro new NAME`: a service folder that builds, runs and passes its test.

The files come from `templates/`, each `*.tmpl` with `{{name}}` (as
given), `{{module}}` (the Python and proto package) and `{{Service}}` (the
proto service) filled in; `__module__` in a path becomes the module name.
"""

from __future__ import annotations

import keyword
import re
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from micro_grpc.cli.failures import EXIT_USAGE, Failure
from micro_grpc.cli.output import echo_json
from micro_grpc.cli.state import State, output_option, pass_state

__all__ = ["COMMANDS", "render"]

_NAME = re.compile(r"[a-z][a-z0-9]*([_-][a-z0-9]+)*")

# Top-level names the generated `gen/<module>` package must not hide.
_TAKEN = {"micro_grpc", "grpc", "grpc_tools", "google", "pytest", "mypy", "handler"}


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Where to make the folder (default: here).",
)
@output_option
@pass_state
def new_command(state: State, name: str, parent: Path) -> None:
    """Make the folder NAME: proto, handler, server, client, test, Makefile.

    NAME is lower case, words joined by - or _ (`greeter`, `order-service`).
    `make test` in the folder generates the code and passes straight away.
    """
    target = parent / name
    if target.exists():
        raise Failure(f"{target} already exists", EXIT_USAGE)
    written = render(name, target)
    if state.json:
        echo_json({"name": name, "path": str(target), "files": written})
        return
    click.echo(f"made {target}:")
    for path in written:
        click.echo(f"  {path}")
    click.echo(f"\nnext: cd {target} && make test && make run")


def render(name: str, target: Path) -> list[str]:
    """Write the service folder for `name` at `target`; its files, relative."""
    values = _values(name)
    written: list[str] = []
    root = resources.files("micro_grpc.cli") / "templates"
    for source, relative in _walk(root, ""):
        if not relative.endswith(".tmpl"):
            continue
        path = relative.removesuffix(".tmpl").replace("__module__", values["module"])
        if path == "gitignore":
            path = ".gitignore"
        text = source.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        out = target / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        written.append(path)
    return sorted(written)


def _values(name: str) -> dict[str, str]:
    if not _NAME.fullmatch(name):
        raise Failure(
            f"{name!r} is not a service name: use lower-case letters and digits, "
            "words joined by - or _, starting with a letter",
            EXIT_USAGE,
        )
    module = name.replace("-", "_")
    if keyword.iskeyword(module) or module in sys.stdlib_module_names:
        raise Failure(f"{name!r} would hide Python's own {module!r}", EXIT_USAGE)
    if module in _TAKEN:
        raise Failure(f"{name!r} would hide the {module!r} package", EXIT_USAGE)
    service = "".join(word.capitalize() for word in module.split("_"))
    return {"name": name, "module": module, "Service": service}


def _walk(node: Traversable, prefix: str) -> list[tuple[Traversable, str]]:
    found = []
    for child in node.iterdir():
        relative = f"{prefix}{child.name}"
        if child.is_dir():
            found += _walk(child, relative + "/")
        else:
            found.append((child, relative))
    return found


COMMANDS = (new_command,)
