"""The benchmark harness, run for a moment so that it cannot rot unseen."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.cases import LOAD_CASES
from bench.contenders import LABELS

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"-?[\d,]+(\.\d+)?"
RATIO = NUMBER + "\u00d7?"


def test_quick_run_measures_every_case_for_every_contender(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text()

    assert report.startswith("# micro-grpc benchmarks")
    for fact in ("cpu:", "python:", "grpcio", "protobuf", "date:"):
        assert fact in report
    sections = _sections(report)
    for load in LOAD_CASES:
        rows = _rows(sections[load.title])
        assert set(rows) == set(LABELS.values())
        for label, cells in rows.items():
            # rate, p50, p99, client CPU, server CPU, three ratios
            assert all(re.fullmatch(RATIO, c) for c in cells[:8]), label
            assert float(cells[0].replace(",", "")) > 0, label
    start = _rows(sections["Server start to registered and SERVING"])
    assert set(start) == set(LABELS.values())
    codegen = next(v for k, v in sections.items() if k.startswith("Code generation"))
    assert len(_rows(codegen)) == 4  # three plugins and protoc alone
    workers = next(v for k, v in sections.items() if "worker processes" in k)
    assert re.search(r"pid \d+: \d+%.*pid \d+: \d+%", workers)
    assert "micro-grpc against raw grpc.aio" in done.stdout


def _sections(report: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", report, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if (
            line.startswith("|")
            and cells[0] not in ("contender", "")
            and not (set(cells[1]) <= set("-:"))
        ):
            rows[cells[0]] = cells[1:]
    return rows


def test_crossed_run_pairs_each_client_with_each_server() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.crossed",
            "--rounds=1",
            "--duration=0.2",
            "--warmup=0.1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(done.stdout)
    assert rows.pop("client → server")  # the header
    pairings = {
        f"{a} → {b}" for a in ("raw", "micro-grpc") for b in ("raw", "micro-grpc")
    }
    assert set(rows) == pairings
    for label, cells in rows.items():
        assert all(re.fullmatch(NUMBER, c) for c in cells), label
        assert float(cells[0].replace(",", "")) > 0, label
    assert rows["raw → raw"][3:] == ["1.000"] * 4


def test_cold_run_times_both_sides_warm_and_cold() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cold", "--calls=50", "--rounds=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(done.stdout)
    assert rows.pop("micro-grpc adds, per unary call")  # the header
    assert [label.split(":")[0] for label in rows] == ["client", "server"]
    for label, (warm, cold) in rows.items():
        assert re.fullmatch(NUMBER, warm) and re.fullmatch(NUMBER, cold), label
