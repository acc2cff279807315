"""Import 100 000 residents from a village spreadsheet (CSV), against a bare ``executemany``.

The CSV is made once with ``sample.residents`` + ``sample.to_csv_rows`` (Chinese headers, as
villages keep them), outside the timing. Each repeat times ``import_file(station, path)``
into a fresh station (made with the fast KDF, outside the timing): read, validate every row,
then one transaction of one changeset per record.

The baseline, in the same repeat: the same rows, already parsed into plain columns, inserted
by one ``executemany`` into a fresh SQLite table with the same pragmas (WAL,
synchronous=FULL), in one transaction.

Target: >= 5 000 records/s (median over repeats); the ratio to the bare insert is reported.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from bench.common import (
    Report,
    Target,
    bare_connect,
    clock,
    fmt,
    log,
    median,
    new_station,
    scratch,
    timed,
    write_residents_csv,
)
from station.store.importer import import_file

NAME = "import"
FULL = {"rows": 100_000, "repeats": 5}
QUICK = {"rows": 10_000, "repeats": 3}
RATE_LIMIT = 5_000.0
COLUMNS = ("name", "id_number", "phone", "address", "village_group", "categories")


def parsed_rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)  # the header
        return [tuple(row) for row in reader]


def bare_insert(path: Path, rows: list[tuple[str, ...]]) -> float:
    """Seconds for one transaction of one ``executemany`` of ``rows`` into a fresh table."""
    conn = bare_connect(path)
    try:
        conn.execute(f"CREATE TABLE residents ({', '.join(c + ' TEXT' for c in COLUMNS)})")
        marks = ", ".join("?" for _ in COLUMNS)

        def insert() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT INTO residents VALUES ({marks})", rows)
            conn.execute("COMMIT")

        took, _ = timed(insert)
        assert conn.execute("SELECT count(*) FROM residents").fetchone()[0] == len(rows)
    finally:
        conn.close()
    return took


def station_import(home: Path, csv_path: Path, n: int) -> float:
    station = new_station(home)
    try:
        took, report = timed(lambda: import_file(station, csv_path))
        assert report.imported == n and not report.bad, (report.imported, report.bad[:3])
    finally:
        station.close()
    return took


def run(*, quick: bool = False, repeats: int | None = None, keep: bool = False) -> Report:
    params = dict(QUICK if quick else FULL)
    if repeats:
        params["repeats"] = repeats
    n, n_repeats = params["rows"], params["repeats"]
    runs: list[dict[str, Any]] = []
    started = clock()
    with scratch(NAME, keep=keep) as work:
        csv_path = work / "residents.csv"
        log(f"import: writing {n} sample residents to CSV")
        write_residents_csv(csv_path, n)
        rows = parsed_rows(csv_path)
        assert len(rows) == n
        params["csv_bytes"] = csv_path.stat().st_size
        for r in range(n_repeats):
            home = work / f"station-{r}"
            took = station_import(home, csv_path, n)
            bare_path = work / f"bare-{r}.db"
            bare = bare_insert(bare_path, rows)
            runs.append({"import_s": took, "bare_s": bare, "records_per_s": n / took,
                         "bare_rows_per_s": n / bare, "ratio": took / bare})
            log(f"import: repeat {r + 1}/{n_repeats}: {n / took:,.0f} records/s "
                f"({took:.1f} s), bare executemany {bare:.3f} s, ratio {took / bare:.0f}x")
            if not keep:
                shutil.rmtree(home, ignore_errors=True)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{bare_path}{suffix}").unlink(missing_ok=True)

    def med(key: str) -> float:
        return median([one[key] for one in runs])

    rows_out = [
        ["seconds", med("import_s"), med("bare_s"), med("ratio")],
        ["records/s", med("records_per_s"), med("bare_rows_per_s"),
         med("bare_rows_per_s") / med("records_per_s")],
    ]
    title = f"import: {fmt(n)} residents from CSV x {n_repeats} repeats (medians over repeats)"
    return Report(
        name=NAME, title=title, quick=quick, params=params,
        headers=["measure", "station import", "bare executemany", "ratio"],
        rows=rows_out,
        targets=[Target("records/s", med("records_per_s"), RATE_LIMIT, ">=", "rec/s")],
        runs=runs,
        notes=["ratio = station import time / bare executemany time (per repeat, median): "
               "how many times slower than inserting the parsed rows as plain columns."],
        seconds=(clock() - started) / 1e9)
