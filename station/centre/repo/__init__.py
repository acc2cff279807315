"""Centre storage: ``open_repository(url)`` for ``sqlite:///path`` or ``postgresql://…``."""

from __future__ import annotations

from pathlib import Path

from station.centre.errors import BadRequest
from station.centre.repo.base import (
    WAIT_S,
    CentreRecord,
    EnrollCode,
    LogEntry,
    Repository,
    StationRow,
    Tx,
    serving,
)

__all__ = ["WAIT_S", "CentreRecord", "EnrollCode", "LogEntry", "Repository", "StationRow",
           "Tx", "open_repository",
           "serving"]


def open_repository(url: str, *, wait_s: float = WAIT_S) -> Repository:
    """Open (and migrate) the repository a database URL names. ``wait_s``: how long a request
    waits for the database (a connection, a lock) before it is answered 503."""
    if url.startswith("sqlite:///"):
        from station.centre.repo.sqlite import SqliteDialect

        repo = Repository(SqliteDialect(Path(url[len("sqlite:///"):]), wait_s=wait_s))
    elif url.startswith(("postgresql://", "postgres://")):
        from station.centre.repo.postgres import PostgresDialect

        repo = Repository(PostgresDialect(url, wait_s=wait_s))
    else:
        raise BadRequest(detail=f"unknown database URL {url!r}: use sqlite:///FILE or "
                                "postgresql://…")
    repo.migrate()
    return repo
