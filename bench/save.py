"""One form save with 100 000 records already stored, against a bare SQLite commit.

A save is what the agent waits for after pressing "save": validate, encrypt, one changeset,
the re-merged record, its blind-index tokens, ``COMMIT`` with synchronous=FULL (DESIGN §4,
G1). Two kinds are timed, each its own transaction:

- update: ``station.update(id, {"resident.address": ...})`` of a random existing resident;
- create: ``station.create("application", ...)`` of a realistic sample application.

The baseline, measured interleaved in the same run (so both see the same noisy disk): in a
separate SQLite file with the same pragmas (WAL, synchronous=FULL), ``BEGIN IMMEDIATE;
INSERT`` one blob as large as what that save just wrote (changeset body + record state +
label + blind-index tokens) ``; COMMIT``.

Target: p50 <= 2x the bare commit's p50, p99 <= 20 ms. Each repeat times ``saves`` of each
kind; the reported numbers are medians over the repeats.
"""

from __future__ import annotations

import datetime as dt
import os
import random
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
    open_station,
    percentile,
    scratch,
    timed,
    write_residents_csv,
)
from station.domain import sample
from station.store.importer import import_file
from station.store.service import Station

NAME = "save"
FULL = {"records": 100_000, "saves": 500, "repeats": 5}
QUICK = {"records": 2_000, "saves": 50, "repeats": 3}
P50_RATIO_LIMIT = 2.0
P99_LIMIT_MS = 20.0
KINDS = ("update", "create")


def written_bytes(station: Station, record_id: str) -> int:
    """What the last save wrote that a bare commit must also write: the newest changeset's
    body, the record's encrypted state and label, and its blind-index tokens."""
    db = station.db
    body = db.execute("SELECT length(body) FROM changesets WHERE record=? "
                      "ORDER BY hlc DESC LIMIT 1", [record_id]).fetchone()[0]
    state, label = db.execute("SELECT length(state), coalesce(length(label), 0) FROM records "
                              "WHERE id=?", [record_id]).fetchone()
    tokens = db.execute("SELECT coalesce(sum(length(token)), 0) FROM blind_index "
                        "WHERE record=?", [record_id]).fetchone()[0]
    return int(body + state + label + tokens)


class Bare:
    """The baseline: one blob per ``BEGIN IMMEDIATE; INSERT; COMMIT`` in its own file."""

    def __init__(self, path: Path) -> None:
        self.conn = bare_connect(path)
        self.conn.execute("CREATE TABLE IF NOT EXISTS saves "
                          "(id INTEGER PRIMARY KEY, body BLOB NOT NULL)")

    def commit(self, size: int) -> float:
        blob = os.urandom(size)
        conn = self.conn
        start = clock()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO saves(body) VALUES (?)", [blob])
        conn.execute("COMMIT")
        return (clock() - start) / 1e6

    def close(self) -> None:
        self.conn.close()


def _build(home: Path, csv_path: Path, records: int) -> list[dict[str, Any]]:
    log(f"save: writing {records} sample residents to CSV")
    people = write_residents_csv(csv_path, records)
    station = new_station(home)
    try:
        log("save: importing them (one transaction)")
        took, report = timed(lambda: import_file(station, csv_path))
        log(f"save: imported {report.imported} records in {took:.1f} s")
    finally:
        station.close()
    return people


def _repeat(station: Station, bare: Bare, rng: random.Random, ids: list[str],
            applications: list[dict[str, Any]], saves: int) -> dict[str, Any]:
    ms: dict[str, list[float]] = {k: [] for k in KINDS}
    bare_ms: dict[str, list[float]] = {k: [] for k in KINDS}
    sizes: dict[str, list[int]] = {k: [] for k in KINDS}
    for _ in range(saves):
        rid = rng.choice(ids)
        address = f"青石村{rng.randint(1, 10)}组 {rng.randint(1, 999_999)} 号"
        start = clock()
        station.update(rid, {"resident.address": address})
        ms["update"].append((clock() - start) / 1e6)
        sizes["update"].append(written_bytes(station, rid))
        bare_ms["update"].append(bare.commit(sizes["update"][-1]))

        values = applications.pop()
        start = clock()
        record = station.create("application", values)
        ms["create"].append((clock() - start) / 1e6)
        sizes["create"].append(written_bytes(station, record.id))
        bare_ms["create"].append(bare.commit(sizes["create"][-1]))
    out: dict[str, Any] = {}
    for kind in KINDS:
        s50, s99 = percentile(ms[kind], 50), percentile(ms[kind], 99)
        b50, b99 = percentile(bare_ms[kind], 50), percentile(bare_ms[kind], 99)
        out[kind] = {"p50_ms": s50, "p99_ms": s99, "max_ms": max(ms[kind]),
                     "bare_p50_ms": b50, "bare_p99_ms": b99,
                     "p50_ratio": s50 / b50, "p99_ratio": s99 / b99,
                     "bytes_mean": sum(sizes[kind]) / len(sizes[kind]), "n": len(ms[kind])}
    return out


def run(*, quick: bool = False, repeats: int | None = None, keep: bool = False) -> Report:
    params = dict(QUICK if quick else FULL)
    if repeats:
        params["repeats"] = repeats
    records, saves, n_repeats = params["records"], params["saves"], params["repeats"]
    rng = random.Random(20240601)
    runs: list[dict[str, Any]] = []
    started = clock()
    with scratch(NAME, keep=keep) as work:
        home = work / "station"
        people = _build(home, work / "residents.csv", records)
        station = open_station(home)
        bare = Bare(work / "bare.db")
        try:
            station.names  # noqa: B018 -- the TUI has the name index loaded; saves update it
            ids = [row[0] for row in station.db.execute("SELECT id FROM records")]
            applications = [
                {k: v for k, v in row.items() if k != "kind"}
                for row in sample.applications(saves * n_repeats, catalogue=station.catalogue,
                                               seed=3, today=dt.date.today(), people=people)]
            applications.reverse()  # popped from the end: in the order they were made
            # a few unmeasured saves first: imports, caches and the WAL settle
            _repeat(station, bare, rng, ids,
                    [dict(a) for a in applications[-min(10, saves):]], min(10, saves))
            for r in range(n_repeats):
                log(f"save: repeat {r + 1}/{n_repeats}: {saves} updates + {saves} creates")
                result = _repeat(station, bare, rng, ids, applications, saves)
                runs.append(result)
                log("save: " + ", ".join(
                    f"{k} p50 {result[k]['p50_ms']:.2f} ms (bare {result[k]['bare_p50_ms']:.2f})"
                    f" p99 {result[k]['p99_ms']:.2f} ms" for k in KINDS))
        finally:
            bare.close()
            station.close()

    def med(kind: str, key: str) -> float:
        return median([one[kind][key] for one in runs])

    rows = [[kind, med(kind, "p50_ms"), med(kind, "bare_p50_ms"), med(kind, "p50_ratio"),
             med(kind, "p99_ms"), med(kind, "bare_p99_ms"), med(kind, "p99_ratio"),
             round(med(kind, "bytes_mean"))] for kind in KINDS]
    targets = []
    for kind in KINDS:
        targets.append(Target(f"{kind}: p50 / bare commit p50", med(kind, "p50_ratio"),
                              P50_RATIO_LIMIT, "<=", "x"))
        targets.append(Target(f"{kind}: p99", med(kind, "p99_ms"), P99_LIMIT_MS, "<=", "ms"))
    title = (f"save: one form save with {fmt(records)} records stored, {saves} saves of each"
             f" kind x {n_repeats} repeats (medians over repeats; ms)")
    return Report(
        name=NAME, title=title, quick=quick, params=params,
        headers=["save", "p50", "bare p50", "p50 ratio", "p99", "bare p99", "p99 ratio",
                 "bytes"],
        rows=rows, targets=targets, runs=runs,
        notes=["bare = BEGIN IMMEDIATE; INSERT one blob of the bytes that save wrote; COMMIT "
               "(WAL, synchronous=FULL, separate file), interleaved with the saves.",
               "ratios are per repeat (p50 / bare p50 of the same repeat), then the median."],
        seconds=(clock() - started) / 1e9)
