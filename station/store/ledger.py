"""The ledger: every changeset ever made or received, and the merged records built from them.

One user action is one changeset in one ``BEGIN IMMEDIATE`` transaction (G1): the encrypted
changeset, the re-merged record, its blind-index tokens, its open conflicts, and — once the
station is enrolled — the sealed, signed copy in the outbox, all commit together or not at
all. Received changesets are applied the same way, a few records per transaction, so an agent
can keep typing during a large pull.

The changesets table is the source of truth: if a record's stored state fails to decrypt
(tampering, a bad disk sector), it is rebuilt from its changesets.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
import uuid6

from station.domain import merge
from station.domain.changeset import Changeset, Op
from station.domain.hlc import HLC, Clock
from station.domain.rules import check_changeset
from station.store.db import write
from station.store.errors import NoSuchRecord, Tampered
from station.store.projection import Record, blind_values, columns, view
from station.store.vault import Keys
from station.wire.codec import decode_changeset, encode_changeset
from station.wire.envelope import seal_changeset
from station.wire.keys import Signer

Build = Callable[[merge.State], list[Op]]


def new_id() -> str:
    return str(uuid6.uuid7())


@dataclass
class Sealing:
    """What sealing at write time needs: our signing key and the pinned centre key."""

    station: str
    signer: Signer
    centre_public: bytes


@dataclass
class ReceiveReport:
    new: int = 0
    duplicates: int = 0
    records: set[str] = field(default_factory=set)
    conflicts: int = 0


class Ledger:
    """Reads and writes changesets and merged records under the vault's keys."""

    def __init__(self, db: sqlite_utils.Database, keys: Keys, device: str,
                 sealing: Sealing | None = None,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.db = db
        self.keys = keys
        self.device = device
        self.sealing = sealing
        self.clock = Clock(device) if now_ms is None else Clock(device, now=now_ms)
        self.on_change: list[Callable[[Record], None]] = []

    # --- reading ---------------------------------------------------------------------------

    def state(self, record_id: str) -> merge.State | None:
        """The merged state of a record, rebuilt from its changesets if the body is damaged."""
        row = self.db.execute("SELECT version, state FROM records WHERE id=?",
                              [record_id]).fetchone()
        if row is None:
            return None
        try:
            return merge.load(self.keys.open("records", row[1], f"records|{record_id}|{row[0]}"))
        except Tampered:
            return self.rebuild(record_id)

    def rebuild(self, record_id: str) -> merge.State:
        """Re-merge a record from its changesets; a damaged one is reported by receipt no."""
        try:
            changesets = self.changesets_of(record_id)
        except Tampered:
            row = self.db.execute("SELECT receipt FROM records WHERE id=?",
                                  [record_id]).fetchone()
            raise Tampered(row=(row[0] if row and row[0] else record_id)) from None
        if not changesets:
            raise NoSuchRecord(ref=record_id)
        return merge.merge(changesets)

    def changesets_of(self, record_id: str) -> list[Changeset]:
        rows = self.db.execute(
            "SELECT id, body FROM changesets WHERE record=? ORDER BY hlc", [record_id]).fetchall()
        return [self._open_changeset(cid, body) for cid, body in rows]

    def _open_changeset(self, cid: str, body: bytes) -> Changeset:
        return decode_changeset(self.keys.open("changesets", body, f"changesets|{cid}|1"))

    def record(self, record_id: str) -> Record:
        state = self.state(record_id)
        if state is None:
            raise NoSuchRecord(ref=record_id)
        return view(state)

    # --- writing ---------------------------------------------------------------------------

    def _load_clock(self) -> None:
        """Catch up with the clock persisted by any process (call inside a transaction)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='hlc'").fetchone()
        if row:
            last = HLC.decode(row[0])
            if self.clock.last is None or last > self.clock.last:
                self.clock.last = last

    def _tick(self) -> HLC:
        self._load_clock()
        return self.clock.tick()

    def _save_clock(self) -> None:
        assert self.clock.last is not None
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('hlc', ?)",
                        [self.clock.last.encode()])

    def commit(self, *, record_id: str, kind: str, scope: str, author: str, origin: str,
               build: Build, today: dt.date) -> tuple[Changeset, Record]:
        """Make one local changeset: ``build`` turns the current state into ops, inside the
        transaction, so what ``prev`` names is exactly what this writer saw."""
        with write(self.db):
            state = self.state(record_id) or merge.empty(kind, record_id, scope)
            ops = build(state)
            cs = Changeset(new_id(), record_id, kind, state["scope"], origin, author,
                           self._tick(), tuple(ops))
            check_changeset(cs, today=today, strict=False)
            encoded = encode_changeset(cs)
            record = self._store(cs, encoded, state, local=True)
            if self.sealing is not None:
                self._to_outbox(cs, encoded)
            self._save_clock()
        self._notify(record)
        return cs, record

    def _to_outbox(self, cs: Changeset, encoded: bytes) -> None:
        assert self.sealing is not None
        sealed = seal_changeset(encoded, changeset_id=cs.id, station=self.sealing.station,
                                signer=self.sealing.signer,
                                centre_public=self.sealing.centre_public)
        self.db.execute("INSERT OR IGNORE INTO outbox(changeset, sealed, created) VALUES (?,?,?)",
                        [cs.id, sealed, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")])

    def _store(self, cs: Changeset, encoded: bytes, state: merge.State, *,
               local: bool) -> Record:
        self.db.execute(
            "INSERT INTO changesets(id, record, origin, hlc, local, body) VALUES (?,?,?,?,?,?)",
            [cs.id, cs.record, cs.origin, cs.hlc.encode(), int(local),
             self.keys.seal("changesets", encoded, f"changesets|{cs.id}|1")])
        merge.apply(state, cs)
        return self._project(state)

    def _project(self, state: merge.State) -> Record:
        record = view(state)
        rid = record.id
        row = self.db.execute("SELECT version FROM records WHERE id=?", [rid]).fetchone()
        version = (row[0] if row else 0) + 1
        cols = columns(record, version)
        cols["state"] = self.keys.seal("records", merge.dump(state), f"records|{rid}|{version}")
        cols["label"] = self.keys.seal("labels", record.name.encode(), f"labels|{rid}|{version}")
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        self.db.execute(f"INSERT OR REPLACE INTO records({names}) VALUES ({marks})",
                        list(cols.values()))
        self.db.execute("DELETE FROM blind_index WHERE record=?", [rid])
        for what, value in blind_values(record):
            self.db.execute("INSERT OR IGNORE INTO blind_index(token, record) VALUES (?, ?)",
                            [self.keys.blind(what, value), rid])
        self.db.execute("DELETE FROM conflicts WHERE record=?", [rid])
        for conflict in record.conflicts:
            self.db.execute(
                "INSERT INTO conflicts(record, field, heads, opened) VALUES (?,?,?,?)",
                [rid, conflict.field, len(conflict.heads), min(h.hlc for h in conflict.heads)])
        return record

    def receive(self, changesets: Iterable[Changeset], *, today: dt.date,
                batch_records: int = 50) -> ReceiveReport:
        """Apply changesets made elsewhere: de-duplicated by id, validated, merged per record,
        a few records per transaction."""
        report = ReceiveReport()
        by_record: dict[str, list[Changeset]] = defaultdict(list)
        for cs in changesets:
            by_record[cs.record].append(cs)
        ids = list(by_record)
        for start in range(0, len(ids), batch_records):
            with write(self.db):
                for rid in ids[start:start + batch_records]:
                    self._receive_record(rid, by_record[rid], today, report)
                if self.clock.last is not None:
                    self._save_clock()
        return report

    def _receive_record(self, rid: str, items: list[Changeset], today: dt.date,
                        report: ReceiveReport) -> None:
        fresh = []
        for cs in items:
            known = self.db.execute("SELECT 1 FROM changesets WHERE id=?", [cs.id]).fetchone()
            if known or any(f.id == cs.id for f in fresh):
                report.duplicates += 1
                continue
            check_changeset(cs, today=today, strict=False)
            fresh.append(cs)
        if not fresh:
            return
        self._load_clock()
        state = self.state(rid) or merge.empty(fresh[0].kind, rid, fresh[0].scope)
        for cs in fresh:
            if not self.clock.observe(cs.hlc):
                self._record_skew(cs.hlc)
            self.db.execute(
                "INSERT INTO changesets(id, record, origin, hlc, local, body) "
                "VALUES (?,?,?,?,0,?)",
                [cs.id, cs.record, cs.origin, cs.hlc.encode(),
                 self.keys.seal("changesets", encode_changeset(cs), f"changesets|{cs.id}|1")])
            merge.apply(state, cs)
        record = self._project(state)
        report.new += len(fresh)
        report.records.add(rid)
        report.conflicts += len(record.conflicts)
        self._notify(record)

    def _record_skew(self, remote: HLC) -> None:
        ahead = remote.wall - self.clock.now()
        self.db.execute(
            "INSERT OR REPLACE INTO clock_skew(device, ahead_ms, seen) VALUES (?,?,?)",
            [remote.device, ahead, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")])

    def _notify(self, record: Record) -> None:
        for callback in self.on_change:
            callback(record)

    def next_receipt(self, station: str, day: dt.date) -> str:
        """``<station>-<yyyymmdd>-<nnnn>``; call inside a write transaction."""
        key = day.strftime("%Y%m%d")
        row = self.db.execute(
            "INSERT INTO receipt_counters(day, n) VALUES (?, 1) "
            "ON CONFLICT(day) DO UPDATE SET n = n + 1 RETURNING n", [key]).fetchone()
        return f"{station}-{key}-{row[0]:04d}"

    def history(self, record_id: str) -> list[dict[str, Any]]:
        """Who changed what, when, from which device: one entry per changeset."""
        out = []
        for cs in self.changesets_of(record_id):
            out.append({"changeset": cs.id, "hlc": cs.hlc.encode(), "wall": cs.hlc.wall,
                        "device": cs.hlc.device, "origin": cs.origin, "author": cs.author,
                        "ops": [op.to_dict() for op in cs.ops]})
        return out
