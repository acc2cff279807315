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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import sqlite_utils
import uuid_utils

from station.domain import merge
from station.domain.changeset import Changeset, Op
from station.domain.chinatime import china_now
from station.domain.errors import StationError
from station.domain.gc_pause import paused_gc
from station.domain.hlc import HLC, Clock
from station.domain.rules import check_changeset
from station.store.db import write
from station.store.errors import NoSuchRecord, Tampered
from station.store.held import HeldChange, HeldChanges
from station.store.projection import Record, blind_fields, view
from station.store.rows import (
    INDEXED_COLUMNS,
    INSERT_BLIND,
    INSERT_CHANGESET,
    INSERT_CONFLICT,
    INSERT_OUTBOX,
    INSERT_RECORD,
    NewRows,
    Row,
    RowBuilder,
    Sealing,
    conflict_rows,
    update_record,
)
from station.store.vault import Keys
from station.wire.codec import decode_changeset, encode_changeset, peek_changeset, unpack_state
from station.wire.keys import Signer

if TYPE_CHECKING:
    from station.store.prepare import Prepared, Preparer

Build = Callable[[merge.State], list[Op]]
BULK_CHUNK = 250  # new records built (on one core) and written (one executemany) at a time


def new_id() -> str:
    return str(uuid_utils.uuid7())


# what a write reads of a record's row besides its state: version, open conflicts and the
# columns the indexes hold (an UPDATE leaves those alone when they do not change)
_STORED = ", ".join(("version", "conflicts", *INDEXED_COLUMNS))


@dataclass
class Stored:
    version: int
    state: merge.State
    conflicts: int
    indexed: Row


@dataclass(frozen=True)
class ReceiptRun(Sequence[str]):
    """Consecutive receipt numbers ``<station>-<yyyymmdd>-<nnnn>`` of one day, held as the
    first number and how many: an import of a county's list makes millions of them, and a
    list of them would grow by ~90 bytes with every row."""

    station: str
    day: str  # yyyymmdd
    first: int
    count: int

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        at = index + self.count if index < 0 else index
        if not 0 <= at < self.count:
            raise IndexError(index)
        return f"{self.station}-{self.day}-{self.first + at:04d}"


@dataclass
class NewRecord:
    """What ``create_many`` needs for one new record: its ops are already validated."""

    record_id: str
    kind: str
    scope: str
    author: str
    origin: str
    ops: list[Op]


class Received(NamedTuple):
    """A changeset from elsewhere, with its encoded bytes when they came with it."""

    cs: Changeset
    encoded: bytes | None


@dataclass
class ReceiveReport:
    new: int = 0
    duplicates: int = 0
    records: set[str] = field(default_factory=set)
    conflicts: int = 0
    held: int = 0  # changesets this version cannot read or refuses, kept aside unmerged


INSERT_HELD = ("INSERT OR IGNORE INTO changesets_held(mark, held, reason, body) "
               "VALUES (?,?,?,?)")


def _unreadable(exc: Exception) -> str:
    """Why a changeset from the centre was kept aside, as a code: never the error's text,
    which could quote a value from a record (G2)."""
    return exc.code if isinstance(exc, StationError) else f"internal.{type(exc).__name__}"


class Decoded(NamedTuple):
    """The changesets of a downlink that decode, and those that do not, with why."""

    items: list[Received]
    unreadable: list[tuple[bytes, str]]


def decode_all(encoded: Iterable[bytes]) -> Decoded:
    """Decode each changeset of a downlink on its own: one from a newer station that this
    version cannot read must not stop the others from merging."""
    decoded = Decoded([], [])
    for blob in encoded:
        try:
            decoded.items.append(Received(decode_changeset(blob), blob))
        except Exception as exc:  # any shape a newer station might send: kept aside
            decoded.unreadable.append((blob, _unreadable(exc)))
    return decoded


def _by_record(items: Iterable[Received]) -> dict[str, list[Received]]:
    by_record: dict[str, list[Received]] = defaultdict(list)
    for item in items:
        by_record[item.cs.record].append(item)
    return by_record


def pinned_sealing(db: sqlite_utils.Database, station: str, signer: Signer) -> Sealing | None:
    """Sealing for the centre key pinned in the database now (None before enrolling)."""
    row = db.execute("SELECT value FROM meta WHERE key='centre.seal_public'").fetchone()
    return None if row is None else Sealing(station, signer, bytes.fromhex(row[0]))


class Ledger:
    """Reads and writes changesets and merged records under the vault's keys."""

    def __init__(self, db: sqlite_utils.Database, keys: Keys, *, station: str, device: str,
                 signer: Callable[[], Signer] | None = None,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.db = db
        self.keys = keys
        self.station = station
        self.device = device
        self.signer = signer  # the station's key now: local changes sealed for the centre
        self.rows = RowBuilder(keys, None)
        self.load_sealing()
        self.clock = Clock(device) if now_ms is None else Clock(device, now=now_ms)
        self.on_change: list[Callable[[Record], None]] = []

    # --- reading ---------------------------------------------------------------------------

    def _row(self, record_id: str) -> Stored | None:
        """The stored row of a record: its version, state and open conflict count."""
        row = self.db.execute(f"SELECT CAST(state AS BLOB), {_STORED} FROM records WHERE id=?",
                              [record_id]).fetchone()
        if row is None:
            return None
        blob, version, conflicts, *indexed = row
        try:
            state = merge.load(unpack_state(self.keys.open("records", blob,
                                                           f"records|{record_id}|{version}")))
        except Tampered:
            state = self.rebuild(record_id)
        return Stored(version, state, conflicts, tuple(indexed))

    def state(self, record_id: str) -> merge.State | None:
        """The merged state of a record, rebuilt from its changesets if the body is damaged."""
        stored = self._row(record_id)
        return stored.state if stored else None

    def read(self, record_id: str) -> Stored:
        """A record's stored row, read before a change to it: hand it back to ``commit`` as
        ``seen`` so the change decrypts the record once, not twice."""
        stored = self._row(record_id)
        if stored is None:
            raise NoSuchRecord(ref=record_id)
        return stored

    def _current(self, record_id: str, seen: Stored | None) -> Stored | None:
        """The record as this write transaction sees it: what the caller read before it
        began when nobody has written the record since (every write bumps its version),
        else read again."""
        if seen is not None:
            row = self.db.execute(f"SELECT {_STORED} FROM records WHERE id=?",
                                  [record_id]).fetchone()
            if row is not None and row[0] == seen.version:
                return Stored(row[0], seen.state, row[1], tuple(row[2:]))
        return self._row(record_id)

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
        """A record's changesets. The ``record`` column is plaintext, outside the AEAD: one
        re-pointed at another record (its body names its own) is reported as tampered,
        never merged into the wrong person's record or shown in its history."""
        rows = self.db.execute(
            "SELECT id, CAST(body AS BLOB) FROM changesets WHERE record=? ORDER BY hlc",
            [record_id]).fetchall()
        changesets = [self._open_changeset(cid, body) for cid, body in rows]
        for cs in changesets:
            if cs.record != record_id:
                raise Tampered(row=f"changesets|{cs.id}")
        return changesets

    def _open_changeset(self, cid: str, body: bytes) -> Changeset:
        return decode_changeset(self.keys.open("changesets", body, f"changesets|{cid}|1"))

    def record(self, record_id: str) -> Record:
        return view(self.read(record_id).state)

    # --- writing ---------------------------------------------------------------------------

    def _load_clock(self) -> None:
        """Catch up with the clock persisted by any process (call inside a transaction)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='hlc'").fetchone()
        if row:
            last = HLC.decode(row[0])
            if self.clock.last is None or last > self.clock.last:
                self.clock.last = last

    def load_sealing(self) -> None:
        """Seal for the centre pinned now, by whichever process (call inside a transaction,
        as ``_load_clock``): a ``station enroll`` in another terminal while the app stays
        open pins a centre, or another one, and new station keys, that what was read at
        unlock does not know. Saved with those, the app's work went into no outbox (never
        sent), was sealed for a centre that cannot open it, or signed with a retired key."""
        if self.signer is not None:
            self.rows.sealing = pinned_sealing(self.db, self.station, self.signer())

    def _save_clock(self) -> None:
        assert self.clock.last is not None
        # an UPDATE, not INSERT OR REPLACE: a replace rewrites the key's index page too
        last = self.clock.last.encode()
        if not self.db.execute("UPDATE meta SET value=? WHERE key='hlc'", [last]).rowcount:
            self.db.execute("INSERT INTO meta(key, value) VALUES ('hlc', ?)", [last])

    def commit(self, *, record_id: str, kind: str, scope: str, author: str, origin: str,
               build: Build, seen: Stored | None = None) -> tuple[Changeset, Record]:
        """Make one local changeset: ``build`` turns the current state into ops, inside the
        transaction, so what ``prev`` names is exactly what this writer saw. The ops come
        from values the service has already validated (against ``seen``, from ``read``; its
        state is applied to in place, so it is not the caller's to use again), and pass the
        same check the centre makes, so nothing saved here is refused there."""
        with write(self.db):
            stored = self._current(record_id, seen)
            state = stored.state if stored else merge.empty(kind, record_id, scope)
            ops = build(state)
            self._load_clock()
            self.load_sealing()
            cs = Changeset(new_id(), record_id, kind, state["scope"], origin, author,
                           self.clock.tick(), tuple(ops))
            # the centre's own check: what it would refuse (and quarantine) is never saved
            check_changeset(cs, today=china_now().date())
            encoded = encode_changeset(cs)
            self.db.execute(INSERT_CHANGESET, self.rows.changeset_row(cs, encoded, local=True))
            outbox = self.rows.outbox_row(cs, encoded)
            if outbox is not None:
                self.db.execute(INSERT_OUTBOX, outbox)
            merge.apply(state, cs)
            record = self._project(state, stored, touched={op.field for op in ops})
            self._save_clock()
        self._notify(record)
        return cs, record

    def create_many(self, items: Iterable[NewRecord],
                    preparer: Preparer | None = None) -> int:
        """Many new records, each its own changeset, written with ``executemany`` inside the
        caller's transaction (a bulk import): all commit together or none does. ``items`` is
        read a chunk at a time, so the caller may still be validating later ones; with a
        ``preparer``, other cores build the rows of a chunk while this one writes the one
        before. Returns how many were written (not their receipt numbers, which would be a
        list as long as the file: ``ReceiptRun`` says them)."""
        self._load_clock()
        written = 0
        with paused_gc():
            for chunk in self._new_rows(self._new_changesets(items), preparer):
                self.db.conn.executemany(INSERT_CHANGESET, [r.changeset for r in chunk])
                self.db.conn.executemany(INSERT_OUTBOX, [r.outbox for r in chunk if r.outbox])
                self.db.conn.executemany(INSERT_RECORD, [r.record for r in chunk])
                self.db.conn.executemany(INSERT_BLIND, [b for r in chunk for b in r.blind])
                written += len(chunk)
        if self.clock.last is not None:
            self._save_clock()
        return written

    def _new_changesets(self, items: Iterable[NewRecord]) -> Iterator[list[Changeset]]:
        """The changesets of new records, a chunk at a time, stamped by this device's clock."""
        remaining = iter(items)
        while chunk := list(islice(remaining, BULK_CHUNK)):
            yield [Changeset(new_id(), item.record_id, item.kind, item.scope, item.origin,
                             item.author, self.clock.tick(), tuple(item.ops)) for item in chunk]

    def _new_rows(self, chunks: Iterable[list[Changeset]],
                  preparer: Preparer | None) -> Iterator[list[NewRows]]:
        """The rows of each chunk: from the preparer, or built here (with no preparer, and
        for a chunk it gives back: taken back to keep this core busy, or its process died)."""
        built: Iterable[tuple[Sequence[Changeset], list[NewRows] | None]] = (
            ((chunk, None) for chunk in chunks) if preparer is None
            else preparer.new_rows(chunks))
        for chunk, rows in built:
            yield rows if rows is not None else [self.rows.new_record(cs) for cs in chunk]

    def _project(self, state: merge.State, stored: Stored | None,
                 touched: set[str] | None = None) -> Record:
        """Write the record row, its blind-index tokens and its open conflicts. ``touched``:
        the fields the changes since ``stored`` set, when known; the tokens of a record none
        of whose ID number or phone fields were touched are left as they are."""
        record = view(state)
        rid = record.id
        version = (stored.version if stored else 0) + 1
        row = self.rows.record_row(record, state, version)
        if stored is None:
            self.db.execute(INSERT_RECORD, row)
            self._reindex(record, set())
        else:
            self.db.execute(*update_record(row, stored.indexed))
            if touched is None or not touched.isdisjoint(blind_fields(record.kind)):
                self._reindex(record, {r[0] for r in self.db.execute(
                    "SELECT token FROM blind_index WHERE record=?", [rid])})
        if (stored and stored.conflicts) or record.conflicts:
            self._write_conflicts(record)
        return record

    def reproject(self, state: merge.State, stored: Stored | None) -> Record:
        """Write a record's derived rows again from its merged changesets (``station check
        --repair``): the row, at a new version, its look-up tokens and its conflicts. With no
        row left (``stored`` None), whatever tokens and conflicts it left go first."""
        if stored is None:
            rid = state["id"]
            self.db.execute("DELETE FROM blind_index WHERE record=?", [rid])
            self.db.execute("DELETE FROM conflicts WHERE record=?", [rid])
        return self._project(state, stored)

    def _reindex(self, record: Record, old_tokens: set[bytes]) -> None:
        """Bring a record's blind-index tokens from ``old_tokens`` to what it holds now."""
        new_tokens = self.rows.tokens(record)
        for token in old_tokens - new_tokens:
            self.db.execute("DELETE FROM blind_index WHERE token=? AND record=?",
                            [token, record.id])
        for token in new_tokens - old_tokens:
            self.db.execute("INSERT INTO blind_index(token, record) VALUES (?, ?)",
                            [token, record.id])

    def _write_conflicts(self, record: Record) -> None:
        self.db.execute("DELETE FROM conflicts WHERE record=?", [record.id])
        self.db.conn.executemany(INSERT_CONFLICT, conflict_rows(record))

    def receive(self, changesets: Iterable[Changeset | Received], *, today: dt.date,
                batch_records: int = 200,
                report: ReceiveReport | None = None) -> ReceiveReport:
        """Apply changesets made elsewhere: de-duplicated by id, validated, merged per record,
        ``batch_records`` records per transaction so an agent keeps typing during a big pull.
        Items may come with their encoded bytes (from a downlink) to avoid encoding again.
        One this version refuses is kept aside (``_hold``), not merged, and the rest merge."""
        report = report if report is not None else ReceiveReport()
        by_record = _by_record(item if isinstance(item, Received) else Received(item, None)
                               for item in changesets)
        ids = list(by_record)
        for start in range(0, len(ids), batch_records):
            chunk = {rid: by_record[rid] for rid in ids[start:start + batch_records]}
            with self._receiving():
                self._receive_chunk(chunk, today, report)
        return report

    def receive_prepared(self, slices: Iterable[tuple[Sequence[bytes], list[Prepared] | None]],
                         *, today: dt.date) -> ReceiveReport:
        """A big downlink batch whose records were merged on another core
        (station/store/prepare.py), one transaction per slice. The rows of a record new here
        are written as they came; a record this station has already, or one with a
        changeset it has seen, is merged the ordinary way. Records written from prepared
        rows are not announced to ``on_change``: the caller rebuilds what it derives."""
        report = ReceiveReport()
        for encoded, prepared in slices:
            with self._receiving():
                if prepared is None:
                    decoded = decode_all(encoded)
                    self._hold(decoded.unreadable, report)
                    self._receive_chunk(_by_record(decoded.items), today, report)
                else:
                    self._write_prepared(encoded, prepared, today, report)
        return report

    def _write_prepared(self, encoded: Sequence[bytes], prepared: list[Prepared],
                        today: dt.date, report: ReceiveReport) -> None:
        present = self._existing("records", [p.record for p in prepared])
        known = self._existing("changesets", [c for p in prepared for c in p.changesets])
        rest: list[Received] = []
        changeset_rows: list[Row] = []
        record_rows: list[Row] = []
        blind_rows: list[Row] = []
        conflicts: list[Row] = []
        for p in prepared:
            if p.record in present or not known.isdisjoint(p.changesets):
                rest += [Received(decode_changeset(encoded[i]), encoded[i]) for i in p.items]
                continue
            for wall, counter, device in p.hlcs:
                hlc = HLC(wall, counter, device)
                if not self.clock.observe(hlc):
                    self._record_skew(hlc)
            changeset_rows += p.changeset_rows
            record_rows.append(p.record_row)
            blind_rows += p.blind_rows
            conflicts += p.conflicts
            self._keep_receipts_ahead(p.receipt)
            report.new += len(p.changesets)
            report.records.add(p.record)
            report.conflicts += len(p.conflicts)
        self.db.conn.executemany(INSERT_CHANGESET, changeset_rows)
        self.db.conn.executemany(INSERT_RECORD, record_rows)
        self.db.conn.executemany(INSERT_BLIND, blind_rows)
        self.db.conn.executemany(INSERT_CONFLICT, conflicts)
        if rest:
            self._receive_chunk(_by_record(rest), today, report)

    def receive_encoded(self, encoded: Iterable[bytes], *, today: dt.date) -> ReceiveReport:
        """Apply a downlink's changesets as they came (``receive``): those this version
        cannot decode are kept aside (``_hold``) and the rest merge."""
        decoded = decode_all(encoded)
        report = ReceiveReport()
        if decoded.unreadable:
            with write(self.db):
                self._hold(decoded.unreadable, report)
        return self.receive(decoded.items, today=today, report=report)

    def _hold(self, unreadable: Sequence[tuple[bytes, str]], report: ReceiveReport) -> None:
        """Keep changesets this version cannot read or refuses aside, sealed under the data
        key with their row named in the associated data (call inside a write transaction)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for blob, reason in unreadable:
            mark = self.keys.held_mark(blob)
            self.db.execute(INSERT_HELD, [mark, now, reason, self.keys.seal(
                "held", blob, f"changesets_held|{mark.hex()}|1")])
            report.held += 1

    def clock_set_back(self) -> int | None:
        """The wall time (ms) of the latest timestamp this station holds when this computer's
        clock now reads well before it (``Clock.set_back``), else None: a read, for telling
        the person, that never stops their work."""
        self._load_clock()
        return self.clock.last.wall if self.clock.last and self.clock.set_back() else None

    def held(self) -> int:
        """How many changesets from the centre wait aside for a version that reads them."""
        return int(self.db.execute("SELECT count(*) FROM changesets_held").fetchone()[0])

    def held_since(self) -> str | None:
        """When the oldest changeset still kept aside was kept (ISO, UTC), or None: what the
        dashboard says, read without opening any of them (``held_changes`` opens each)."""
        return self.db.execute("SELECT min(held) FROM changesets_held").fetchone()[0]

    def held_changes(self) -> HeldChanges:
        """The changesets kept aside, oldest first, each with its record's receipt number
        where it can be known: the body is opened in memory (as ``retry_held`` does at every
        sync) only to read which record it is for; no value of it is kept or shown (G2)."""
        rows = self.db.execute("SELECT mark, held, reason, CAST(body AS BLOB) "
                               "FROM changesets_held ORDER BY held, mark").fetchall()
        return HeldChanges(tuple(HeldChange(held, reason, self._held_receipt(mark, body))
                                 for mark, held, reason, body in rows))

    def _held_receipt(self, mark: bytes, body: bytes) -> str | None:
        """The receipt of a held changeset's record: the one this station has, else the
        receipt the changeset itself gives a new record; None when neither can be read."""
        try:
            record, receipt = peek_changeset(self._open_held(mark, body))
        except Tampered:
            return None
        row = self.db.execute("SELECT receipt FROM records WHERE id=?", [record]).fetchone()
        return str(row[0]) if row is not None and row[0] else receipt

    def retry_held(self, *, today: dt.date) -> int:
        """Try the changesets kept aside again (after an upgrade they read): those that
        merge, or that the station has by now, leave the table. The merge does not depend
        on order (G3), so merging one after later changes to its record is the same as
        merging it in its turn. Returns how many merged; one whose sealed body no longer
        opens stays, counted as waiting."""
        marks: dict[bytes, bytes] = {}
        for mark, body in self.db.execute(
                "SELECT mark, CAST(body AS BLOB) FROM changesets_held").fetchall():
            with suppress(Tampered):
                marks[mark] = self._open_held(mark, body)
        if not marks:
            return 0
        decoded = decode_all(marks.values())
        report = self.receive(decoded.items, today=today)
        by_id = {item.cs.id: self.keys.held_mark(item.encoded or b"")
                 for item in decoded.items}
        with write(self.db):
            done = self._existing("changesets", list(by_id))
            self.db.conn.executemany("DELETE FROM changesets_held WHERE mark=?",
                                     [(by_id[cid],) for cid in done])
        return report.new

    def _open_held(self, mark: bytes, body: bytes) -> bytes:
        """A held changeset's bytes, as it came; ``Tampered`` if its sealed body is damaged."""
        return self.keys.open("held", body, f"changesets_held|{mark.hex()}|1")

    def held_opens(self, mark: bytes, body: bytes) -> bool:
        """Whether a held changeset's sealed body still opens (``station check``)."""
        try:
            self._open_held(bytes(mark), bytes(body))
        except Tampered:
            return False
        return True

    @contextmanager
    def _receiving(self) -> Iterator[None]:
        """One transaction of a pull: the clock is read at its start and saved at its end."""
        with write(self.db), paused_gc():
            self._load_clock()
            yield
            if self.clock.last is not None:
                self._save_clock()

    def _existing(self, table: str, ids: list[str]) -> set[str]:
        marks = ",".join("?" for _ in ids)
        return {r[0] for r in self.db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})",
                                              ids)}

    def _receive_chunk(self, chunk: dict[str, list[Received]], today: dt.date,
                       report: ReceiveReport) -> None:
        known = self._existing("changesets", [r.cs.id for items in chunk.values()
                                              for r in items])
        present = self._existing("records", list(chunk))
        changeset_rows, new_records, new_blind = [], [], []
        for rid, items in chunk.items():
            fresh: list[Received] = []
            for item in items:
                if item.cs.id in known:
                    report.duplicates += 1
                    continue
                try:
                    check_changeset(item.cs, today=today, strict=False)
                except Exception as exc:  # a field or value from a newer station: kept aside
                    self._hold([(item.encoded or encode_changeset(item.cs), _unreadable(exc))],
                               report)
                    continue
                known.add(item.cs.id)
                fresh.append(item)
            if not fresh:
                continue
            stored = self._row(rid) if rid in present else None
            first = fresh[0].cs
            state = stored.state if stored else merge.empty(first.kind, rid, first.scope)
            for item in fresh:
                if not self.clock.observe(item.cs.hlc):
                    self._record_skew(item.cs.hlc)
                merge.apply(state, item.cs)
                changeset_rows.append(self.rows.changeset_row(
                    item.cs, item.encoded or encode_changeset(item.cs), local=False))
            if stored is None:  # a record new here: written with the others, in one go
                record = view(state)
                new_records.append(self.rows.record_row(record, state, 1))
                new_blind += [(t, rid) for t in self.rows.tokens(record)]
                if record.conflicts:
                    self._write_conflicts(record)
            else:
                record = self._project(state, stored)
            self._keep_receipts_ahead(record.receipt)
            report.new += len(fresh)
            report.records.add(rid)
            report.conflicts += len(record.conflicts)
            self._notify(record)
        self.db.conn.executemany(INSERT_CHANGESET, changeset_rows)
        self.db.conn.executemany(INSERT_RECORD, new_records)
        self.db.conn.executemany(INSERT_BLIND, new_blind)

    def _keep_receipts_ahead(self, receipt: str | None) -> None:
        """A reinstalled laptop pulls back its own station's records: its receipt counter
        must continue after theirs, never hand out a number again."""
        if not receipt or not receipt.startswith(self.station + "-"):
            return
        try:
            day, n = receipt.rsplit("-", 2)[1:]
            number = int(n)
        except ValueError:
            return
        self.db.execute("INSERT INTO receipt_counters(day, n) VALUES (?, ?) "
                        "ON CONFLICT(day) DO UPDATE SET n = max(n, excluded.n)", [day, number])

    def _record_skew(self, remote: HLC) -> None:
        ahead = remote.wall - self.clock.now()
        self.db.execute(
            "INSERT OR REPLACE INTO clock_skew(device, ahead_ms, seen) VALUES (?,?,?)",
            [remote.device, ahead, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")])

    def _notify(self, record: Record) -> None:
        for callback in self.on_change:
            callback(record)

    def next_receipts(self, station: str, day: dt.date, count: int = 1) -> list[str]:
        """``count`` receipt numbers ``<station>-<yyyymmdd>-<nnnn>``, in one statement;
        call inside a write transaction (it is what keeps them unique across processes)."""
        key = day.strftime("%Y%m%d")
        (last,) = self.db.execute(
            "INSERT INTO receipt_counters(day, n) VALUES (?, ?) "
            "ON CONFLICT(day) DO UPDATE SET n = n + excluded.n RETURNING n",
            [key, count]).fetchone()
        return list(ReceiptRun(station, key, last - count + 1, count))

    def receipts_after(self, station: str, day: dt.date) -> ReceiptRun:
        """The receipt numbers of ``day`` not given out yet, as an empty run to be grown to
        what a bulk import takes; call inside the write transaction that takes them."""
        key = day.strftime("%Y%m%d")
        row = self.db.execute("SELECT n FROM receipt_counters WHERE day=?", [key]).fetchone()
        return ReceiptRun(station, key, (row[0] if row else 0) + 1, 0)

    def history(self, record_id: str) -> list[dict[str, Any]]:
        """Who changed what, when, from which device: one entry per changeset."""
        out = []
        for cs in self.changesets_of(record_id):
            out.append({"changeset": cs.id, "hlc": cs.hlc.encode(), "wall": cs.hlc.wall,
                        "device": cs.hlc.device, "origin": cs.origin, "author": cs.author,
                        "ops": [op.to_dict() for op in cs.ops]})
        return out
