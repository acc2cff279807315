"""Centre storage: ``open_repository(url)`` for ``sqlite:///path`` or ``postgresql://…``."""

from __future__ import annotations

from pathlib import Path

from station.centre.errors import BadRequest
from station.centre.repo.base import (
    CentreRecord,
    EnrollCode,
    LogEntry,
    Repository,
    StationRow,
    Tx,
)

__all__ = ["CentreRecord", "EnrollCode", "LogEntry", "Repository", "StationRow", "Tx",
           "open_repository"]


def open_repository(url: str) -> Repository:
    """Open (and migrate) the repository a database URL names."""
    if url.startswith("sqlite:///"):
        from station.centre.repo.sqlite import SqliteDialect

        repo = Repository(SqliteDialect(Path(url[len("sqlite:///"):])))
    elif url.startswith(("postgresql://", "postgres://")):
        from station.centre.repo.postgres import PostgresDialect

        repo = Repository(PostgresDialect(url))
    else:
        raise BadRequest(detail=f"unknown database URL {url!r}: use sqlite:///FILE or "
                                "postgresql://…")
    repo.migrate()
    return repo
