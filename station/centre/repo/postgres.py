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

from psycopg import Connection as PgConnection
from psycopg import DataError, OperationalError, errors
from psycopg_pool import ConnectionPool, PoolTimeout

from station.centre.errors import BadRequest, Overloaded, Unavailable
from station.centre.repo.base import WAIT_S, Connection, Dialect, log, unavailable

APPEND_LOCK = 0x5354_4E31  # "STN1": the one advisory lock key appends take
PROJECT_LOCK = 0x5354_4E32  # "STN2": held by the one process projecting at a time


class PostgresDialect(Dialect):
    name = "postgresql"
    blob = "BYTEA"
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    serial = "BIGSERIAL"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8,
                 wait_s: float = WAIT_S) -> None:
        self.wait_s = wait_s
        # ``reconnect_timeout``: the pool's own attempts to reconnect back off exponentially
        # (1, 2, 4 … s) for as long as this; left at its five minutes, a centre answered 503
        # for up to a minute or two after PostgreSQL was back. Past it, the next request that
        # needs a connection makes a new attempt at once.
        self.pool = ConnectionPool(dsn, min_size=min_size, max_size=max_size, open=True,
                                   timeout=wait_s, configure=self._configure,
                                   check=self._check, reconnect_timeout=wait_s)

    def _configure(self, conn: PgConnection[Any]) -> None:
        """Each new connection waits at most ``wait_s`` for a lock (the append lock held by a
        stalled process, a row another transaction holds), then fails into a 503, rather
        than keeping the request, and its pooled connection, until the station gives up."""
        conn.execute("SELECT set_config('lock_timeout', %s, false)",
                     (f"{int(self.wait_s * 1000)}ms",))
        conn.commit()

    def _check(self, conn: PgConnection[Any]) -> None:
        """Each connection is tried before it is handed out. One that the server dropped (a
        restart, a fail-over, a proxy's idle timeout) means the others idle in the pool were
        most likely dropped too: they are all replaced now, so that the requests that would
        each have drawn a dead one (and failed) are served instead."""
        try:
            ConnectionPool.check_connection(conn)
        except OperationalError:
            self.pool.check()
            raise

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def executemany(self, conn: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self.sql(sql), rows)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self._translated(), self.pool.connection() as conn:
            yield cast(Any, conn)

    @contextmanager
    def writing(self, *, append_lock: bool = False,
                project_lock: bool = False) -> Iterator[Connection]:
        with self._translated(), self.pool.connection() as conn, conn.transaction():
            if append_lock:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            if project_lock:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (PROJECT_LOCK,))
            yield cast(Any, conn)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors in the centre's terms. A value PostgreSQL cannot hold (text with a NUL
        byte, which SQLite takes) came from a client: a 400 like any other bad input. A server
        that is down, restarting, full or too slow to hand out a connection or a lock is a
        passing fault of ours: a 503 with Retry-After, never a 500 or a hung request."""
        try:
            yield
        except DataError as exc:
            raise BadRequest(detail=f"a value the database cannot hold ({exc})",
                             detail_zh="数据库不能保存其中的某个值（如文字里的 NUL 字符）"
                             ) from None
        except PoolTimeout as exc:  # no connection in time: none can be made, or all in use
            raise self._no_connection(exc) from None
        except errors.ReadOnlySqlTransaction as exc:  # a standby, during a fail-over
            raise unavailable("read_only", exc) from None
        except OperationalError as exc:
            raise unavailable(_why(exc), exc) from None


    def _no_connection(self, exc: PoolTimeout) -> Unavailable:
        """Why no connection came within the wait: every one the pool may hold was taken by
        other requests (the centre is busy: said so, and the technician told in the log what
        to look at), or none could be made (the database did not answer)."""
        stats = self.pool.get_stats()
        size, free = stats.get("pool_size", 0), stats.get("pool_available", 0)
        if size < self.pool.max_size or free:
            return unavailable("no_answer", exc)
        log.warning("every database connection in use", extra={"fields": {
            "why": "connections", "pool_size": size,
            "requests_waiting": stats.get("requests_waiting", 0), "wait_s": self.wait_s,
            "advice": "requests are holding every connection: look for stalled ones in "
                      "pg_stat_activity, or spread the stations over another centre process"}})
        return Overloaded(size=size, wait=self.wait_s)


def _why(exc: OperationalError) -> str:
    if isinstance(exc, errors.DiskFull):
        return "full"
    if isinstance(exc, errors.QueryCanceled | errors.LockNotAvailable |
                  errors.TransactionRollback | errors.TooManyConnections):
        return "busy"
    return "unreachable"  # the connection was lost, the server is shutting down or starting
