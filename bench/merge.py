"""merge: incremental re-merge of a long-lived record, and applying a large pull.

Targets (issue "Merge engine"):
- a record with 1 000 changesets re-merges in under 5 ms when one more arrives (the store
  decrypts its state, applies the changeset, re-projects and encrypts it, and commits);
- applying 10 000 incoming changesets spread over 1 000 records takes under 2 s (validated,
  de-duplicated, merged, encrypted, committed in small transactions).

For scale, the table also shows the full re-merge of the 1 000 changesets from scratch
(what incremental merging avoids) and a bare SQLite insert of the same number of rows.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

from bench.common import Report, Target, bare_connect, log, median, new_station, scratch, timed
from station.domain import merge
from station.domain.changeset import Changeset, Op
from station.domain.hlc import Clock

REMERGE_LIMIT_MS = 5.0
APPLY_LIMIT_S = 2.0
PHONES = [f"139{n:08d}" for n in range(50)]


class Writer:
    """Makes realistic changesets for records, as other stations would."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock("V002-bench", now=lambda: 1_795_000_000_000)
        self.receipts = 0

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def create(self, record: str, name: str) -> Changeset:
        self.receipts += 1
        ops = (Op("set", "receipt", f"V002-20261120-{self.receipts:04d}"),
               Op("set", "resident.name", name), Op("set", "resident.phone", PHONES[0]),
               Op("add", "categories", "elderly"))
        return Changeset(self._id(), record, "resident", "V002", "V002", "张网格",
                         self.clock.tick(), ops)

    def edit(self, state: merge.State) -> Changeset:
        choice = self.rng.random()
        if choice < 0.6:
            heads = merge.register_heads(state, "resident.phone")
            op = Op("set", "resident.phone", self.rng.choice(PHONES),
                    prev=tuple(h.op_id for h in heads))
        elif choice < 0.9:
            op = Op("append", "notes", f"电话回访 {self.rng.randrange(1000)}")
        else:
            op = Op("add", "categories", self.rng.choice(["living_alone", "disabled"]))
        return Changeset(self._id(), state["id"], "resident", "V002", "V002", "张网格",
                         self.clock.tick(), (op,))


def history(writer: Writer, record: str, n: int) -> list[Changeset]:
    """``n`` changesets of one record, each made after seeing the ones before."""
    first = writer.create(record, "王桂英")
    state = merge.merge([first])
    out = [first]
    for _ in range(n - 1):
        cs = writer.edit(state)
        merge.apply(state, cs)
        out.append(cs)
    return out


def remerge_once(work: Path, repeat: int, samples: int) -> dict[str, float]:
    """Apply one more changeset to a stored record that already has 1 000 of them."""
    writer = Writer(seed=repeat)
    record = str(uuid.uuid4())
    changesets = history(writer, record, 1000)
    station = new_station(work / f"remerge-{repeat}")
    try:
        station.ledger.receive(changesets, today=station.today(), batch_records=1)
        full_ms, _ = timed(lambda: merge.merge(changesets))
        incremental = []
        for _ in range(samples):
            state = station.ledger.state(record)
            assert state is not None
            cs = writer.edit(state)
            seconds, _ = timed(lambda cs=cs: station.ledger.receive([cs],
                                                                     today=station.today()))
            incremental.append(seconds * 1000)
        return {"incremental_ms": median(incremental), "full_remerge_ms": full_ms * 1000}
    finally:
        station.close()


def apply_many(work: Path, repeat: int, records: int, per_record: int) -> dict[str, float]:
    writer = Writer(seed=100 + repeat)
    incoming: list[Changeset] = []
    for _ in range(records):
        incoming += history(writer, str(uuid.uuid4()), per_record)
    random.Random(repeat).shuffle(incoming)
    station = new_station(work / f"apply-{repeat}")
    try:
        seconds, report = timed(lambda: station.ledger.receive(incoming,
                                                               today=station.today()))
        assert report.new == len(incoming)
    finally:
        station.close()
    bare = bare_connect(work / f"bare-{repeat}.db")
    bare.execute("CREATE TABLE t (id TEXT PRIMARY KEY, record TEXT, body BLOB)")
    rows = [(cs.id, cs.record, b"x" * 300) for cs in incoming]

    def insert() -> None:
        for start in range(0, len(rows), 500):
            bare.execute("BEGIN IMMEDIATE")
            bare.executemany("INSERT INTO t VALUES (?,?,?)", rows[start:start + 500])
            bare.execute("COMMIT")

    bare_s, _ = timed(insert)
    bare.close()
    return {"apply_s": seconds, "bare_s": bare_s, "changesets": len(incoming)}


def run(*, quick: bool = False, repeats: int | None = None, keep: bool = False) -> Report:
    repeats = repeats or (3 if quick else 5)
    records, per_record = (200, 10) if quick else (1000, 10)
    runs: list[dict[str, Any]] = []
    with scratch("merge", keep=keep) as work:
        for repeat in range(repeats):
            log(f"merge: repeat {repeat + 1}/{repeats}")
            result = remerge_once(work, repeat, samples=20 if quick else 50)
            result.update(apply_many(work, repeat, records, per_record))
            runs.append(result)
    incremental = median([r["incremental_ms"] for r in runs])
    full = median([r["full_remerge_ms"] for r in runs])
    apply_s = median([r["apply_s"] for r in runs])
    bare_s = median([r["bare_s"] for r in runs])
    n = records * per_record
    return Report(
        name="merge",
        title=f"merge: one more changeset on a 1 000-changeset record; {n:,} incoming "
              f"changesets over {records:,} records (medians of {repeats} repeats)",
        quick=quick,
        params={"history": 1000, "records": records, "per_record": per_record,
                "repeats": repeats},
        headers=["measure", "value", "baseline", "ratio"],
        rows=[
            ["re-merge after 1 more (ms)", incremental, full, incremental / full],
            [f"apply {n:,} incoming (s)", apply_s, bare_s, apply_s / bare_s],
            ["incoming changesets/s", n / apply_s, n / bare_s, bare_s / apply_s],
        ],
        targets=[
            Target("re-merge of a 1 000-changeset record", incremental, REMERGE_LIMIT_MS,
                   "<=", "ms"),
            Target(f"apply {n:,} incoming changesets", apply_s,
                   APPLY_LIMIT_S * n / 10_000, "<=", "s"),
        ],
        runs=runs,
        notes=["baselines: the full re-merge of all 1 000 changesets from scratch; a bare "
               "SQLite insert of the same number of 300-byte rows in 500-row transactions."],
    )
