"""Run protoc with protoc-gen-micro over the test protos; keep golden files.

`python -m tests.plugin.golden --update` (or `make golden`) rewrites
tests/plugin/golden/ from the current plugin; without `--update` it shows
how the output differs from the golden files and exits non-zero.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROTOS = HERE / "protos"
BAD_PROTOS = HERE / "bad_protos"
GOLDEN = HERE / "golden"

# Golden variant -> the plugin parameter that makes it.
VARIANTS = {"absolute": "", "relative": "relative_imports"}


def bin_dir() -> Path:
    """The venv's scripts: protoc-gen-micro, protoc-gen-mypy."""
    return Path(sys.executable).parent


def protoc(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run grpcio-tools' protoc with the venv's plugins, output captured."""
    plugin = bin_dir() / "protoc-gen-micro"
    env = {**os.environ, "PATH": f"{bin_dir()}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "grpc_tools.protoc", f"--plugin={plugin}"]
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def proto_files(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*.proto"))


def generate(out: Path, parameter: str = "", *extra: str) -> None:
    """Generate the `_micro.py` modules of every test proto into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    args: list[str | Path] = ["-I", PROTOS, f"--micro_out={out}", *extra]
    if parameter:
        args.append(f"--micro_opt={parameter}")
    result = protoc(*args, *proto_files(PROTOS), cwd=PROTOS)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed:\n{result.stderr}")


def micro_files(root: Path) -> dict[str, str]:
    """Each generated module under `root`, by its relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*_micro.py"))
    }


def diff(expected: dict[str, str], actual: dict[str, str]) -> str:
    """A unified diff of two sets of files; empty when they are the same."""
    lines: list[str] = []
    for name in sorted(expected.keys() | actual.keys()):
        lines += difflib.unified_diff(
            expected.get(name, "").splitlines(keepends=True),
            actual.get(name, "").splitlines(keepends=True),
            fromfile=f"golden/{name}" if name in expected else "/dev/null",
            tofile=f"generated/{name}" if name in actual else "/dev/null",
        )
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.plugin.golden")
    parser.add_argument(
        "--update", action="store_true", help="rewrite the golden files"
    )
    args = parser.parse_args(argv)

    changed = False
    with tempfile.TemporaryDirectory() as tmp:
        for variant, parameter in VARIANTS.items():
            out = Path(tmp) / variant
            generate(out, parameter)
            golden = GOLDEN / variant
            found = diff(micro_files(golden), micro_files(out))
            if not found:
                continue

            changed = True
            if args.update:
                shutil.rmtree(golden, ignore_errors=True)
                for name, text in micro_files(out).items():
                    (golden / name).parent.mkdir(parents=True, exist_ok=True)
                    (golden / name).write_text(text)
                print(f"updated {golden.relative_to(REPO)}")
            else:
                sys.stdout.write(found)

    if changed and not args.update:
        print("golden files differ; run `make golden` to update them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
