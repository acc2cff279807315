"""The centre's storage: one repository interface, one SQL implementation, two dialects.

``Repository`` is all the rest of the centre sees. ``SqlRepository`` implements it once in
portable SQL; a ``Dialect`` supplies what differs between SQLite (the embedded default) and
PostgreSQL (production, several centre processes behind a load balancer): connections,
placeholders, column types, and how appends to the log are serialised.

**The log and the late-commit problem.** Every stored item (a station's changeset, a centre
decision, a catalogue version) gets a sequence number, and stations pull "everything after
my cursor". With several writers, a transaction holding seq 41 could commit *after* one
holding seq 42; a puller that already saw 42 would skip 41 for ever. So every append takes
an exclusive lock for the rest of its transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``pg_advisory_xact_lock``): sequence numbers are handed out in commit order, and a puller
reading committed rows can never later find a lower number appear.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from station.centre.errors import ForeignDatabase, NewerDatabase, Unavailable

SCHEMA_VERSION = 1
# How long a request waits for the database (a pooled connection, a lock another transaction
# or process holds) before it is answered 503 with Retry-After: well inside a station's 30 s
# read timeout, so the station hears why and retries instead of timing out on a stuck request.
WAIT_S = 10.0
# How often expired nonces are swept. Not on every request: every signed request would
# then delete the same expired rows, and on PostgreSQL each would wait for the row locks of
# the others' deletes, so concurrent syncs queued behind one another (or deadlocked) there.
NONCE_SWEEP_MS = 60_000

log = logging.getLogger("station.centre")


def unavailable(why: str, exc: BaseException) -> Unavailable:
    """The 503 for a database that cannot serve now. Clients get ``why`` in words; the
    driver's own text (hosts, ports, file names) goes to the centre's log for whoever runs it."""
    log.warning("database unavailable", extra={"fields": {
        "why": why, "error": f"{type(exc).__name__}: {str(exc).strip()}"}})
    return Unavailable(why)


@dataclass(frozen=True)
class EnrollCode:
    token_hash: bytes
    station: str
    scope: tuple[str, ...]
    expires_ms: int


@dataclass(frozen=True)
class StationRow:
    id: str
    scope: tuple[str, ...]
    sign_public: bytes
    seal_public: bytes
    transport_public: bytes
    device: str
    enrolled_ms: int
    revoked_ms: int | None = None


@dataclass(frozen=True)
class LogEntry:
    """One stored item. ``body`` is encrypted under the centre's storage key."""

    id: str
    kind: str  # "changeset" | "catalogue"
    scope: str  # a village, or "*" for everyone (the catalogue)
    origin: str  # the station that made it, or "centre"
    record: str | None
    hlc: str
    body: bytes
    seq: int = 0
    record_kind: str | None = None  # application | visit | resident


@dataclass(frozen=True)
class CentreRecord:
    """The centre's merged view of one record (state encrypted under the storage key)."""

    id: str
    kind: str
    scope: str
    receipt: str | None
    status: str
    matter: str | None
    channel: str | None
    created: str
    updated: str
    version: int
    state: bytes
    facts: str = "{}"  # what the monthly figures need, nothing personal (JSON)
    # the fields whose values disagree, comma-separated ("" none); None: projected by an
    # older centre that did not note them, so only its state can tell
    conflicts: str | None = None


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Cursor: ...


class Dialect(ABC):
    """What differs between back ends."""

    name: str
    blob: str
    serial: str
    tables: str  # a query for the names of the tables that unqualified names would find

    @abstractmethod
    def reading(self) -> AbstractContextManager[Connection]:
        """A connection for reads (committed data)."""

    @abstractmethod
    def writing(self, *, append_lock: bool = False,
                project_lock: bool = False) -> AbstractContextManager[Connection]:
        """A connection inside a transaction; with ``append_lock``, one that also holds the
        lock that orders appends to the log, until it commits; with ``project_lock``, the
        one that keeps two projectors from working at once."""

    @abstractmethod
    def close(self) -> None: ...

    def sql(self, text: str) -> str:
        """Queries are written with ``?`` placeholders."""
        return text

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.executemany(self.sql(sql), rows)


def _ddl(d: Dialect) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS stations (
            id TEXT PRIMARY KEY, scope TEXT NOT NULL, sign_public {d.blob} NOT NULL,
            seal_public {d.blob} NOT NULL, transport_public {d.blob} NOT NULL,
            device TEXT NOT NULL, enrolled_ms BIGINT NOT NULL, revoked_ms BIGINT)""",
        f"""CREATE TABLE IF NOT EXISTS retired_keys (
            transport_public {d.blob} PRIMARY KEY, station TEXT NOT NULL,
            retired_ms BIGINT NOT NULL, sign_public {d.blob} NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS codes (
            token_hash {d.blob} PRIMARY KEY, station TEXT NOT NULL, scope TEXT NOT NULL,
            expires_ms BIGINT NOT NULL, used_ms BIGINT)""",
        """CREATE TABLE IF NOT EXISTS nonces (
            station TEXT NOT NULL, nonce TEXT NOT NULL, expires_ms BIGINT NOT NULL,
            PRIMARY KEY (station, nonce))""",
        "CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_ms)",
        f"""CREATE TABLE IF NOT EXISTS log (
            seq {d.serial} PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
            scope TEXT NOT NULL, origin TEXT NOT NULL, record TEXT, record_kind TEXT,
            hlc TEXT NOT NULL, received_ms BIGINT NOT NULL, body {d.blob} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS log_scope ON log(scope, seq)",
        "CREATE INDEX IF NOT EXISTS log_record ON log(record, seq)",
        f"""CREATE TABLE IF NOT EXISTS records (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, scope TEXT NOT NULL, receipt TEXT,
            status TEXT NOT NULL, matter TEXT, channel TEXT, created TEXT NOT NULL,
            updated TEXT NOT NULL, version INTEGER NOT NULL, state {d.blob} NOT NULL,
            facts TEXT, conflicts TEXT)""",
        "CREATE INDEX IF NOT EXISTS records_receipt ON records(receipt)",
        "CREATE INDEX IF NOT EXISTS records_conflicts ON records(conflicts)",
        """CREATE TABLE IF NOT EXISTS clock_flags (
            device TEXT PRIMARY KEY, ahead_ms BIGINT NOT NULL, seen_ms BIGINT NOT NULL)""",
    ]


def _add_column(conn: Connection, table: str, column: str, sql_type: str) -> None:
    """Add a column an older centre's table lacks (read from the cursor's description, which
    both drivers give, so one query serves SQLite and PostgreSQL). Rows already there keep
    NULL in it, which readers take as "not noted"."""
    cursor: Any = conn.execute(f"SELECT * FROM {table} LIMIT 0")
    if column not in {d[0] for d in cursor.description}:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


def _tables(d: Dialect) -> set[str]:
    """The names of the centre's tables, as its DDL makes them."""
    return {m.group(1) for m in map(re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)").match,
                                    _ddl(d)) if m}


def serving(station: str, villages: Iterable[str]) -> tuple[str, ...]:
    """The villages a station may write and pull: its own id always first, then the ones its
    code named, each once. A station files its own records under its own id (a bus's under
    BUS01), so a code naming only the villages a bus serves must not leave the bus's own work
    refused — and a centre that stored such a scope before reads it whole again."""
    return tuple(dict.fromkeys(v.upper() for v in (station, *villages) if v))


def _scope(station: str, text: str) -> tuple[str, ...]:
    return serving(station, text.split(","))


def _station(row: Sequence[Any]) -> StationRow:
    return StationRow(row[0], _scope(row[0], row[1]), bytes(row[2]), bytes(row[3]),
                      bytes(row[4]), row[5], row[6], row[7])


def _record(row: Sequence[Any]) -> CentreRecord:
    return CentreRecord(*row[:10], bytes(row[10]), row[11] or "{}", row[12])


def _select_in(conn: Connection, d: Dialect, sql: str, values: Sequence[str], *,
               params: Sequence[Any] = (), suffix: str = "") -> list[Any]:
    """Rows of ``sql`` with its ``IN ({})`` filled, a few hundred values at a time (after
    ``params``, for the placeholders before it)."""
    rows: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = list(values[start:start + 500])
        rows += conn.execute(d.sql(sql.format(",".join("?" for _ in chunk)) + suffix),
                             [*params, *chunk]).fetchall()
    return rows


_RECORD_COLS = ("id, kind, scope, receipt, status, matter, channel, created, updated, version, "
                "state, facts, conflicts")
_STATION_COLS = ("id, scope, sign_public, seal_public, transport_public, device, enrolled_ms, "
                 "revoked_ms")


class Tx:
    """Work inside one append transaction: everything commits together or not at all."""

    def __init__(self, conn: Connection, dialect: Dialect, now_ms: int) -> None:
        self.conn = conn
        self.d = dialect
        self.now_ms = now_ms

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.conn.execute(self.d.sql(sql), params)

    def known(self, ids: Sequence[str]) -> set[str]:
        return {r[0] for r in self._in("SELECT id FROM log WHERE id IN ({})", ids)}

    def _in(self, sql: str, values: Sequence[str], suffix: str = "") -> list[Any]:
        return _select_in(self.conn, self.d, sql, values, suffix=suffix)

    def append(self, entry: LogEntry) -> None:
        self.append_many([entry])

    def append_many(self, entries: Sequence[LogEntry]) -> None:
        self.d.executemany(
            self.conn,
            "INSERT INTO log(id, kind, scope, origin, record, record_kind, hlc, received_ms, "
            "body) VALUES (?,?,?,?,?,?,?,?,?)",
            [(e.id, e.kind, e.scope, e.origin, e.record, e.record_kind, e.hlc, self.now_ms,
              e.body) for e in entries])

    def record_identities(self, record_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(village, kind) of each record the log already holds, from its changesets (a push
        whose label differs is refused, so they all agree); one query per few hundred."""
        return {r[0]: (r[1], r[2]) for r in self._in(
            "SELECT record, min(scope), min(record_kind) FROM log WHERE record IN ({})",
            record_ids, " GROUP BY record")}

    def setting(self, key: str) -> str | None:
        row = self._q("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def log_after(self, after: int, limit: int) -> list[LogEntry]:
        rows = self._q("SELECT id, kind, scope, origin, record, hlc, body, seq, record_kind "
                       "FROM log WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
        return [LogEntry(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7], r[8])
                for r in rows]

    def records(self, record_ids: Sequence[str]) -> dict[str, CentreRecord]:
        """The stored view of each of these records that has one; a query per few hundred."""
        return {rec.id: rec for rec in map(_record, self._in(
            f"SELECT {_RECORD_COLS} FROM records WHERE id IN ({{}})", record_ids))}

    def save_records(self, recs: Sequence[CentreRecord]) -> None:
        updates = ", ".join(f"{c.strip()}=excluded.{c.strip()}"
                            for c in _RECORD_COLS.split(",")[1:])
        self.d.executemany(
            self.conn,
            f"INSERT INTO records({_RECORD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            [(r.id, r.kind, r.scope, r.receipt, r.status, r.matter, r.channel, r.created,
              r.updated, r.version, r.state, r.facts, r.conflicts) for r in recs])

    def set_setting(self, key: str, value: str) -> None:
        self._q("INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def flag_clock(self, device: str, ahead_ms: int) -> None:
        self._q("INSERT INTO clock_flags(device, ahead_ms, seen_ms) VALUES (?,?,?) "
                "ON CONFLICT(device) DO UPDATE SET ahead_ms=excluded.ahead_ms, "
                "seen_ms=excluded.seen_ms", (device, ahead_ms, self.now_ms))


class Repository:
    """Everything the centre stores. One implementation in portable SQL (see module doc)."""

    def __init__(self, dialect: Dialect) -> None:
        self.d = dialect
        self._swept_ms = 0
        self._sweeping = threading.Lock()

    @property
    def backend(self) -> str:
        return self.d.name

    def close(self) -> None:
        self.d.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.d.reading() as conn:
            return conn.execute(self.d.sql(sql), params).fetchall()

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.d.writing() as conn:
            conn.execute(self.d.sql(sql), params)

    @contextmanager
    def writing(self, now_ms: int) -> Iterator[Tx]:
        """An append transaction: sequence numbers are given out in commit order."""
        with self.d.writing(append_lock=True) as conn:
            yield Tx(conn, self.d, now_ms)

    @contextmanager
    def projecting(self, now_ms: int) -> Iterator[Tx]:
        """The projector's transaction: one projector at a time, beside the appenders."""
        with self.d.writing(project_lock=True) as conn:
            yield Tx(conn, self.d, now_ms)

    def migrate(self) -> None:
        """Make or bring forward the schema; safe when several processes start at once.
        Refuses, before changing anything, a database whose schema is newer than this code
        (an older centre started against it by mistake) or that holds tables by our names
        without being ours (a --db pointing at another application's database)."""
        with self.d.writing(append_lock=True) as conn:
            found = {r[0] for r in conn.execute(self.d.tables).fetchall()} & _tables(self.d)
            version = None
            if "settings" in found:
                row = conn.execute(self.d.sql("SELECT value FROM settings WHERE key=?"),
                                   ("schema_version",)).fetchone()
                version = row[0] if row else None
            if found and version is None:
                raise ForeignDatabase(tables=", ".join(sorted(found)))
            if version is not None and not (version.isdigit() and
                                            int(version) <= SCHEMA_VERSION):
                raise NewerDatabase(found=version, known=SCHEMA_VERSION)
            if "records" in found:  # made before records noted their conflicts
                _add_column(conn, "records", "conflicts", "TEXT")
            for statement in _ddl(self.d):
                conn.execute(statement)
            conn.execute(self.d.sql("INSERT INTO settings(key, value) VALUES (?, ?) "
                                    "ON CONFLICT(key) DO NOTHING"),
                         ("schema_version", str(SCHEMA_VERSION)))

    # --- settings ------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM settings WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        self._write("INSERT INTO settings(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # --- enrollment ----------------------------------------------------------------------

    def add_code(self, code: EnrollCode) -> None:
        self._write("INSERT INTO codes(token_hash, station, scope, expires_ms) VALUES (?,?,?,?)",
                    (code.token_hash, code.station, ",".join(code.scope), code.expires_ms))

    def take_code(self, token_hash: bytes, now_ms: int, *,
                  station: str | None = None) -> EnrollCode | None:
        """Use a one-time code: None if unknown, used or expired. It can never be used twice,
        even by two requests at the same instant: one conditional UPDATE both checks and uses
        it (a SELECT then an UPDATE would let two PostgreSQL transactions both succeed).

        With ``station``, a code for another station is returned *unused*, so the caller can
        say whose it is and the right station can still enroll with it."""
        live = "token_hash=? AND used_ms IS NULL AND expires_ms > ?"
        with self.d.writing() as conn:
            if station is None:
                row = conn.execute(self.d.sql(
                    f"UPDATE codes SET used_ms=? WHERE {live} "
                    "RETURNING station, scope, expires_ms"),
                    (now_ms, token_hash, now_ms)).fetchone()
            else:
                row = conn.execute(self.d.sql(
                    f"UPDATE codes SET used_ms=? WHERE {live} AND station=? "
                    "RETURNING station, scope, expires_ms"),
                    (now_ms, token_hash, now_ms, station)).fetchone()
                if row is None:  # for another station (left unused), or no such live code
                    row = conn.execute(self.d.sql(
                        f"SELECT station, scope, expires_ms FROM codes WHERE {live}"),
                        (token_hash, now_ms)).fetchone()
            if row is None:
                return None
            return EnrollCode(token_hash, row[0], _scope(row[0], row[1]), row[2])

    def used_code(self, token_hash: bytes, now_ms: int) -> EnrollCode | None:
        """A code already used and not yet expired: the enrollment whose reply was lost on
        the way back may be asked for again with it (``CentreService.enroll``)."""
        rows = self._read("SELECT station, scope, expires_ms FROM codes WHERE token_hash=? "
                          "AND used_ms IS NOT NULL AND expires_ms > ?", (token_hash, now_ms))
        if not rows:
            return None
        return EnrollCode(token_hash, rows[0][0], _scope(rows[0][0], rows[0][1]), rows[0][2])

    def register(self, row: StationRow) -> None:
        """Register a station's keys; re-enrolling (a reinstalled laptop) retires the old ones,
        and the station's other unused codes can no longer be used.

        Under the append lock, so that two enrollments of one station at once (two codes
        issued for it) come one after the other, and the second retires the first's keys.
        Without it each read "no such station yet", both inserted it, and one was a 500."""
        with self.d.writing(append_lock=True) as conn:
            old = conn.execute(self.d.sql(
                "SELECT transport_public, sign_public, revoked_ms FROM stations WHERE id=?"),
                (row.id,)).fetchone()
            if old is not None and bytes(old[0]) != row.transport_public:
                # superseded keys still vouch for work exported before the reinstall;
                # keys of a revoked station never do
                conn.execute(self.d.sql(
                    "INSERT INTO retired_keys(transport_public, station, retired_ms, "
                    "sign_public, revoked) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(transport_public) DO NOTHING"),
                    (bytes(old[0]), row.id, row.enrolled_ms, bytes(old[1]),
                     int(old[2] is not None)))
            conn.execute(self.d.sql("DELETE FROM stations WHERE id=?"), (row.id,))
            conn.execute(self.d.sql(f"INSERT INTO stations({_STATION_COLS}) "
                                    "VALUES (?,?,?,?,?,?,?,?)"),
                         (row.id, ",".join(row.scope), row.sign_public, row.seal_public,
                          row.transport_public, row.device, row.enrolled_ms, None))
            # any other code still out for this station is void now: one lost on paper
            # would otherwise let whoever finds it take the station's place, and its records
            conn.execute(self.d.sql("UPDATE codes SET used_ms=? WHERE station=? "
                                    "AND used_ms IS NULL"), (row.enrolled_ms, row.id))

    def station(self, station_id: str) -> StationRow | None:
        rows = self._read(f"SELECT {_STATION_COLS} FROM stations WHERE id=?", (station_id,))
        return _station(rows[0]) if rows else None

    def stations(self) -> list[StationRow]:
        return [_station(r) for r in self._read(f"SELECT {_STATION_COLS} FROM stations "
                                                "ORDER BY id")]

    def revoke(self, station_id: str, now_ms: int) -> bool:
        """Revoke a station's keys — its current ones and any it used before."""
        with self.d.writing() as conn:
            row = conn.execute(self.d.sql(
                "UPDATE stations SET revoked_ms=? WHERE id=? AND revoked_ms IS NULL RETURNING id"),
                (now_ms, station_id)).fetchone()
            conn.execute(self.d.sql("UPDATE retired_keys SET revoked=1 WHERE station=?"),
                         (station_id,))
        return row is not None

    def retired_keys(self, station: str) -> list[bytes]:
        """Transport keys a station used before it was enrolled again (a reinstall)."""
        return [bytes(r[0]) for r in self._read(
            "SELECT transport_public FROM retired_keys WHERE station=?", (station,))]

    def revoked_retired_keys(self, station: str) -> list[bytes]:
        """Transport keys of a station's earlier installs that were revoked (by the staff,
        before or after the station was enrolled again)."""
        return [bytes(r[0]) for r in self._read(
            "SELECT transport_public FROM retired_keys WHERE station=? AND revoked=1",
            (station,))]

    def superseded_sign_keys(self, station: str) -> list[bytes]:
        """Signing keys of a station's earlier installs that were never revoked."""
        return [bytes(r[0]) for r in self._read(
            "SELECT sign_public FROM retired_keys WHERE station=? AND revoked=0 "
            "ORDER BY retired_ms DESC", (station,))]

    def remember_nonce(self, station: str, nonce: str, expires_ms: int, now_ms: int) -> bool:
        """False when this nonce was seen before and has not expired (a replay). An expired
        one is taken as new, in place; expired rows are swept now and then (``_sweep``)."""
        self._sweep(now_ms)
        with self.d.writing() as conn:
            row = conn.execute(self.d.sql(
                "INSERT INTO nonces(station, nonce, expires_ms) VALUES (?,?,?) "
                "ON CONFLICT(station, nonce) DO UPDATE SET expires_ms=excluded.expires_ms "
                "WHERE nonces.expires_ms < ? RETURNING nonce"),
                (station, nonce, expires_ms, now_ms)).fetchone()
            return row is not None

    def _sweep(self, now_ms: int) -> None:
        """Delete expired nonces, by one thread at a time, at most every ``NONCE_SWEEP_MS``."""
        if now_ms - self._swept_ms < NONCE_SWEEP_MS or not self._sweeping.acquire(blocking=False):
            return
        try:
            with self.d.writing() as conn:
                conn.execute(self.d.sql("DELETE FROM nonces WHERE expires_ms < ?"), (now_ms,))
            self._swept_ms = now_ms
        finally:
            self._sweeping.release()

    # --- the log -------------------------------------------------------------------------

    def read_log(self, after: int, scopes: Sequence[str], *,
                 exclude_own: tuple[str, str, str | None] | None,
                 limit: int) -> list[LogEntry]:
        """Committed entries after ``after`` in these scopes (and the catalogue), in order.

        ``exclude_own`` (station, device, upto) leaves out what that very install wrote, which
        it already holds. Only that device's: the same station's work from an install it
        replaced (carried on a USB stick, uploaded after the new one synced) is not on the new
        one. With ``upto`` (an encoded HLC, "" for none), only those up to it: the install
        says how far it knows we hold its work, so what it sent and then lost (restored from
        an older backup) comes back to it."""
        wanted = [*scopes, "*"]
        marks = ",".join("?" for _ in wanted)
        sql = (f"SELECT id, kind, scope, origin, record, hlc, body, seq FROM log "
               f"WHERE seq > ? AND scope IN ({marks})")
        params: list[Any] = [after, *wanted]
        if exclude_own:
            origin, device, upto = exclude_own
            up = "" if upto is None else " AND hlc <= ?"
            sql += f" AND NOT (origin = ? AND hlc LIKE ? ESCAPE '!'{up})"
            escaped = device.replace("!", "!!").replace("%", "!%").replace("_", "!_")
            params += [origin, f"%.{escaped}", *([] if upto is None else [upto])]
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        return [LogEntry(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7])
                for r in self._read(sql, params)]

    def held_from(self, station: str, changesets: Sequence[str]) -> set[str]:
        """Which of these changesets the log holds as that station's own work: never one it
        does not hold, nor one another station (or the centre) wrote under that id."""
        with self.d.reading() as conn:
            return {r[0] for r in _select_in(
                conn, self.d, "SELECT id FROM log WHERE kind='changeset' AND origin=? "
                "AND id IN ({})", changesets, params=(station,))}

    def head(self) -> int:
        rows = self._read("SELECT max(seq) FROM log")
        return int(rows[0][0] or 0)

    def count(self, kind: str = "changeset") -> int:
        return int(self._read("SELECT count(*) FROM log WHERE kind=?", (kind,))[0][0])

    # --- the centre's merged records -----------------------------------------------------

    def find_receipt(self, receipt: str) -> list[CentreRecord]:
        """The records with this receipt number or record id, however it was typed: receipt
        numbers are written in capitals (V001-…), ids in small letters."""
        return [_record(r) for r in self._read(
            f"SELECT {_RECORD_COLS} FROM records WHERE receipt=? OR id=?",
            (receipt.upper(), receipt.lower()))]

    def matters_in_use(self) -> set[str]:
        """The matter codes of every record not voided: a case under any of them can still
        move (be submitted, decided, reopened), which needs its matter in the catalogue."""
        return {r[0] for r in self._read("SELECT DISTINCT matter FROM records "
                                         "WHERE matter IS NOT NULL AND status <> 'voided'")}

    def conflicted(self, scopes: Sequence[str] | None = None) -> list[CentreRecord]:
        """The records with a conflict open (or not noted either way, projected by an older
        centre: the caller reads their state), in these villages if given, oldest first."""
        sql = (f"SELECT {_RECORD_COLS} FROM records "
               "WHERE (conflicts IS NULL OR conflicts <> '')")
        if scopes is None:
            return [_record(r) for r in self._read(sql + " ORDER BY updated, id")]
        with self.d.reading() as conn:
            rows = _select_in(conn, self.d, sql + " AND scope IN ({})", list(scopes))
        return sorted(map(_record, rows), key=lambda r: (r.updated, r.id))

    def origins(self, changesets: Sequence[str]) -> dict[str, str]:
        """The station (or "centre") each of these logged changesets came from."""
        with self.d.reading() as conn:
            return {r[0]: r[1] for r in _select_in(
                conn, self.d, "SELECT id, origin FROM log WHERE id IN ({})", changesets)}

    def all_facts(self) -> list[str]:
        """Every record's facts (JSON), for the monthly figures across stations."""
        return [r[0] for r in self._read("SELECT facts FROM records WHERE facts IS NOT NULL")]

    def clock_flags(self) -> list[tuple[str, int, int]]:
        return [tuple(r) for r in self._read(
            "SELECT device, ahead_ms, seen_ms FROM clock_flags ORDER BY device")]
