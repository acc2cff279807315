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

from station.centre.repo.base import Connection, Dialect


class SqliteDialect(Dialect):
    name = "sqlite"
    blob = "BLOB"
    serial = "INTEGER"  # INTEGER PRIMARY KEY: rowid, assigned in commit order here

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: the log's and records' hot pages
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        yield self._conn()

    @contextmanager
    def writing(self, *, append_lock: bool = False,
                project_lock: bool = False) -> Iterator[Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
