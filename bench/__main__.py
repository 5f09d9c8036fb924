"""`python -m bench` (or `make bench`): run every case, write RESULTS.md.

python -m bench                 # 3 rounds, 2 s per load run
python -m bench --quick         # every case for a moment (the tests)
python -m bench --rounds 5 --duration 4 --out /tmp/results.md
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import cases, report
from bench.machine import describe
from bench.results import Results, Settings

QUICK = Settings(
    rounds=1, duration=0.3, warmup=0.1, codegen_services=20, workers=2, quick=True
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a moment per case")
    parser.add_argument("--rounds", type=int, help="rounds per case (3)")
    parser.add_argument("--duration", type=float, help="seconds per load run (2)")
    parser.add_argument("--warmup", type=float, help="seconds before each (0.5)")
    parser.add_argument("--services", type=int, help="codegen services (200)")
    parser.add_argument("--workers", type=int, help="worker processes (2)")
    parser.add_argument(
        "--case",
        action="append",
        choices=cases.CASE_KEYS,
        help="run only this case (repeatable); all by default",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "RESULTS.md",
        help="where the report goes (bench/RESULTS.md)",
    )
    args = parser.parse_args(argv)

    base = QUICK if args.quick else Settings()
    settings = Settings(
        rounds=args.rounds or base.rounds,
        duration=args.duration or base.duration,
        warmup=args.warmup if args.warmup is not None else base.warmup,
        codegen_services=args.services or base.codegen_services,
        workers=args.workers or base.workers,
        quick=base.quick,
    )
    results = Results(settings, describe())
    started = time.perf_counter()

    def progress(what: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {what}", file=sys.stderr)

    cases.run(results, progress, frozenset(args.case or ()))
    results.wall_s = time.perf_counter() - started

    args.out.write_text(report.render(results))
    print(report.summary(results))
    print(f"wrote {args.out} in {results.wall_s:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
