"""What every benchmark shares: timing, medians and percentiles, scratch directories on disk,
the aligned table, the JSON file, and the target checks.

A benchmark returns a ``Report``; ``Report.finish()`` prints it and writes
``bench/out/<name>.json`` (``<name>.quick.json`` for ``--quick``, so a smoke run never
overwrites a full result). Each target there is ``{"metric", "target", "value", "unit",
"ok"}``; ``ok`` is what a later check reads (nothing here asserts on time).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.domain import sample
from station.store.service import Station
from station.store.vault import FAST_KDF

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
TMP_DIR = OUT_DIR / "tmp"  # on the repository's disk: fsync costs what it costs for real
BENCH_PASSPHRASE = "bench passphrase, not secret"
_STARTED = time.monotonic()

# --- timing ---------------------------------------------------------------------------------


def clock() -> int:
    """Monotonic nanoseconds (``time.perf_counter_ns``)."""
    return time.perf_counter_ns()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call of ``fn`` took, and what it returned."""
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e9, result


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) with linear interpolation between closest ranks (as
    numpy's default), so p50 of an even count is the mean of the two middle values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout), with the time since start."""
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


# --- scratch space --------------------------------------------------------------------------


@contextmanager
def scratch(name: str, *, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under ``bench/out/tmp`` (a real disk, not tmpfs), removed afterwards
    unless ``keep``."""
    TMP_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=TMP_DIR))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def bare_connect(path: Path) -> sqlite3.Connection:
    """A plain SQLite connection with the station's pragmas (``station.store.db.connect``):
    WAL, synchronous=FULL, autocommit mode so transactions are explicit."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA busy_timeout=15000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


# --- the station under test ----------------------------------------------------------------


def new_station(home: Path) -> Station:
    """A fresh station vault in ``home``, with the fast KDF (unlocking is not measured)."""
    station, _ = Station.init(home, station_id="B001", name="基准测试站", agent="李春梅",
                              passphrase=BENCH_PASSPHRASE, kdf=FAST_KDF)
    return station


def open_station(home: Path) -> Station:
    return Station.open(home, BENCH_PASSPHRASE)


def write_residents_csv(path: Path, n: int, *, seed: int = 1,
                        today: dt.date | None = None) -> list[dict[str, Any]]:
    """``n`` sample residents as a village spreadsheet would hold them (Chinese headers);
    returns the resident rows."""
    people = list(sample.residents(n, seed=seed, today=today or dt.date.today()))
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.writelines(sample.to_csv_rows(people))
    return people


# --- targets and reports --------------------------------------------------------------------


@dataclass
class Target:
    """One performance target: ``value`` must be ``<=`` (or ``>=``) ``limit``."""

    metric: str
    value: float
    limit: float
    op: str = "<="
    unit: str = ""

    @property
    def ok(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value <= self.limit if self.op == "<=" else self.value >= self.limit

    @property
    def target(self) -> str:
        return f"{self.op} {fmt(self.limit)}{(' ' + self.unit) if self.unit else ''}"

    @property
    def shown(self) -> str:
        return fmt(self.value) + (f" {self.unit}" if self.unit else "")

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "target": self.target, "limit": self.limit,
                "op": self.op, "unit": self.unit, "value": round(self.value, 6),
                "ok": self.ok}


@dataclass
class Report:
    """What one benchmark measured: a table for people, targets and raw runs for the JSON."""

    name: str
    title: str
    quick: bool
    params: dict[str, Any]
    headers: list[str]
    rows: list[list[Any]]
    targets: list[Target]
    runs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.targets)

    def render(self) -> str:
        parts = [table(self.headers, self.rows, title=self.title)]
        parts.append(table(["target", "value", "limit", "ok"],
                           [[t.metric, t.shown, t.target, "yes" if t.ok else "NO"]
                            for t in self.targets]))
        parts.extend(self.notes)
        return "\n".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "quick": self.quick,
            "ok": self.ok, "targets": [t.as_dict() for t in self.targets],
            "params": self.params, "table": {"headers": self.headers, "rows": self.rows},
            "runs": self.runs, "notes": self.notes, "seconds": round(self.seconds, 1),
            "environment": environment(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def write(self, out_dir: Path = OUT_DIR) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        # a --quick smoke run never overwrites the result of a full run
        path = out_dir / f"{self.name}{'.quick' if self.quick else ''}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n",
                       encoding="utf-8")
        os.replace(tmp, path)
        return path

    def finish(self, out_dir: Path = OUT_DIR) -> Path:
        """Print the tables and write the JSON; returns the JSON's path."""
        print(self.render(), flush=True)
        path = self.write(out_dir)
        print(f"-> {os.path.relpath(path)}\n", flush=True)
        return path


def environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "machine": platform.machine()}


# --- the table ------------------------------------------------------------------------------


def fmt(value: Any, digits: int | None = None) -> str:
    """Numbers for people: ints with thin grouping, floats with 3 significant-ish places."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value.is_integer() and digits is None:
            return fmt(int(value))
        if digits is not None:
            return f"{value:.{digits}f}"
        size = abs(value)
        if size >= 1000:
            return f"{value:,.0f}".replace(",", " ")
        if size >= 100:
            return f"{value:.1f}"
        if size >= 10:
            return f"{value:.2f}"
        return f"{value:.3f}"
    return str(value)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _numeric(cell: Any) -> bool:
    return isinstance(cell, int | float) and not isinstance(cell, bool)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          title: str | None = None) -> str:
    """An aligned plain-text table: numbers right-aligned, text left-aligned."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], _width(cell))

    def line(values: Sequence[str], right: Sequence[bool]) -> str:
        out = []
        for value, width, r in zip(values, widths, right, strict=True):
            pad = " " * (width - _width(value))
            out.append(pad + value if r else value + pad)
        return "  ".join(out).rstrip()

    right_cols = [any(_numeric(row[i]) for row in rows) for i in range(len(headers))]
    lines = [] if title is None else [title]
    lines.append(line(list(headers), right_cols))
    lines.append("  ".join("-" * w for w in widths))
    lines += [line(row, [_numeric(c) for c in raw]) for row, raw in zip(cells, rows, strict=True)]
    return "\n".join(lines) + "\n"
