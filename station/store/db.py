"""Opening the station database safely, and the one way to write to it.

The file is SQLite in WAL mode with ``synchronous=FULL``: when a write commits, it is on disk
(G1). Writes go through ``write()``, a ``BEGIN IMMEDIATE`` transaction, so two processes (the
TUI and an unattended ``station sync``) never interleave half-made changes and the receipt
counter cannot hand out the same number twice.

Before anything is written, the file is checked: it must be SQLite, pass ``PRAGMA
quick_check``, and not come from a newer schema. A bad file raises a clear error and is left
untouched.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import sqlite3
import struct
import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from station.store.errors import (
    SQLITE_MAGIC,
    Busy,
    CannotWrite,
    CorruptDatabase,
    DamagedStation,
    DiskFull,
    FileGone,
    ForeignWal,
    NewerSchema,
    NotAStation,
    NotAStationDatabase,
    WalMissing,
)
from station.store.schema import MIGRATIONS, SCHEMA_VERSION

DB_NAME = "station.db"
# SQLite's primary result codes for a disk that refuses, not a damaged file: READONLY,
# CANTOPEN (no -wal/-shm beside it in a read-only folder), PERM, AUTH.
REFUSED_BY_DISK = {8, 14, 3, 23}
SQLITE_FULL = 13
SQLITE_IOERR = 10
# Less room than this left on the disk makes an I/O error a full disk: SQLite says "disk
# I/O error", not "full", when it cannot grow the -shm index it makes on opening.
NEARLY_FULL_BYTES = 1024 * 1024
BUSY_TIMEOUT_MS = 15000
# What the -wal file keeps of its size once a write starts it over. One transaction writes
# all of a big import into it (a million residents: ~1.4 GB, the size of the database
# again); without a limit the file stays that big on the laptop's disk for good.
WAL_KEEP_BYTES = 64 * 1024 * 1024


def db_path(home: Path) -> Path:
    return home / DB_NAME


def _check_file(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise CannotWrite(path=str(path)) from None
        raise CorruptDatabase.reading(exc, path=str(path)) from None
    if head != SQLITE_MAGIC:
        raise CorruptDatabase(path=str(path), detail="not an SQLite database",
                              detail_zh="不是 SQLite 数据库")


def connect(path: Path, *, create: bool = False, check: bool = True) -> sqlite_utils.Database:
    """Open (or with ``create``, make) the database with the station's pragmas."""
    if not create:
        if not path.exists():
            raise NotAStation(home=str(path.parent))
        _check_file(path)
        _check_wal_whole(path)
    try:
        if check and not create:
            _quick_check(path)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        db = sqlite_utils.Database(conn)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: a big village's hot pages
        conn.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
    except sqlite3.DatabaseError as exc:
        refusal = disk_refusal(exc, path)
        if refusal is not None:
            raise refusal from None
        raise CorruptDatabase(path=str(path), detail=str(exc),
                              detail_zh=f"SQLite 报告：{exc}") from None
    _OPENED[db] = (path, _identity(path))
    return db


# SQLite's -shm index, as it lays it out (in the machine's byte order): the first header's
# isInit byte, the number of frames the -wal holds (mxFrame) and the page size; then how
# many of those frames are already copied into the database (nBackfill).
_SHM_HEAD = struct.Struct(("<" if sys.byteorder == "little" else ">") + "12xBxHI")
_SHM_BACKFILL = struct.Struct(("<" if sys.byteorder == "little" else ">") + "96xI")
WAL_HEADER, FRAME_HEADER = 32, 24


def _check_wal_whole(path: Path) -> None:
    """Refuse to open a station whose -wal file lost frames not yet copied into it (deleted,
    or cut short, while it was closed after a crash): SQLite would open the file without
    them, and the station would show fewer records as if nothing were wrong. The -shm index
    a crash leaves behind says how many frames the -wal held and how many were copied."""
    shm = path.with_name(path.name + "-shm")
    wal = path.with_name(path.name + "-wal")
    # asked twice: the app closing meanwhile deletes its -wal (all copied), then its -shm
    if _frames_lost(shm, wal) and _frames_lost(shm, wal):
        raise WalMissing(wal=str(wal), shm=str(shm))


def _frames_lost(shm: Path, wal: Path) -> bool:
    """Whether the -shm index counts frames not yet copied that the -wal does not hold."""
    try:
        with shm.open("rb") as fh:
            head = fh.read(_SHM_BACKFILL.size)
        size = wal.stat().st_size if wal.exists() else 0
    except OSError:
        return False  # not readable here: SQLite's own opening says why
    if len(head) < _SHM_BACKFILL.size:
        return False
    is_init, page, frames = _SHM_HEAD.unpack_from(head)
    (copied,) = _SHM_BACKFILL.unpack_from(head)
    if is_init != 1 or frames <= copied:
        return False
    return size < WAL_HEADER + frames * (FRAME_HEADER + (page or 65536))


def _quick_check(path: Path) -> None:
    """``PRAGMA quick_check`` on a read-only connection, before any connection that may
    write. A writing connection, as it closes, copies the -wal file into the database: a
    -wal that does not belong with it (another station's, copied in beside it) would be
    written into station.db for good, and the station's own pages lost with it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        _check_wal_is_ours(path, _device(conn))  # a foreign one also fails the check below
        row = conn.execute("PRAGMA quick_check").fetchone()
    finally:
        conn.close()
    if row[0] != "ok":
        raise CorruptDatabase(path=str(path), detail=row[0],
                              detail_zh=f"完整性检查未通过：{row[0]}")


def _device(conn: sqlite3.Connection) -> str | None:
    """The install id a station wrote once, at ``init``, or None where there is none."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='device'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _check_wal_is_ours(path: Path, with_wal: str | None) -> None:
    """Refuse a -wal file another station wrote: the install id read through it differs
    from the one in the database file alone. ``init`` writes that id into the file itself,
    never left in a -wal, so this station's own -wal never changes it."""
    wal = path.with_name(path.name + "-wal")
    if with_wal is None or not wal.is_file() or wal.stat().st_size == 0:
        return
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    try:  # immutable: the file alone, its -wal not read
        alone = _device(conn)
    finally:
        conn.close()
    if alone is not None and alone != with_wal:
        raise ForeignWal(wal=str(wal))


# the path of each open connection and the file (device, inode) found there, for ``write``
_OPENED: weakref.WeakKeyDictionary[sqlite_utils.Database,
                                   tuple[Path, tuple[int, int] | None]] = (
    weakref.WeakKeyDictionary())


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _check_still_there(db: sqlite_utils.Database) -> None:
    """Refuse to write once the opened file has left its path: SQLite would go on
    writing to the deleted file (or beside the new one) and the app would say "saved" of
    work that no later start can find (G1)."""
    opened = _OPENED.get(db)
    if opened is None:
        return  # an in-memory database, or one opened elsewhere
    path, identity = opened
    if _identity(path) != identity:
        raise FileGone(path=str(path))


def refused_by_disk(exc: sqlite3.Error) -> bool:
    """True when SQLite failed because the disk or its permissions refused."""
    return _primary_code(exc) in REFUSED_BY_DISK


def _primary_code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def disk_full(exc: sqlite3.Error, path: Path) -> bool:
    """True when SQLite failed because the disk holding ``path`` has no room left."""
    code = _primary_code(exc)
    return code == SQLITE_FULL or (code == SQLITE_IOERR and _nearly_full(path.parent))


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def disk_refusal(exc: sqlite3.Error, path: Path) -> DiskFull | CannotWrite | None:
    """The sentence for an SQLite error the disk caused rather than the file (full,
    read-only, not allowed), or None: such a file is fine, and calling it corrupt would send
    the agent to restore an older backup over it."""
    if disk_full(exc, path):
        return DiskFull(path=str(path))
    if refused_by_disk(exc):
        return CannotWrite(path=str(path))
    return None


def file_of(db: sqlite_utils.Database) -> str:
    """The file an open station database lives in, for the sentences that name it."""
    return str(db.conn.execute("PRAGMA database_list").fetchone()[2])


def check_schema(db: sqlite_utils.Database) -> None:
    """Refuse a database made by a newer station, before anything is written."""
    known = set(_tables_made())
    applied = {m.name for m in MIGRATIONS.applied(db)}
    newer = sorted(applied - known)
    if newer:
        raise NewerSchema(detail=", ".join(newer), detail_zh="迁移 " + "、".join(newer))
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise NewerSchema(detail=f"schema {version}, this program knows {SCHEMA_VERSION}",
                          detail_zh=f"数据库版本 {version}，本程序只认识到 {SCHEMA_VERSION}")


def check_station(db: sqlite_utils.Database) -> None:
    """Refuse an SQLite file another program made, and a station's with tables missing,
    before anything reads or writes it: every later query would fail on them."""
    path = file_of(db)
    tables = set(db.table_names())
    if "meta" not in tables or db.execute(
            "SELECT 1 FROM meta WHERE key='station'").fetchone() is None:
        raise NotAStationDatabase(path=path)
    if MIGRATIONS.migrations_table not in tables:
        raise DamagedStation(path=path, missing=MIGRATIONS.migrations_table)
    made = _tables_made()
    expected = set().union(*(made.get(m.name, ()) for m in MIGRATIONS.applied(db)))
    missing = sorted(expected - tables)
    if missing:
        raise DamagedStation(path=path, missing=", ".join(missing))


@functools.cache
def _tables_made() -> dict[str, frozenset[str]]:
    """The tables each migration makes, found by running them on an empty in-memory
    database, so the schema stays written down in one place."""
    scratch = sqlite_utils.Database(memory=True)
    made: dict[str, frozenset[str]] = {}
    before: set[str] = set()
    for migration in MIGRATIONS.pending(scratch):  # on an empty database: all of them
        migration.fn(scratch)
        now = set(scratch.table_names())
        made[migration.name] = frozenset(now - before)
        before = now
    scratch.close()
    return made


def migrate(db: sqlite_utils.Database) -> None:
    """Bring the schema forward; refuse a database from a newer station."""
    check_schema(db)
    if MIGRATIONS.pending(db):
        MIGRATIONS.apply(db)


def schema_version(db: sqlite_utils.Database) -> int:
    if "meta" not in db.table_names():
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


@contextmanager
def write(db: sqlite_utils.Database, *,
          wait_ms: int | None = None) -> Iterator[sqlite_utils.Database]:
    """One immediate transaction: committed durably on success, rolled back on any error.

    Inside an open transaction (a bulk import), it joins the outer one, so the whole batch
    commits or rolls back together. ``wait_ms`` is how long to wait for another program's
    write to end, when not the connection's usual: a draft kept in the background from the
    app's UI thread must not freeze the agent's typing for the length of an import."""
    conn = db.conn
    if conn.in_transaction:
        yield db
        return
    _begin(conn, wait_ms)
    try:
        _check_still_there(db)
        yield db
        conn.execute("COMMIT")  # on a full disk it is the commit that fails
    except sqlite3.Error as exc:
        _roll_back(conn)
        refusal = disk_refusal(exc, Path(file_of(db)))
        if refusal is not None:
            raise refusal from None
        raise
    except BaseException:
        _roll_back(conn)
        raise


def _roll_back(conn: sqlite3.Connection) -> None:
    """End a failed transaction, the commit's own failure included: one left open would be
    joined by the next ``write`` and never committed, its work said to be saved (G1)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _begin(conn: sqlite3.Connection, wait_ms: int | None) -> None:
    """BEGIN IMMEDIATE, waiting ``wait_ms`` (else the connection's busy timeout) for the
    write lock; ``Busy`` when another program still holds it."""
    usual = conn.execute("PRAGMA busy_timeout").fetchone()[0] if wait_ms is not None else None
    try:
        if wait_ms is not None:
            conn.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise Busy() from None
        raise
    finally:
        if usual is not None:
            conn.execute(f"PRAGMA busy_timeout={int(usual)}")
