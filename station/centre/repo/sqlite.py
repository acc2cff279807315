"""The embedded back end: one SQLite file, zero set-up, for a town centre on one machine.

Connections are per thread (FastAPI runs handlers in a thread pool); WAL lets reads run
beside the single writer, and ``BEGIN IMMEDIATE`` makes every write transaction exclusive,
which is also what orders appends to the log (see ``base``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from station.centre.repo.base import WAIT_S, Connection, Dialect, unavailable

# What the primary result codes of SQLite's errors mean for a request: a passing fault of
# the centre's (a 503 with Retry-After), not a 500. Another process (or thread) writing
# for longer than the wait, a full disk, a file made read-only or on a failing disk.
_WHY = {sqlite3.SQLITE_BUSY: "busy", sqlite3.SQLITE_LOCKED: "busy",
        sqlite3.SQLITE_FULL: "full", sqlite3.SQLITE_READONLY: "read_only",
        sqlite3.SQLITE_IOERR: "disk", sqlite3.SQLITE_CANTOPEN: "disk"}


class SqliteDialect(Dialect):
    name = "sqlite"
    blob = "BLOB"
    tables = "SELECT name FROM sqlite_master WHERE type='table'"
    serial = "INTEGER"  # INTEGER PRIMARY KEY: rowid, assigned in commit order here

    def __init__(self, path: Path, *, wait_s: float = WAIT_S) -> None:
        self.path = path
        self.wait_s = wait_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=self.wait_s)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(self.wait_s * 1000)}")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: the log's and records' hot pages
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with _translated():
            yield self._conn()

    @contextmanager
    def writing(self, *, append_lock: bool = False,
                project_lock: bool = False) -> Iterator[Connection]:
        with _translated():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # after some errors (a full disk) SQLite rolled back
                    conn.execute("ROLLBACK")  # by itself, and a second ROLLBACK would fail
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


@contextmanager
def _translated() -> Iterator[None]:
    """SQLite's passing faults (see ``_WHY``) as the centre's 503; anything else is a bug and
    stays what it is."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        why = _WHY.get(getattr(exc, "sqlite_errorcode", 0) & 0xFF)
        if why is None:
            raise
        raise unavailable(why, exc) from None
