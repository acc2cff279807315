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
        # the scheme alone: the rest of a URL may hold its password
        scheme = url.partition("://")[0][:20] if "://" in url else "?"
        raise BadRequest(detail=f"a database URL of kind {scheme!r} is not known: use "
                                "sqlite:///FILE or postgresql://…",
                         detail_zh=f"不认识 {scheme!r} 类型的数据库地址：请用 sqlite:///文件 "
                                   "或 postgresql://…")
    repo.migrate()
    return repo
