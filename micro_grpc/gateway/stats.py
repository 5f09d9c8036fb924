"""Request counts for the `/stats` page: totals and sliding time windows.

Each answered request is counted once, when its response is complete, in
a one-second bucket; a window sums the buckets it covers. Buckets older
than the widest window are dropped, so memory stays bounded however long
the gateway runs.
"""

from __future__ import annotations

import html
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["WINDOWS", "Stats"]

# (label, seconds) of each window the page shows.
WINDOWS: tuple[tuple[str, int], ...] = (
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
    ("1h", 3600),
)
_CLASSES = ("2xx", "4xx", "5xx")


@dataclass(slots=True)
class _Counts:
    requests: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_CLASSES, 0))

    def add(self, status: int) -> None:
        self.requests += 1
        label = f"{status // 100}xx"
        if label in self.by_class:
            self.by_class[label] += 1

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, **self.by_class}


class Stats:
    """Counts requests by status class, in total and per time window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._started_at = datetime.now(UTC)
        self._total = _Counts()
        self._buckets: deque[tuple[int, _Counts]] = deque()

    def record(self, status: int) -> None:
        """Count one answered request with HTTP `status`."""
        second = int(self._clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, _Counts()))
            self._expire(second)
        self._buckets[-1][1].add(status)
        self._total.add(status)

    def snapshot(self) -> dict[str, Any]:
        """Uptime, totals and each window's counts, as JSON-ready values."""
        now = self._clock()
        self._expire(int(now))
        windows = []
        for label, seconds in WINDOWS:
            counts = _Counts()
            # A bucket counts when its second lies inside the window.
            for second, bucket in self._buckets:
                if second > now - seconds:
                    counts.requests += bucket.requests
                    for key, value in bucket.by_class.items():
                        counts.by_class[key] += value
            windows.append({"window": label, "seconds": seconds, **counts.as_dict()})
        return {
            "started": self._started_at.isoformat(timespec="seconds"),
            "uptime_seconds": round(now - self._started, 3),
            "total": self._total.as_dict(),
            "windows": windows,
        }

    def _expire(self, now: int) -> None:
        horizon = now - WINDOWS[-1][1]
        while self._buckets and self._buckets[0][0] <= horizon:
            self._buckets.popleft()


def render_html(snapshot: dict[str, Any]) -> str:
    """The `/stats` page for people: one table, no scripts."""
    rows = [("total", snapshot["total"])] + [
        (w["window"], w) for w in snapshot["windows"]
    ]
    body = "\n".join(
        "<tr><th>{}</th>{}</tr>".format(
            html.escape(label),
            "".join(f"<td>{counts[k]}</td>" for k in ("requests", *_CLASSES)),
        )
        for label, counts in rows
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>micro api stats</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em 1em;
text-align:right}}</style></head>
<body><h1>micro api</h1>
<p>Up {_duration(snapshot["uptime_seconds"])}, since
{html.escape(snapshot["started"])}.</p>
<table><thead><tr><th>window</th><th>requests</th><th>2xx</th><th>4xx</th>
<th>5xx</th></tr></thead>
<tbody>
{body}
</tbody></table></body></html>
"""


def _duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"
