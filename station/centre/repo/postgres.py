"""The production back end: PostgreSQL through psycopg 3 and a connection pool.

Several centre processes can share one database. Appends to the log take a transaction-
scoped advisory lock, so sequence numbers are handed out in commit order and a puller never
skips a changeset that committed late with a lower number (see ``base``). Other writes
(nonces, enrollment) rely on PostgreSQL's own row locking and run concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from psycopg import DataError
from psycopg_pool import ConnectionPool

from station.centre.errors import BadRequest
from station.centre.repo.base import Connection, Dialect

APPEND_LOCK = 0x5354_4E31  # "STN1": the one advisory lock key appends take
PROJECT_LOCK = 0x5354_4E32  # "STN2": held by the one process projecting at a time


class PostgresDialect(Dialect):
    name = "postgresql"
    blob = "BYTEA"
    serial = "BIGSERIAL"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self.pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=True,
                                   timeout=30)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self.sql(sql), rows)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with _refuse_bad_data(), self.pool.connection() as conn:
            yield cast(Any, conn)

    @contextmanager
    def writing(self, *, append_lock: bool = False,
                project_lock: bool = False) -> Iterator[Connection]:
        with _refuse_bad_data(), self.pool.connection() as conn, conn.transaction():
            if append_lock:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            if project_lock:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROJECT_LOCK,))
            yield cast(Any, conn)

    def close(self) -> None:
        self.pool.close()


@contextmanager
def _refuse_bad_data() -> Iterator[None]:
    """A value PostgreSQL cannot hold (text with a NUL byte, which SQLite takes) came from a
    client: a 400 like any other bad input, never a 500."""
    try:
        yield
    except DataError as exc:
        raise BadRequest(detail=f"a value the database cannot hold ({exc})") from None
