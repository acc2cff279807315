"""``Station``: the one API the CLI, the TUI and sync use to do anything with local data.

Open it with a passphrase (``Station.open``); every method that changes something makes one
changeset in one transaction through the ledger. Forms pass plain values keyed by dotted
field names; the station validates them all at once (so a form can show every problem next
to its field), turns them into ops against what the record holds now, and commits.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import sqlite_utils

from station.domain import merge
from station.domain.casework import (
    CLOSED,
    OUTCOMES,
    centre_settles,
    check_materials,
    check_not_voided,
    closing_problems,
    date_problems,
    due_problems,
    material_problems,
    missing_materials,
    plan_move,
)
from station.domain.catalogue import (
    MATERIAL_CODE,
    Catalogue,
    Matter,
    is_newer,
    shipped_catalogue,
)
from station.domain.changeset import Op
from station.domain.chinatime import china_now
from station.domain.english import agrees, counted
from station.domain.errors import AuthorityRefused, StationError, ValidationError
from station.domain.followup import (
    DueLists,
    Facts,
    Figures,
    Month,
    NoOpenFollowup,
    PromiseNeedsReason,
    check_promise_open,
    check_rating,
    due_lists,
    figures,
    is_open_poor,
    touches_promise,
)
from station.domain.gc_pause import paused_gc
from station.domain.hlc import set_back_note
from station.domain.records import (
    SCHEMAS,
    choice_code,
    field_for,
    field_label_pair,
    required_fields,
    split_items,
)
from station.domain.records import Field as FieldSpec
from station.domain.rules import (
    check_status_value,
    clean_element,
    clean_value,
    is_record_id,
)
from station.domain.status import LATTICES
from station.domain.validate import Problem, check_id_number, check_mobile, check_text
from station.domain.workdays import WorkCalendar
from station.store import db as dbmod
from station.store.errors import (
    AgentExists,
    AmbiguousReceipt,
    CannotWrite,
    CentreSettles,
    ConflictChanged,
    DamagedSlot,
    DamagedStation,
    LastSlot,
    NoSuchConflict,
    NoSuchRecord,
    NoSuchValue,
    OwnSlot,
    ReservedAgent,
    SettleChoice,
    StationExists,
    Tampered,
    UnknownAgent,
    UnsentWork,
    WrongPassphrase,
)
from station.store.home import CALENDAR_OVERRIDES, make_transport_key, put_transport_key
from station.store.ledger import (
    Ledger,
    NewRecord,
    ReceiptRun,
    ReceiveReport,
    Stored,
    new_id,
    pinned_sealing,
)
from station.store.prepare import Preparer
from station.store.projection import Record, view
from station.store.rows import INSERT_OUTBOX, Sealing
from station.store.search import NameIndex, SharedNames, Versioned
from station.store.syncstate import CentrePin, KeptBatch, SyncState
from station.store.vault import (
    DEFAULT_KDF,
    RECOVERY_LABEL,
    KdfParams,
    Keys,
    Slot,
    agent_slot,
    new_dek,
    new_recovery_key,
    open_agent_slot,
    open_recovery_slot,
    recovery_slot,
)
from station.wire.codec import decode_changeset
from station.wire.downlink import (
    ENTRY_ACK,
    ENTRY_CATALOGUE,
    ENTRY_CHANGESET,
    acked,
    open_batch,
    verify_batch,
)
from station.wire.errors import WireError
from station.wire.keys import SealKey, Signer

Now = Callable[[], dt.datetime]
_STATION_CODE = ("站点编号", "Station id")


@dataclass(frozen=True)
class Prepared:
    """A validated new record, ready to commit. Its id is chosen here, so that an import can
    note which record a row of its file made in the same transaction that writes it.
    ``defaulted``: the fields of ``cleaned`` the form or row left out and the station filled
    in (today's date, this agent, the promised date the matter's time limit gives), which
    say nothing of what was typed."""

    kind: str
    cleaned: dict[str, Any]
    status: dict[str, Any] | None
    scope: str
    defaulted: frozenset[str] = frozenset()
    record_id: str = field(default_factory=new_id)


@dataclass(frozen=True)
class Draft:
    id: str
    kind: str
    record: str | None
    updated: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Dashboard:
    """What the first screen shows: today's work and the state of sync."""

    today: str
    month: str
    to_resolve: int
    to_contact: int
    overdue: int
    open_poor: int
    conflicts: int
    unsent: int
    enrolled: bool
    last_sync: str | None
    clock_offset_ms: int
    drafts: int
    held: int = 0  # changesets from the centre kept aside, unreadable by this version
    held_since: str | None = None  # when the oldest of them was kept (ISO, UTC)
    clock_set_back: tuple[str, str] | None = None  # what to say when the clock went back


@dataclass
class Downlink:
    """What one applied downlink batch brought."""

    upto: int
    centre_time_ms: int
    complete: bool
    new: int = 0
    duplicates: int = 0
    conflicts: int = 0
    catalogue: str | None = None
    acked: int = 0  # own changesets the centre said it holds, now out of the outbox
    held: int = 0  # changesets of this batch this version cannot read, kept aside
    held_waiting: int = 0  # all changesets kept aside after this batch, waiting to merge


@dataclass
class Drained:
    """What merging the batches an unattended sync kept in the inbox did. A batch that did
    not merge has the cursor put back to where it began, so the next pull brings its
    entries again: a damaged one is set aside, one that failed for another reason (a full
    disk, a fault in this program) stays kept to be tried again at the next unlock."""

    merged: list[Downlink]
    set_aside: int = 0
    unmerged: int = 0
    held_merged: int = 0  # changesets kept aside earlier that merged now (an upgrade)
    held_waiting: int = 0  # changesets kept aside that this version still cannot read
    reason: tuple[str, str] | None = None  # why the first unmerged one failed (zh, en)

    def not_merged(self, exc: Exception) -> None:
        """One more batch left kept, and why, if it is the first."""
        self.unmerged += 1
        self.reason = self.reason or _why_unmerged(exc)


def _why_unmerged(exc: Exception) -> tuple[str, str]:
    """A failure to merge in both languages. An error that is not one of ours is named by
    its type only: its text could hold a value from a record (G2)."""
    if isinstance(exc, StationError):
        return exc.message("zh"), exc.message("en")
    name = type(exc).__name__
    return f"程序内部错误（{name}）", f"an internal error ({name})"


@dataclass(frozen=True)
class ConflictView:
    """One open conflict: a field whose replicas disagree, with every competing value."""

    id: str  # "<receipt>:<field>", what `station conflicts settle` takes
    record: str
    receipt: str | None
    kind: str
    field: str
    heads: tuple[merge.Head, ...]  # the provisional (last-writer-wins) value first
    centre_settles: bool = False  # decisions of the centre disagree: only it settles them

    def centre_refusal(self) -> CentreSettles:
        """What to tell a person about a conflict only the town centre can settle."""
        return _centre_settles(self.id, self.kind, self.field)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "record": self.record, "receipt": self.receipt,
                "kind": self.kind, "field": self.field, "centre_settles": self.centre_settles,
                "heads": [{"pick": i, "tag": h.tag, "value": h.value, "author": h.author,
                           "device": h.device, "hlc": h.hlc, "op": h.op_id}
                          for i, h in enumerate(self.heads, start=1)]}


@dataclass(frozen=True)
class Summary:
    """One line of a list: what lists and search results show."""

    id: str
    kind: str
    receipt: str | None
    status: str
    name: str
    matter: str | None
    next_due: str | None
    updated: str
    conflicts: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


SEARCH_CHUNK_MAX = 2000
MONTHLY_LISTS = ("to_resolve", "to_contact")  # the due filters that are this month's lists
BULK_NAMES = 500  # changesets in one downlink batch from which the name index is rebuilt
BULK_IMPORT = 2000  # records in one import from which the other cores build the rows (their
# processes take ~0.5 s to start: as long as building ~2 500 records here)
RECEIPT_BLOCK = 250  # receipt numbers an import takes in one statement
LABELS_AT_ONCE = 500  # record ids in one query when the name index catches up


def _local_now() -> dt.datetime:
    """The station's own time: China's, not the computer's zone (station.domain.chinatime)."""
    return china_now()


def _meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key=?", [key]).fetchone()
    return row[0] if row else None


SECRETS = ("sign", "seal")  # the rows init writes to the secrets table
NEXT = ".next"  # secrets of an enrollment under way: see Station.next_keys


def _check_keys(db: sqlite_utils.Database, agent_slots: list[Slot]) -> None:
    """Key slots and secrets are rows, not tables: deleted, they would pass for a wrong
    passphrase, or fail later as an internal error."""
    have = {row[0] for row in db.execute("SELECT name FROM secrets")}
    missing = ([] if agent_slots else ["keyslots"]) + [
        f"secrets: {name}" for name in SECRETS if name not in have]
    if missing:
        raise DamagedStation(path=dbmod.file_of(db), missing=", ".join(missing))


def _set_meta(db: sqlite_utils.Database, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])


def _slots(db: sqlite_utils.Database) -> list[Slot]:
    rows = db.execute("SELECT label, kind, params, salt, wrapped FROM keyslots ORDER BY created")
    return [Slot(*row) for row in rows.fetchall()]


def _save_slot(db: sqlite_utils.Database, slot: Slot, now: dt.datetime) -> None:
    db.execute("INSERT OR REPLACE INTO keyslots(label, kind, params, salt, wrapped, created) "
               "VALUES (?,?,?,?,?,?)",
               [slot.label, slot.kind, slot.params, slot.salt, slot.wrapped, now.isoformat()])


def _check_station_code(code: str) -> str:
    text = check_text(code, label=_STATION_CODE, field_name="station", max_len=16, required=True)
    if not text.replace("-", "").replace("_", "").isalnum() or not text.isascii():
        raise ValidationError([Problem("station", "choice", {
            "label_zh": "站点编号", "label_en": "A station id",
            "choices": "letters, digits, - and _ (e.g. V001, BUS01)"})])
    return text.upper()


def _check_agent_name(agent: str) -> str:
    """The cleaned name of an agent's key slot; never the recovery slot's own label, which
    the same row would hold."""
    name = check_text(agent, label=("代办员", "Agent"), field_name="agent", max_len=50,
                      required=True)
    if name == RECOVERY_LABEL:
        raise ReservedAgent(agent=name)
    return name


def _catalogue_in(db: sqlite_utils.Database) -> Catalogue:
    """The newest catalogue this station has pulled, else the one shipped with the program."""
    raw = _meta(db, "catalogue")
    return Catalogue.from_json_bytes(raw.encode()) if raw else shipped_catalogue()


def current_catalogue(home: Path) -> Catalogue:
    """The station's catalogue without unlocking (it is public reference data)."""
    if not dbmod.db_path(home).exists():
        return shipped_catalogue()
    db = dbmod.connect(dbmod.db_path(home))  # checked first: see dbmod._quick_check
    try:
        return _catalogue_in(db) if "meta" in db.table_names() else shipped_catalogue()
    finally:
        db.close()


# Fields with a shape of their own, written by their own action (add_contact, rate,
# close_followup), never by editing: (zh, en) names of that action
OWN_ACTION = {"contacts": ("记录联系", "log a contact"), "rating": ("评价", "rate"),
              "followup": ("差评整改", "follow-up")}


def _editable(spec: FieldSpec) -> bool:
    """A field ``update`` writes: not the status, a centre decision, the receipt number or
    a field with its own action."""
    return (spec.merge not in ("status", "authority") and not spec.immutable
            and spec.name not in OWN_ACTION)


def _map_entries(spec: FieldSpec, name: str, value: Any) -> dict[str, Any]:
    """The per-material entries of a map field given as ``materials.due.M03=…`` or as a
    mapping; material codes are normalised (``m03`` → ``M03``), anything else refused."""
    if name == spec.name:
        entries = value if isinstance(value, dict) else None
    else:
        entries = {name[len(spec.name) + 1:]: value}
    problem = Problem(name, "map_key", {"label_zh": spec.zh, "label_en": spec.en,
                                        "example": f"{spec.name}.M03=2026-12-01"})
    if entries is None:
        raise ValidationError([problem])
    out = {}
    for key, sub in entries.items():
        code = str(key).strip().upper()
        if not MATERIAL_CODE.match(code):
            raise ValidationError([problem])
        out[code] = sub
    return out


def _keep_required(kind: str, cleaned: dict[str, Any]) -> None:
    """Refuse a change that would clear a field the record cannot be without (a name of
    spaces, an empty matter), as the forms do, saying which one."""
    problems = [Problem(name, "required", {"label_zh": field_label_pair(kind, name)[0],
                                           "label_en": field_label_pair(kind, name)[1]})
                for name in required_fields(kind) if name in cleaned and not cleaned[name]]
    if problems:
        raise ValidationError(problems)


def _outcome_value(heads: Sequence[merge.Head], text: str) -> dict[str, Any]:
    """The status a conflict is settled on from what a person typed (办结, or completed): the
    listed value with that outcome, whose reason is its own, else that outcome in the round
    the heads are in. Never the other outcome's reason under this one."""
    to = choice_code(text, OUTCOMES)
    if to not in OUTCOMES:
        raise SettleChoice()
    listed = next((h.value for h in heads if h.value.get("to") == to), None)
    return dict(listed) if listed else {"to": to, "round": heads[0].value.get("round", 0)}


def _centre_settles(conflict_id: str, kind: str, field_name: str) -> CentreSettles:
    zh, en = field_label_pair(kind, field_name)
    return CentreSettles(ref=conflict_id, label_zh=zh, label_en=en)


def _tagged(conflict: merge.Conflict, conflict_id: str, tag: str) -> merge.Head:
    """The head a person named by its tag (or its full op id), as the listing shows it."""
    wanted = tag.strip().lower()
    found = [h for h in conflict.heads if wanted in (h.tag, h.op_id.lower())]
    if len(found) != 1:
        raise NoSuchValue(ref=conflict_id, tag=tag.strip())
    return found[0]


def _first_ops(kind: str, name: str, value: Any) -> list[Op]:
    """The ops that give a new record one cleaned value."""
    spec = field_for(kind, name)
    assert spec is not None
    if spec.merge == "orset":
        return [Op("add", name, element) for element in value]
    if spec.merge == "log":
        return [Op("append", name, entry) for entry in value]
    return [Op("set", name, value)]


@dataclass(frozen=True)
class EnrollKeys:
    """The keys a station enrolls with (``Station.next_keys``)."""

    sign: Signer
    seal: SealKey
    transport: Signer


class Station:
    """An unlocked station: its data, keys, catalogue and calendar."""

    def __init__(self, home: Path, db: sqlite_utils.Database, keys: Keys, agent: str,
                 now: Now) -> None:
        self.home = home
        self.db = db
        self.keys = keys
        self.agent = agent
        self.now = now
        self.station_id = _meta(db, "station") or ""
        self.station_name = _meta(db, "name") or ""
        self.device = _meta(db, "device") or ""
        self._own: tuple[tuple[Any, ...], Signer, SealKey] | None = None  # see own_keys
        self.ledger = Ledger(db, keys, station=self.station_id, device=self.device,
                             signer=lambda: self.signer,
                             now_ms=lambda: int(self.now().timestamp() * 1000))
        self.calendar = WorkCalendar.load(home / CALENDAR_OVERRIDES)
        self.sync = SyncState(home, db)
        self._catalogue: Catalogue | None = None
        self._names = SharedNames()
        self._names_seen: int | None = None  # PRAGMA data_version when names last caught up
        self._indexing = True  # off while a big downlink batch is merged
        self._due: tuple[tuple[Any, ...], DueLists] | None = None  # see due()
        self._preparing = (os.cpu_count() or 1) > 1
        self._preparer: Preparer | None = None  # started by the first big downlink batch
        self.ledger.on_change.append(self._index_record)

    # --- opening and closing ---------------------------------------------------------------

    @classmethod
    def init(cls, home: Path, *, station_id: str, name: str, agent: str, passphrase: str,
             kdf: KdfParams = DEFAULT_KDF, force: bool = False,
             now: Now = _local_now) -> tuple[Station, str]:
        """Make a new station vault; returns it and the recovery key (shown once)."""
        station_id = _check_station_code(station_id)
        name = check_text(name, label=("站点名称", "Station name"), field_name="name",
                          max_len=60, required=True)
        agent = _check_agent_name(agent)
        path = dbmod.db_path(home)
        if path.exists():
            cls._refuse_replace(home, force)
        dek = new_dek()
        recovery = new_recovery_key()
        slot = agent_slot(agent, passphrase, dek, kdf)  # refuses a weak passphrase first
        tmp = home / (dbmod.DB_NAME + ".new")
        try:  # a home made here is this user's only; one given ready-made is left as it is
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"),
                             tmp.with_name(tmp.name + "-shm")):
                leftover.unlink(missing_ok=True)
            # only ciphertext inside, but this user's only all the same: SQLite gives the
            # -wal and -shm files the database file's mode
            tmp.touch(mode=0o600)
        except PermissionError:
            raise CannotWrite(path=str(home)) from None
        db = dbmod.connect(tmp, create=True)
        dbmod.migrate(db)
        keys = Keys(dek)
        stamp = now()
        with dbmod.write(db):
            _save_slot(db, slot, stamp)
            _save_slot(db, recovery_slot(recovery, dek), stamp)
            for key, value in (("station", station_id), ("name", name),
                               ("device", f"{station_id}-{os.urandom(3).hex()}"),
                               ("created", stamp.isoformat())):
                _set_meta(db, key, value)
            for secret, raw in (("sign", Signer.generate().private_bytes()),
                                ("seal", SealKey.generate().private_bytes())):
                db.execute("INSERT INTO secrets(name, body) VALUES (?, ?)",
                           [secret, keys.seal("secrets", raw, f"secrets|{secret}|1")])
        db.close()
        if path.exists():
            cls._archive(home)
        os.replace(tmp, path)
        make_transport_key(home)
        return cls.open(home, passphrase, agent=agent, now=now), recovery

    @staticmethod
    def _refuse_replace(home: Path, force: bool) -> None:
        db = dbmod.connect(dbmod.db_path(home))
        try:
            dbmod.check_station(db)  # another program's database is never replaced
            station = _meta(db, "station") or "?"
            if not force:
                raise StationExists(home=str(home), station=station)
            unsent = db.execute("SELECT count(*) FROM changesets "
                                "WHERE local=1 AND acked=0 AND exported=0").fetchone()[0]
            if unsent:
                raise UnsentWork(count=unsent, changes=f"{counted(unsent, 'change')} "
                                  f"{agrees(unsent, 'has', 'have')}")
        finally:
            db.close()

    @staticmethod
    def _archive(home: Path) -> None:
        """``init --force`` never deletes: the old vault is kept beside the new one."""
        stamp = china_now().strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            old = home / (dbmod.DB_NAME + suffix)
            if old.exists():
                shutil.move(old, home / f"{dbmod.DB_NAME}.replaced-{stamp}{suffix}")

    @classmethod
    def open(cls, home: Path, passphrase: str, *, agent: str | None = None,
             now: Now = _local_now) -> Station:
        """Unlock with an agent's passphrase. A wrong one changes nothing on disk."""
        db = dbmod.connect(dbmod.db_path(home))
        try:
            dek, label = cls._unlock(db, passphrase, agent)
            dbmod.migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(home, db, Keys(dek), label, now)

    @staticmethod
    def _unlock(db: sqlite_utils.Database, passphrase: str,
                agent: str | None) -> tuple[bytes, str]:
        dbmod.check_station(db)
        dbmod.check_schema(db)
        slots = [s for s in _slots(db) if s.kind == "agent"]
        _check_keys(db, slots)
        if agent is not None:
            slots = [s for s in slots if s.label == agent]
            if not slots:
                raise UnknownAgent(agent=agent)
        damaged: DamagedSlot | None = None
        for slot in slots:
            try:
                return open_agent_slot(slot, passphrase), slot.label
            except WrongPassphrase:
                continue
            except DamagedSlot as exc:  # the other agents can still unlock
                damaged = damaged or exc
        raise damaged or WrongPassphrase()

    @classmethod
    def recover(cls, home: Path, recovery_key: str, *, agent: str, new_passphrase: str,
                kdf: KdfParams = DEFAULT_KDF, now: Now = _local_now) -> Station:
        """Open with the recovery key and give ``agent`` a new passphrase."""
        agent = _check_agent_name(agent)
        db = dbmod.connect(dbmod.db_path(home))
        try:
            dbmod.check_station(db)
            slot = next((s for s in _slots(db) if s.kind == "recovery"), None)
            if slot is None:
                raise DamagedStation(path=str(dbmod.db_path(home)), missing="keyslots: recovery")
            dek = open_recovery_slot(slot, recovery_key)
            new_slot = agent_slot(agent, new_passphrase, dek, kdf)
            dbmod.migrate(db)
            with dbmod.write(db):
                _save_slot(db, new_slot, now())
        except BaseException:
            db.close()
            raise
        return cls(home, db, Keys(dek), agent, now)

    def clone(self) -> Station:
        """The same unlocked station on a connection of its own, for a background worker
        (a sync, a search): SQLite transactions must not interleave on one connection. The
        in-memory name index is shared, so what either one writes is found by both."""
        other = Station(self.home, dbmod.connect(dbmod.db_path(self.home), check=False),
                        self.keys, self.agent, self.now)
        other._names = self._names
        return other

    def refresh(self) -> None:
        """Forget cached reference data another connection may have changed (a pull)."""
        self._catalogue = None
        self.ledger.load_sealing()

    @staticmethod
    def agents_of(home: Path) -> list[str]:
        """The agents who can unlock this station (key-slot labels: staff names, not
        residents'), for the unlock screen to offer before anything is decrypted."""
        db = dbmod.connect(dbmod.db_path(home))
        try:
            dbmod.check_station(db)
            return [s.label for s in _slots(db) if s.kind == "agent"]
        finally:
            db.close()

    def close(self) -> None:
        if self._preparer is not None:
            self._preparer.close()
            self._preparer = None
        self.db.close()

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _secret(self, name: str) -> bytes:
        row = self.db.execute("SELECT CAST(body AS BLOB) FROM secrets WHERE name=?",
                              [name]).fetchone()
        return self.keys.open("secrets", row[0], f"secrets|{name}|1")

    def _sealing(self) -> Sealing | None:
        return pinned_sealing(self.db, self.station_id, self.signer)

    def own_keys(self) -> tuple[Signer, SealKey]:
        """This station's signing and sealing keys as the database holds them now. A
        ``station enroll`` in another terminal replaces them (``next_keys``): the app open
        meanwhile, keeping those it read at unlock, signed its saves with a key the centre
        had retired (refused, never reaching the town) and could not open what the centre
        sealed to the new one. Decrypted again only when their stored copies change."""
        rows = self.db.execute("SELECT name, CAST(body AS BLOB) FROM secrets "
                               "WHERE name IN ('sign', 'seal') ORDER BY name").fetchall()
        mark = tuple(rows)
        if self._own is None or self._own[0] != mark:
            raw = {name: self.keys.open("secrets", body, f"secrets|{name}|1")
                   for name, body in rows}
            self._own = (mark, Signer.from_bytes(raw["sign"]), SealKey.from_bytes(raw["seal"]))
        return self._own[1], self._own[2]

    @property
    def signer(self) -> Signer:
        return self.own_keys()[0]

    @property
    def seal_key(self) -> SealKey:
        return self.own_keys()[1]

    # --- the centre: enrollment and downlink ------------------------------------------------

    def next_keys(self, code_mark: str = "") -> EnrollKeys:
        """The keys to enroll with: new ones, made at the first try and kept (encrypted under
        the data key) until an enrollment succeeds, so a try whose reply was lost sends the
        same keys again, which the centre answers with the same reply. The code that
        enrolled the keys in use (``code_mark``, as ``pin_centre`` noted it) gets those: the
        agent who runs `station enroll` again, unsure the first one went through, is
        answered as before.

        Never the keys the station holds: a backup restored onto a replacement laptop
        (``station restore``) carries the stolen laptop's keys, and enrolled as they were
        they would be the station's again — the thief's copy could push and pull as if it
        had never been revoked. The keys in use stay in use until the centre takes the new
        ones, so a failed enrollment (an expired code) leaves a working station working."""
        if code_mark and _meta(self.db, "enrolled.code") == code_mark:
            return EnrollKeys(self.signer, self.seal_key, self.sync.transport())
        makers = {"sign": Signer.generate, "seal": SealKey.generate,
                  "transport": Signer.generate}
        with dbmod.write(self.db):
            raw = {name: self._next_secret(name, make) for name, make in makers.items()}
        return EnrollKeys(Signer.from_bytes(raw["sign"]), SealKey.from_bytes(raw["seal"]),
                          Signer.from_bytes(raw["transport"]))

    def _next_secret(self, name: str, make: Callable[[], Signer | SealKey]) -> bytes:
        """The pending secret ``name``, made now if there is none (call inside a write)."""
        row = self.db.execute("SELECT 1 FROM secrets WHERE name=?", [name + NEXT]).fetchone()
        if row is not None:
            return self._secret(name + NEXT)
        raw = make().private_bytes()
        self._put_secret(name + NEXT, raw)
        return raw

    def _put_secret(self, name: str, raw: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO secrets(name, body) VALUES (?, ?)",
                        [name, self.keys.seal("secrets", raw, f"secrets|{name}|1")])

    def pin_centre(self, pin: CentrePin, keys: EnrollKeys, code_mark: str = "") -> int:
        """Trust this centre from now on, take the keys it registered (``next_keys``), and
        seal every unsent local change to it, signed with them.

        Returns how many changes were sealed into the outbox for the first time: work done
        before enrolling. Whatever was already there is sealed again (signed with the new
        key, and to the new centre's key when the station moves): the centre no longer
        takes the old key's signature once that laptop is revoked, and nothing unsent is
        ever dropped. Another centre keeps another log, so the cursor into the old one
        starts again from the beginning of the new one: kept, it skipped as many of the new
        centre's entries as the old one had sent (its decisions, the others' work in this
        station's scope).

        The transport key file is written first: a crash before the commit leaves the new
        keys pending, and the next ``station enroll`` sends and takes them again."""
        put_transport_key(self.home, keys.transport)
        with dbmod.write(self.db):
            previous = self.sync.centre() if self.sync.enrolled() else None
            if previous is not None and previous.fingerprint != pin.fingerprint:
                self.sync.set_cursor(0)
            self.sync.set_centre(pin)
            self._take_keys(keys)
            _set_meta(self.db, "enrolled.code", code_mark)
            return self._reseal_unsent()

    def _take_keys(self, keys: EnrollKeys) -> None:
        """The pending keys become the station's (call inside a write)."""
        self._put_secret("sign", keys.sign.private_bytes())
        self._put_secret("seal", keys.seal.private_bytes())
        self.db.execute("DELETE FROM secrets WHERE name LIKE ?", ["%" + NEXT])
        self.ledger.load_sealing()

    def _reseal_unsent(self) -> int:
        """Seal and sign every local change the centre has not acknowledged, in place for
        those in the outbox (a refusal set aside stays set aside); how many were new."""
        added = 0
        for cid, body in self.db.execute(
                "SELECT id, CAST(body AS BLOB) FROM changesets WHERE local=1 AND acked=0 "
                "ORDER BY hlc").fetchall():
            encoded = self.keys.open("changesets", body, f"changesets|{cid}|1")
            row = self.ledger.rows.outbox_row(decode_changeset(encoded), encoded)
            assert row is not None
            if not self.db.execute("UPDATE outbox SET sealed=? WHERE changeset=?",
                                   [row[1], cid]).rowcount:
                self.db.execute(INSERT_OUTBOX, row)
                added += 1
        return added

    def apply_downlink(self, blob: bytes) -> Downlink:
        """Verify, open and merge a batch from the centre; the cursor moves only after."""
        with paused_gc():
            return self._apply_downlink(blob)

    def _receive(self, encoded: list[bytes], *, bulk: bool) -> ReceiveReport:
        if bulk and self._preparing:
            if self._preparer is None:
                self._preparer = Preparer(self.keys.dek)
            return self.ledger.receive_prepared(
                self._preparer.slices(encoded, self.today()), today=self.today())
        return self.ledger.receive_encoded(encoded, today=self.today())

    def _apply_downlink(self, blob: bytes) -> Downlink:
        pin = self.sync.centre()
        head = verify_batch(blob, pin.sign_public)
        entries = open_batch(blob, head, self.seal_key)
        encoded: list[bytes] = []
        report = Downlink(upto=head.upto, centre_time_ms=head.centre_time_ms,
                          complete=head.complete)
        for entry in entries:
            if entry.kind == ENTRY_CATALOGUE:
                catalogue = Catalogue.from_json_bytes(entry.data)
                if is_newer(catalogue, self.catalogue):  # never back to an older one
                    report.catalogue = catalogue.version
                    with dbmod.write(self.db):
                        self.db.execute("INSERT OR REPLACE INTO meta(key, value) "
                                        "VALUES ('catalogue', ?)", [entry.data.decode()])
                    self._catalogue = None
            elif entry.kind == ENTRY_ACK:  # signed by the centre, sealed to us: trusted
                report.acked += self.sync.ack(acked(entry))
            elif entry.kind == ENTRY_CHANGESET:
                encoded.append(entry.data)
            # any other kind is from a newer centre, for a newer station: not ours to read
        # A big batch (a bus's first pull of a village) would re-sort a warm name index every
        # few thousand names: it is rebuilt once, on next use, as after an import. Its records
        # are mostly new here: another core prepares them while this one writes.
        bulk = len(encoded) >= BULK_NAMES
        self._indexing = not bulk
        try:
            with self._names_follow_rollback():  # a chunk that rolls back put names too
                received = self._receive(encoded, bulk=bulk)
        finally:
            self._indexing = True
        if bulk:
            self._names.forget()
        if head.complete and self._preparer is not None:  # the pull is over: so are they
            self._preparer.close()
            self._preparer = None
        report.new, report.duplicates = received.new, received.duplicates
        report.conflicts = received.conflicts
        report.held, report.held_waiting = received.held, self.ledger.held()
        with dbmod.write(self.db):
            self.sync.advance_cursor(head)
        return report

    def drain_inbox(self) -> Drained:
        """Apply the batches pulled while the vault was locked, oldest first. The cursor
        went past each when it was kept, so one that does not merge puts it back (see
        ``Drained``); the others still merge: order does not matter to the merge (G3), and
        merging a changeset twice changes nothing. The changesets from the centre kept aside
        because this version could not read them are tried first (after an upgrade, they
        merge and leave)."""
        drained = Drained([], held_merged=self.ledger.retry_held(today=self.today()))
        for kept in self.sync.kept_batches():
            try:
                drained.merged.append(self.apply_downlink(kept.sealed))
                self.sync.merged_kept(kept)
            except WireError as exc:  # signature, seal or framing: these bytes never will
                self._set_aside(kept, exc, drained)
            except Exception as exc:  # a full disk, a fault in this program: kept, said
                drained.not_merged(exc)
                with suppress(StationError):  # the store itself may be what fails
                    self.sync.rewind_cursor(kept.after)
        drained.held_waiting = self.ledger.held()
        return drained

    def _set_aside(self, kept: KeptBatch, damage: WireError, drained: Drained) -> None:
        """A damaged kept batch leaves the inbox and the cursor goes back; if the store
        cannot even do that now, it stays kept, to be tried at the next unlock."""
        try:
            self.sync.set_aside(kept, damage.code)
        except StationError as exc:
            drained.not_merged(exc)
        else:
            drained.set_aside += 1

    # --- agents ----------------------------------------------------------------------------

    def agents(self) -> list[str]:
        return [s.label for s in _slots(self.db) if s.kind == "agent"]

    def _refuse_existing(self, name: str) -> None:
        if name in self.agents():
            raise AgentExists(agent=name)

    def _refuse_unknown(self, name: str) -> None:
        if name not in self.agents():
            raise UnknownAgent(agent=name)

    def add_agent(self, name: str, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
        """A key slot for a new agent. Looked up before the passphrase is derived (half a
        second) and again in the transaction that writes the slot: an ``agent add`` of the
        same name from another terminal meanwhile had its slot replaced, its passphrase
        opening nothing though it had been told the agent was added."""
        name = _check_agent_name(name)
        self._refuse_existing(name)
        slot = agent_slot(name, passphrase, self.keys.dek, kdf)
        with dbmod.write(self.db):
            self._refuse_existing(name)
            _save_slot(self.db, slot, self.now())

    def change_passphrase(self, new_passphrase: str, *, agent: str | None = None,
                          kdf: KdfParams = DEFAULT_KDF) -> None:
        """A new slot for the agent at today's cost, not the old slot's: a slot made cheap
        (the demo's, an older version's) becomes as hard to guess as a new one. The agent is
        looked up again in the transaction that writes it: one removed from another
        terminal meanwhile (someone who left) got a slot back, and a way in."""
        who = agent or self.agent
        self._refuse_unknown(who)
        slot = agent_slot(who, new_passphrase, self.keys.dek, kdf)
        with dbmod.write(self.db):
            self._refuse_unknown(who)
            _save_slot(self.db, slot, self.now())

    def remove_agent(self, name: str) -> None:
        """Remove another agent's slot (someone who left); never the last one, nor the one
        this station was opened with. The slots are counted inside the transaction that
        deletes: two agents removing each other at once from two terminals would otherwise
        each see two slots, and leave none, a station only the recovery key still opens."""
        with dbmod.write(self.db):
            self._refuse_unknown(name)
            if len(self.agents()) == 1:
                raise LastSlot()
            if name == self.agent:
                raise OwnSlot()
            self.db.execute("DELETE FROM keyslots WHERE label=? AND kind='agent'", [name])

    # --- reference data --------------------------------------------------------------------

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = _catalogue_in(self.db)
        return self._catalogue

    def today(self) -> dt.date:
        return self.now().date()

    def promise_estimated(self, record: Record) -> bool:
        """Whether an application's promised completion date is still an estimate: counted by
        its matter's time limit over days of a year whose holidays are not published yet
        (``WorkCalendar.estimated``), so the resident and the agent are told it may move."""
        fields = record.fields
        code = fields.get("matter")
        if record.kind != "application" or code not in self.catalogue:
            return False
        try:
            start = dt.date.fromisoformat(str(fields.get("received_on")))
            end = dt.date.fromisoformat(str(fields.get("promised_date")))
        except ValueError:
            return False
        return self.calendar.estimated(start, self.catalogue.get(code).time_limit_days, end)

    def clock_set_back(self) -> tuple[str, str] | None:
        """What to tell the person (zh, en) when this computer's clock reads well before the
        latest change the station holds, so every date it gives is off; None when it is
        plausible. A warning, never a refusal: the work is still saved and synced."""
        latest = self.ledger.clock_set_back()
        return None if latest is None else set_back_note(self.ledger.clock.now(), latest)

    # --- records: writing ------------------------------------------------------------------

    def prepare(self, kind: str, values: dict[str, Any], *, status: str | None = None,
                scope: str | None = None) -> Prepared:
        """Validate a new record's form values without writing anything (all problems at once).

        Applications are received (受理), or awaiting materials when non-essential ones are
        missing, unless ``status="draft"``."""
        if kind not in SCHEMAS:
            raise ValidationError([Problem("kind", "choice", {
                "label_zh": "记录类型", "label_en": "Record kind",
                "choices": ", ".join(SCHEMAS)})])
        cleaned = self._clean(kind, self._defaults(kind, values), current={})
        matter = self._matter_rules(kind, cleaned, status)
        problems = date_problems(kind, cleaned, set(cleaned), self.now())
        if problems:
            raise ValidationError(problems)
        initial = self._initial_status(kind, cleaned, matter, status)
        if closing := closing_problems(kind, (initial or {}).get("to", status), cleaned):
            raise ValidationError(closing)
        filled_in = frozenset(name for name in cleaned
                              if name not in values and name.rsplit(".", 1)[0] not in values)
        return Prepared(kind, cleaned, initial, (scope or self.station_id).upper(), filled_in)

    def _new_ops(self, prepared: Prepared, receipt: str) -> list[Op]:
        state = merge.empty(prepared.kind, "", prepared.scope)
        ops = [Op("set", "receipt", receipt), *self._ops(state, prepared.kind, prepared.cleaned)]
        if prepared.status is not None:
            ops.append(Op("status", "status", prepared.status))
        return ops

    def commit_new(self, prepared: Prepared) -> Record:
        """Write a prepared record as one changeset (its receipt number is allocated here)."""
        today = self.today()

        def build(state: merge.State) -> list[Op]:
            (receipt,) = self.ledger.next_receipts(self.station_id, today)
            return self._new_ops(prepared, receipt)

        _, record = self.ledger.commit(record_id=prepared.record_id, kind=prepared.kind,
                                       scope=prepared.scope, author=self.agent,
                                       origin=self.station_id, build=build)
        return record

    def create(self, kind: str, values: dict[str, Any], *, status: str | None = None,
               scope: str | None = None) -> Record:
        """Make a new record from form values: ``prepare`` then ``commit_new``."""
        return self.commit_new(self.prepare(kind, values, status=status, scope=scope))

    def create_many(self, prepared: Iterable[Prepared], *, count: int = 0) -> ReceiptRun:
        """Write many prepared records in one transaction (bulk import), each its own
        changeset: all commit, or none does — also when ``prepared`` (a generator still
        validating the rest of a file) raises. Returns their receipt numbers, which are
        consecutive: the transaction holds the write lock from the first to the last.
        ``count`` is how many are coming, when known: from ``BULK_IMPORT`` on, the other
        cores build the rows while this one validates and writes."""
        preparer: Preparer | None = None
        try:
            with dbmod.write(self.db):
                self.ledger.load_sealing()  # as pinned now, if another process enrolled
                if self._preparing and count >= BULK_IMPORT:
                    preparer = Preparer(self.keys.dek, self.ledger.rows.sealing)
                today = self.today()  # once: an import that runs past midnight is one day's
                run = self.ledger.receipts_after(self.station_id, today)
                written = self.ledger.create_many(self._new_records(prepared, today), preparer)
        finally:
            if preparer is not None:  # its processes hold the keys: they end with the import
                preparer.close()
        self._names.forget()  # rebuilt on next use, once, instead of once per record
        return replace(run, count=written)

    def _new_records(self, prepared: Iterable[Prepared], today: dt.date) -> Iterator[NewRecord]:
        """Each prepared record's ops, receipt numbers of ``today`` taken a block at a time
        (inside the transaction, in the order the records come)."""
        remaining = iter(prepared)
        while block := list(islice(remaining, RECEIPT_BLOCK)):
            receipts = self.ledger.next_receipts(self.station_id, today, len(block))
            for p, receipt in zip(block, receipts, strict=True):
                yield NewRecord(p.record_id, p.kind, p.scope, self.agent, self.station_id,
                                self._new_ops(p, receipt))

    def _defaults(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        if kind == "application":
            out.setdefault("agent", self.agent)
            out.setdefault("channel", "station")
            out.setdefault("received_on", self.today().isoformat())
        elif kind == "visit":
            out.setdefault("staff", self.agent)
        return out

    def _initial_status(self, kind: str, cleaned: dict[str, Any], matter: Matter | None,
                        status: str | None) -> dict[str, Any] | None:
        if kind != "application":
            if status in (None, "scheduled", "active"):
                return None
            lattice = LATTICES[kind]
            return plan_move(kind, cleaned, {"to": lattice.initial, "round": 0}, status)
        if status == "draft":
            return None
        assert matter is not None
        _, optional = missing_materials(matter, set(cleaned.get("materials.received") or []))
        to = status or ("awaiting_materials" if optional else "received")
        return plan_move(kind, cleaned, {"to": "draft", "round": 0}, to, matter=matter)

    def _matter_rules(self, kind: str, cleaned: dict[str, Any],
                      status: str | None) -> Matter | None:
        if kind != "application":
            return None
        code = cleaned.get("matter")
        if not code:
            raise ValidationError([Problem("matter", "required",
                                           {"label_zh": "事项", "label_en": "The matter"})])
        matter = self.catalogue.get(code)
        check_materials(matter, cleaned)
        if status != "draft":
            problems = due_problems(matter, cleaned)
            if problems:
                raise ValidationError(problems)
        if not cleaned.get("promised_date") and cleaned.get("received_on"):
            start = dt.date.fromisoformat(cleaned["received_on"])
            cleaned["promised_date"] = self.calendar.add_working_days(
                start, matter.time_limit_days).isoformat()
        return matter

    def update(self, ref: str, values: dict[str, Any], *, reason: str = "") -> Record:
        """Change fields of a record; only what differs from its current value is written.

        A promised date (completion, or a missing material's 容缺 date) changes only with a
        reason, which goes into the record's notes in the same change."""
        current, seen = self._read(ref)
        cleaned = self._clean(current.kind, values, current=current.fields)
        check_not_voided(current.status["to"], cleaned)
        _keep_required(current.kind, cleaned)
        if current.kind == "application":
            check_promise_open(current.status["to"],
                               [k for k, v in cleaned.items() if current.fields.get(k) != v],
                               lambda name: field_label_pair(current.kind, name))
        moved = {k: v for k, v in cleaned.items()
                 if touches_promise([k]) and current.fields.get(k) and current.fields.get(k) != v}
        cleared = [k for k, v in moved.items() if not v]
        if cleared:  # a promise is moved, never dropped
            raise ValidationError([Problem(k, "required", {
                "label_zh": field_label_pair(current.kind, k)[0],
                "label_en": field_label_pair(current.kind, k)[1]}) for k in cleared])
        if moved:
            why = check_text(reason, label=("原因", "Reason"), field_name="reason",
                             max_len=300, multiline=True)
            if not why:
                raise PromiseNeedsReason()
            changes = "；".join(f"{field_label_pair(current.kind, k)[0]} "
                               f"{current.fields[k]} → {v}" for k, v in moved.items())
            cleaned["notes"] = [*cleaned.get("notes", []), f"承诺日期变更：{changes}（{why}）"]
        merged = {**current.fields, **cleaned}
        problems = date_problems(current.kind, merged, set(cleaned), self.now())
        if current.kind == "application":
            matter = self.catalogue.get(merged["matter"])
            check_materials(matter, merged)
            problems += material_problems(matter, current.status["to"], merged, set(cleaned))
        problems += closing_problems(current.kind, current.status["to"], cleaned)
        if problems:
            raise ValidationError(problems)

        def build(state: merge.State) -> list[Op]:
            return self._ops(state, current.kind, cleaned)

        return self._commit(current, seen, build)

    def change_status(self, ref: str, to: str, *, reason: str = "") -> Record:
        """Move a record along its status lattice, with the casework rules (refusals say why)."""
        current, seen = self._read(ref)
        matter = (self.catalogue.get(current.fields["matter"])
                  if current.kind == "application" and current.fields.get("matter") else None)
        value = plan_move(current.kind, current.fields, current.status, to, reason=reason,
                          matter=matter)
        ops = [Op("status", "status", value)]
        if current.kind == "application":
            closing = to in CLOSED
            day = self.today().isoformat() if closing else None
            if closing or current.fields.get("closed_on"):  # a reopen clears it
                ops.append(Op("set", "closed_on", day))

        def build(state: merge.State) -> list[Op]:
            return [op if op.op != "set" else op._replace(prev=tuple(
                h.op_id for h in merge.register_heads(state, op.field))) for op in ops]

        return self._commit(current, seen, build)

    def void(self, ref: str, reason: str) -> Record:
        return self.change_status(ref, "voided", reason=reason)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Changes that stand or fall together: a scripted edit that sets fields and moves the
        status writes neither if either is refused, so running it again repeats nothing."""
        with self._names_follow_rollback(), dbmod.write(self.db):
            yield

    @contextmanager
    def _names_follow_rollback(self) -> Iterator[None]:
        """Saves inside an outer transaction put their names in the index before it commits:
        if it rolls back instead, the index is rebuilt on next use."""
        try:
            yield
        except BaseException:
            self._names.forget()
            raise

    def _read(self, ref: str) -> tuple[Record, Stored]:
        """A record as it is before a change to it, and its stored row for ``_commit``."""
        seen = self.ledger.read(self.resolve(ref))
        return view(seen.state), seen

    def _commit(self, current: Record, seen: Stored,
                build: Callable[[merge.State], list[Op]]) -> Record:
        def checked(state: merge.State) -> list[Op]:
            ops = build(state)
            if not ops:
                raise ValidationError([Problem("record", "unchanged")])
            return ops

        _, record = self.ledger.commit(record_id=current.id, kind=current.kind,
                                       scope=current.scope, author=self.agent,
                                       origin=self.station_id, build=checked, seen=seen)
        return record

    def _clean(self, kind: str, values: dict[str, Any], *,
               current: dict[str, Any]) -> dict[str, Any]:
        """Validate every value; all problems are reported together."""
        problems: list[Problem] = []
        cleaned: dict[str, Any] = {}
        today = self.today()
        for name, value in values.items():
            spec = field_for(kind, name)
            if spec is None or spec.merge == "status" or spec.immutable:
                problems.append(Problem(name, "choice", {
                    "label_zh": f"字段 {name}", "label_en": f"Field {name}",
                    "choices": ", ".join(f.name for f in SCHEMAS[kind] if _editable(f))}))
                continue
            if spec.merge == "authority":
                raise AuthorityRefused.on(spec)
            if spec.name in OWN_ACTION:
                action_zh, action_en = OWN_ACTION[spec.name]
                problems.append(Problem(name, "own_action", {
                    "label_zh": spec.zh, "label_en": spec.en, "action_zh": action_zh,
                    "action_en": action_en}))
                continue
            try:
                if spec.merge == "orset":
                    items = value if isinstance(value, list | tuple | set) else \
                        split_items(str(value))
                    if spec.type == "record_ref":
                        items = self._linked_ids(name, (spec.zh, spec.en), items)
                    cleaned[name] = sorted({clean_element(kind, name, v) for v in items})
                elif spec.merge == "log":
                    entries = value if isinstance(value, list) else [value]
                    cleaned[name] = [check_text(e, label=(spec.zh, spec.en), field_name=name,
                                                max_len=spec.max_len, multiline=True)
                                     for e in entries if str(e).strip()]
                elif spec.merge == "map":
                    for key, sub in _map_entries(spec, name, value).items():
                        cleaned[f"{spec.name}.{key}"] = clean_value(
                            kind, f"{spec.name}.{key}", sub, today=today)
                else:
                    cleaned[name] = clean_value(kind, name, value, today=today)
            except ValidationError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ValidationError(problems)
        return cleaned

    def _linked_ids(self, name: str, label: tuple[str, str], items: Iterable[Any]) -> list[Any]:
        """Linked applications as record ids. A file or ``station edit`` names them by the
        receipt numbers people see, as the visit form does: each becomes its record's id,
        and one not on record here, or not an application, is a problem saying which."""
        ids: list[Any] = []
        problems: list[Problem] = []
        for item in items:
            ref = str(item).strip()
            if not ref or is_record_id(ref):
                ids.append(item)
                continue
            try:
                record = self.get(ref)
            except (NoSuchRecord, AmbiguousReceipt) as exc:
                why_zh, why_en = exc.message("zh"), exc.message("en")
            else:
                if record.kind == "application":
                    ids.append(record.id)
                    continue
                why_zh, why_en = f"{ref} 不是代办件", f"{ref} is not an application"
            problems.append(Problem(name, "linked", {
                "label_zh": label[0], "label_en": label[1], "why_zh": why_zh,
                "why_en": why_en}))
        if problems:
            raise ValidationError(problems)
        return ids

    def _ops(self, state: merge.State, kind: str, cleaned: dict[str, Any]) -> list[Op]:
        """Ops that take the record from ``state`` to the cleaned form values."""
        if state["first"] is None:  # a new record: nothing to supersede or remove
            return [op for name, value in cleaned.items() if value not in (None, [])
                    for op in _first_ops(kind, name, value)]
        ops: list[Op] = []
        current = merge.fields(state)
        for name, value in cleaned.items():
            spec = field_for(kind, name)
            assert spec is not None
            if spec.merge == "orset":
                have = set(merge.canonical(v) for v in current.get(name, []))
                want = {merge.canonical(v): v for v in value}
                for key, element in sorted(want.items()):
                    if key not in have:
                        ops.append(Op("add", name, element))
                for element in current.get(name, []):
                    if merge.canonical(element) not in want:
                        ops.append(Op("remove", name, element,
                                      tags=tuple(merge.set_tags(state, name, element))))
            elif spec.merge == "log":
                ops.extend(Op("append", name, entry) for entry in value)
            else:
                heads = merge.register_heads(state, name)
                if len(heads) == 1 and merge.canonical(heads[0].value) == merge.canonical(value):
                    continue
                if not heads and value is None:
                    continue
                ops.append(Op("set", name, value, prev=tuple(h.op_id for h in heads)))
        return ops

    # --- records: reading ------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """A record id from a receipt number or an id (exact)."""
        text = str(ref).strip()
        rows = self.db.execute("SELECT id FROM records WHERE id=? OR receipt=?",
                               [text, text.upper()]).fetchall()
        if not rows:
            raise NoSuchRecord(ref=text)
        if len(rows) > 1:
            raise AmbiguousReceipt(ref=text, ids=", ".join(r[0] for r in rows))
        return rows[0][0]

    def get(self, ref: str) -> Record:
        return self.ledger.record(self.resolve(ref))

    def history(self, ref: str) -> list[dict[str, Any]]:
        return self.ledger.history(self.resolve(ref))

    @property
    def names(self) -> NameIndex:
        """The in-memory name index, built on first use (decrypts only the names), and
        caught up, before it answers, with what any other connection committed since this
        one last asked: an agent searching in the open app finds the residents a colleague
        has just imported in another terminal, or a scheduled sync has just brought."""
        seen = self.db.execute("PRAGMA data_version").fetchone()[0]
        if seen != self._names_seen:
            self._names_seen = seen
            self._names.catch_up(self._record_versions, self._labels)
        return self._names.get(self._load_names)

    def _record_versions(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT id, version FROM records").fetchall())

    def _load_names(self) -> dict[str, Versioned]:
        return self._opened_labels(self.db.execute(
            "SELECT id, version, CAST(label AS BLOB) FROM records"))

    def _labels(self, ids: list[str]) -> dict[str, Versioned]:
        """The names of records ``ids`` as stored now, with their row versions."""
        out: dict[str, Versioned] = {}
        for start in range(0, len(ids), LABELS_AT_ONCE):
            part = ids[start:start + LABELS_AT_ONCE]
            out |= self._opened_labels(self.db.execute(
                "SELECT id, version, CAST(label AS BLOB) FROM records WHERE id IN "
                f"({','.join('?' * len(part))})", part))
        return out

    def _opened_labels(self, rows: Iterable[tuple[str, int, bytes]]) -> dict[str, Versioned]:
        # CAST: a ciphertext overwritten with text (SQL outside the app) reads as damaged,
        # never as an error in decoding it
        names = {}
        for rid, version, label in rows:
            try:
                names[rid] = (version, self.keys.open("labels", label,
                                                      f"labels|{rid}|{version}").decode())
            except Tampered:
                names[rid] = (version, "⚠")  # shown as damaged; every other name still loads
        return names

    def _index_record(self, record: Record) -> None:
        if self._indexing:
            self._names.put(record.id, record.name)

    def list(self, *, kind: str | None = None, status: str | None = None,
             matter: str | None = None, due: str | None = None,
             ids: Iterable[str] | None = None, limit: int | None = None) -> list[Summary]:
        """Newest first. ``due`` is "overdue" (next step past due today), "this_month"
        (next step due this month), or one of this month's lists of ``station due``:
        "to_resolve" or "to_contact" (see :meth:`due`)."""
        # Given ids (a search), look them up by key: the filters' indexes would scan every
        # record of the kind ("+column" keeps SQLite from using them).
        where, args = self._where(kind, status, matter, due, by_key=ids is not None)
        if ids is not None:
            id_list = list(ids)
            where += f" AND id IN ({','.join('?' for _ in id_list)})"
            args.extend(id_list)
        sql = ("SELECT id, kind, receipt, status, matter, next_due, updated, conflicts "
               f"FROM records WHERE {where} ORDER BY updated DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        names = self.names
        return [Summary(rid, k, receipt, st, names.name(rid), mt, next_due, upd, nc)
                for rid, k, receipt, st, mt, next_due, upd, nc in self.db.execute(sql, args)]

    def count(self, *, kind: str | None = None, status: str | None = None,
              matter: str | None = None, due: str | None = None) -> int:
        """How many records :meth:`list` would show without a limit."""
        where, args = self._where(kind, status, matter, due)
        return int(self.db.execute(f"SELECT count(*) FROM records WHERE {where}",
                                   args).fetchone()[0])

    def _where(self, kind: str | None, status: str | None, matter: str | None,
               due: str | None, *, by_key: bool = False) -> tuple[str, list[Any]]:
        plus = "+" if by_key else ""
        where, args = ["1"], []
        for column, value in (("kind", kind), ("status", status), ("matter", matter)):
            if value:
                where.append(f"{plus}{column}=?")
                args.append(value)
        if due in ("overdue", "this_month"):
            # A draft's dates promise the resident nothing yet: the monthly lists and the
            # dashboard leave drafts out, and so do these.
            where.append(f"{plus}status != 'draft'")
        if due == "overdue":
            where.append(f"{plus}next_due < ?")
            args.append(self.today().isoformat())
        elif due == "this_month":
            where.append(f"{plus}next_due LIKE ?")
            args.append(self.today().isoformat()[:7] + "-%")
        elif due in MONTHLY_LISTS:
            # The monthly rule is not one SQL condition (a contact logged this month takes a
            # case off the list): the very lists `station due` and the dashboard count.
            where.append("id IN (SELECT value FROM json_each(?))")
            args.append(json.dumps([f.id for f in getattr(self.due(), due)]))
        elif due:
            raise ValueError(f"unknown due filter {due!r}")
        return " AND ".join(where), args

    def search(self, text: str, *, kind: str | None = None, status: str | None = None,
               matter: str | None = None, due: str | None = None,
               limit: int = 200) -> list[Summary]:
        """Find by name (characters, pinyin, initials), receipt no., ID number or phone;
        narrowed by the same filters as :meth:`list`."""
        query = text.strip()
        if not query:
            return []
        ids: list[str] = []
        compact = query.replace(" ", "")
        for what, check in (("id", lambda v: check_id_number(v, today=self.today())),
                            ("phone", check_mobile)):
            try:
                token = self.keys.blind(what, check(compact))
            except ValidationError:
                continue
            ids += [r[0] for r in self.db.execute(
                "SELECT record FROM blind_index WHERE token=?", [token])]
        prefix = compact.upper()  # a receipt-number prefix, as a range the index can serve
        ids += [r[0] for r in self.db.execute(
            "SELECT id FROM records WHERE receipt >= ? AND receipt < ? LIMIT ?",
            [prefix, prefix + "\U0010ffff", limit])]
        found = self._found(ids, kind, status, matter, due)
        names = self.names.matches(query)
        # Narrow the name matches a chunk at a time until the screen is full: 王 in a big
        # village matches thousands of residents before the first application of the right
        # status. Chunks start at what is still missing and double while filters refuse most.
        chunk = limit
        while len(found) < limit:
            batch = list(islice(names, chunk))
            if not batch:
                break
            chunk = min(chunk * 2, SEARCH_CHUNK_MAX)
            found |= self._found([i for i in batch if i not in found], kind, status, matter,
                                 due)
        return list(found.values())[:limit]

    def _found(self, ids: list[str], kind: str | None, status: str | None, matter: str | None,
               due: str | None) -> dict[str, Summary]:
        if not ids:
            return {}
        by_id = {s.id: s for s in self.list(kind=kind, status=status, matter=matter, due=due,
                                             ids=ids)}
        return {i: by_id[i] for i in dict.fromkeys(ids) if i in by_id}

    def id_token(self, id_number: str) -> bytes:
        """The blind-index token of a normalised ID number."""
        return self.keys.blind("id", id_number)

    def same_person(self, id_number: str) -> list[Summary]:
        """Every record for one ID number, through the blind index (一办到底)."""
        token = self.keys.blind("id", check_id_number(id_number, today=self.today()))
        ids = [r[0] for r in self.db.execute("SELECT record FROM blind_index WHERE token=?",
                                             [token])]
        return self.list(ids=ids) if ids else []

    # --- following up: contacts, ratings, monthly lists and figures -------------------------

    def add_contact(self, ref: str, via: str, note: str, outcome: str = "") -> Record:
        """Log a contact with the resident about a case (phone, visit or message)."""
        current, seen = self._read(ref)
        if current.kind != "application":
            raise ValidationError([Problem("contacts", "applications_only", {
                "label_zh": "联系记录", "label_en": "Contact logs"})])
        check_not_voided(current.status["to"], ["contacts"])
        note = check_text(note, label=("联系内容", "Contact note"), field_name="note",
                          max_len=500, required=True, multiline=True)
        outcome = check_text(outcome, label=("联系结果", "Contact outcome"),
                             field_name="outcome", max_len=200, multiline=True)
        entry = clean_value(current.kind, "contacts", {
            "via": via, "note": note, "outcome": outcome, "on": self.today().isoformat()},
            today=self.today())
        return self._commit(current, seen, lambda state: [Op("append", "contacts", entry)])

    def rate(self, ref: str, grade: str, comment: str = "") -> Record:
        """一次一评: one rating per finished service; a poor one opens a follow-up."""
        current, seen = self._read(ref)
        check_rating(current.kind, current.status["to"], current.fields.get("rating"))
        rating = clean_value(current.kind, "rating", {
            "grade": grade, "comment": comment, "on": self.today().isoformat()},
            today=self.today())

        def build(state: merge.State) -> list[Op]:
            ops = [Op("set", "rating", rating, prev=tuple(
                h.op_id for h in merge.register_heads(state, "rating")))]
            if rating["grade"] == "poor":
                ops.append(Op("set", "followup", {"state": "open", "note": ""}, prev=tuple(
                    h.op_id for h in merge.register_heads(state, "followup"))))
            return ops

        return self._commit(current, seen, build)

    def close_followup(self, ref: str, note: str) -> Record:
        """Close the follow-up of a poor rating, saying what was done."""
        current, seen = self._read(ref)
        if (current.fields.get("followup") or {}).get("state") != "open":
            raise NoOpenFollowup()
        value = clean_value(current.kind, "followup", {"state": "closed", "note": note},
                            today=self.today())
        return self._commit(current, seen, lambda state: [Op(
            "set", "followup", value,
            prev=tuple(h.op_id for h in merge.register_heads(state, "followup")))])

    def facts(self, *, kind: str | None = None, followup_open: bool = False) -> list[Facts]:
        """The non-personal facts of every record (of ``kind``; only those with an open
        follow-up, if asked), from the plaintext columns."""
        sql = ("SELECT id, kind, status, receipt, scope, matter, channel, received_on, "
               "promised_date, next_due, closed_on, contact_months, rating, rated_on, "
               "followup_open, conflicts FROM records WHERE 1=1")
        params: list[Any] = []
        if kind:
            sql, params = sql + " AND kind=?", [kind]
        if followup_open:
            sql += " AND followup_open=1"
        rows = self.db.execute(sql, params).fetchall()
        return [Facts(*r[:11], tuple((r[11] or "").split(",")) if r[11] else (), r[12], r[13],
                      bool(r[14]), r[15] or 0) for r in rows]

    def due(self, month: Month | None = None) -> DueLists:
        """This month's open cases: to resolve, to contact, overdue (the monthly rule).

        Kept until the records change (a commit on this connection or any other) or the day
        does: a list filtered to one of them is read twice (its rows and its count), and a
        search narrows chunk by chunk, where each reading every application would add up
        to seconds on every keystroke in a big village."""
        month = month or Month.of(self.today())
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        key = (str(month), self.today(), version, self.db.conn.total_changes)
        if self._due is None or self._due[0] != key:
            self._due = (key, due_lists(self.facts(kind="application"), month, self.today()))
        return self._due[1]

    def report(self, month: Month | None = None,
               by: str | None = None) -> dict[str, Figures]:
        """The month's figures, for the whole station or grouped by matter or channel."""
        key = {"matter": lambda f: f.matter or "-", "channel": lambda f: f.channel or "-",
               None: None}[by]
        return figures(self.facts(), month or Month.of(self.today()), self.today(), by=key)

    # --- drafts: unsaved forms survive a closed laptop, encrypted like everything else ----

    def save_draft(self, draft_id: str, kind: str, values: dict[str, Any],
                   record: str | None = None, *, wait_ms: int | None = None) -> None:
        """Keep a form's values encrypted; ``wait_ms`` as for ``db.write`` (an autosave
        gives up soon, raising ``Busy``, and tries again later)."""
        body = self.keys.seal("drafts", merge.dump(values), f"drafts|{draft_id}|1")
        with dbmod.write(self.db, wait_ms=wait_ms):
            self.db.execute("INSERT OR REPLACE INTO drafts(id, kind, record, updated, body) "
                            "VALUES (?,?,?,?,?)",
                            [draft_id, kind, record, self.now().isoformat(timespec="seconds"),
                             body])

    def drafts(self) -> list[Draft]:
        """Forms left unsaved (newest first), to offer back."""
        out = []
        for did, kind, record, updated, body in self.db.execute(
                "SELECT id, kind, record, updated, CAST(body AS BLOB) FROM drafts "
                "ORDER BY updated DESC"):
            try:
                values = merge.load(self.keys.open("drafts", body, f"drafts|{did}|1"))
            except Tampered:
                continue  # a damaged draft is not offered; the records are unaffected
            out.append(Draft(did, kind, record, updated, values))
        return out

    def delete_draft(self, draft_id: str, *, wait_ms: int | None = None) -> None:
        with dbmod.write(self.db, wait_ms=wait_ms):
            self.db.execute("DELETE FROM drafts WHERE id=?", [draft_id])

    # --- the dashboard ---------------------------------------------------------------------

    def dashboard(self) -> Dashboard:
        lists = self.due()
        last, offset = self.sync.last_sync()
        poor = sum(map(is_open_poor, self.facts(followup_open=True)))
        return Dashboard(today=self.today().isoformat(), month=lists.month,
                         to_resolve=len(lists.to_resolve), to_contact=len(lists.to_contact),
                         overdue=len(lists.overdue), open_poor=poor,
                         conflicts=self.counts()["conflicts"], unsent=self.sync.unsent(),
                         enrolled=self.sync.enrolled(), last_sync=last,
                         clock_offset_ms=offset, drafts=len(self.drafts()),
                         held=self.ledger.held(), held_since=self.ledger.held_since(),
                         clock_set_back=self.clock_set_back())

    # --- conflicts -------------------------------------------------------------------------

    def conflicts(self) -> list[ConflictView]:
        """Every open conflict, with every competing value: who wrote it, when, from where."""
        out = []
        rows = self.db.execute("SELECT c.record, c.field, r.receipt FROM conflicts c "
                               "JOIN records r ON r.id = c.record ORDER BY c.opened").fetchall()
        for record_id, field_name, receipt in rows:
            record = self.ledger.record(record_id)
            for conflict in record.conflicts:
                if conflict.field == field_name:
                    out.append(ConflictView(f"{receipt or record_id}:{field_name}", record_id,
                                            receipt, record.kind, field_name, conflict.heads,
                                            self._centre_settles(record, field_name)))
        return out

    def _centre_settles(self, record: Record, field_name: str) -> bool:
        """Whether only the town centre can settle this field's conflict (``centre_settles``)."""
        code = record.fields.get("matter")
        matter = self.catalogue.get(code) if code in self.catalogue else None
        return centre_settles(record.kind, field_name, matter)

    def remember_shown(self, shown: Sequence[ConflictView]) -> None:
        """Keep which values, in which order, this agent was just shown for each conflict
        (op ids only, nothing personal), so a later ``settle --pick N`` from the command line
        can be checked against what the person saw, as the app checks its own screen."""
        listing = {f"{c.record}:{c.field}": [h.op_id for h in c.heads] for c in shown}
        with dbmod.write(self.db):
            _set_meta(self.db, self._shown_key(), json.dumps(listing))

    def shown_heads(self, conflict_id: str) -> tuple[str, ...] | None:
        """The values of this conflict, in the order this agent was last shown them by
        ``remember_shown``; None when they were never listed here."""
        ref, _, field_name = conflict_id.rpartition(":")
        if not ref or not field_name:  # not RECORD:FIELD, as listed
            raise NoSuchConflict(ref=conflict_id)
        raw = _meta(self.db, self._shown_key())
        key = f"{self.resolve(ref)}:{field_name}"  # listed by receipt, named by id, or both
        listed = json.loads(raw).get(key) if raw else None
        return tuple(listed) if listed is not None else None

    def _shown_key(self) -> str:
        return f"conflicts_shown:{self.agent}"

    # --- backups ---------------------------------------------------------------------------

    def remember_backup_folder(self, folder: Path) -> None:
        """Keep the folder a backup was just made into (a USB stick's mount point): the app
        offers it next time, as agents back up to the same stick. A path, nothing personal;
        kept in ``meta`` so it goes with the station, not with whoever's account runs it."""
        with dbmod.write(self.db):
            _set_meta(self.db, "backup_folder", str(folder))

    def last_backup_folder(self) -> Path | None:
        """The folder the last backup from the app was made into, if any."""
        raw = _meta(self.db, "backup_folder")
        return Path(raw) if raw else None

    def settle(self, conflict_id: str, *, pick: int | str | None = None, value: Any = None,
               seen: Sequence[str] | None = None) -> Record:
        """Close a conflict by picking a head (1-based, as listed, or by its tag) or entering
        a new value.

        The op names every head as ``prev``, so the conflict closes on every replica that
        receives it, whatever order things arrive in. ``seen``: the op ids of the heads the
        person was shown (the TUI's list may be minutes old). The heads it supersedes must be
        exactly those, else a value that arrived meanwhile would be buried unseen, and a pick
        by number would keep whichever value now has that number."""
        ref, _, field_name = conflict_id.rpartition(":")
        if not ref or not field_name:  # not RECORD:FIELD, as listed
            raise NoSuchConflict(ref=conflict_id)
        record, seen_row = self._read(ref)
        conflict = next((c for c in record.conflicts if c.field == field_name), None)
        if conflict is None:
            raise NoSuchConflict(ref=conflict_id)
        if self._centre_settles(record, field_name):
            raise _centre_settles(conflict_id, record.kind, field_name)
        listed = tuple(h.op_id for h in conflict.heads)
        if seen is not None and set(seen) != set(listed):
            raise ConflictChanged(ref=conflict_id)
        if (pick is None) == (value is None):
            raise SettleChoice()
        if isinstance(pick, str):
            chosen = _tagged(conflict, conflict_id, pick).value
        elif pick is not None:
            if not 1 <= pick <= len(conflict.heads):
                raise SettleChoice()
            chosen = conflict.heads[pick - 1].value
        elif field_name == "status":
            chosen = _outcome_value(conflict.heads, str(value))
        else:
            cleaned = self._clean(record.kind, {field_name: value}, current={})
            _keep_required(record.kind, cleaned)
            chosen = cleaned[field_name]
        kind_of_op = "status" if field_name == "status" else "set"
        if kind_of_op == "status":
            chosen = check_status_value(record.kind, chosen)
            if chosen["to"] not in OUTCOMES:
                raise SettleChoice()

        def build(state: merge.State) -> list[Op]:
            heads = (merge.status_heads(state) if kind_of_op == "status"
                     else merge.register_heads(state, field_name))
            if {h.op_id for h in heads} != set(listed):  # changed since it was read
                raise ConflictChanged(ref=conflict_id)
            return [Op(kind_of_op, field_name, chosen, prev=listed)]

        return self._commit(record, seen_row, build)

    def counts(self) -> dict[str, int]:
        out = {f"{kind}s": 0 for kind in SCHEMAS}
        for kind, n in self.db.execute("SELECT kind, count(*) FROM records GROUP BY kind"):
            out[f"{kind}s"] = n
        out["changesets"] = self.db.execute("SELECT count(*) FROM changesets").fetchone()[0]
        out["unsent"] = self.db.execute(
            "SELECT count(*) FROM outbox WHERE refused IS NULL").fetchone()[0]
        out["conflicts"] = self.db.execute("SELECT count(*) FROM conflicts").fetchone()[0]
        return out

    def info(self) -> dict[str, Any]:
        return {"station": self.station_id, "name": self.station_name, "device": self.device,
                "agent": self.agent, "agents": self.agents(), "home": str(self.home),
                "catalogue": self.catalogue.version, "enrolled": self._sealing() is not None,
                **self.counts()}

