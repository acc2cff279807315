"""A station's disk that fails it: full, or failing on opening. What was saved stays, the
file still opens once there is room, and the agent is told to free space, never to restore
an older backup over a station that is fine.

A full disk is made without root: SQLite's ``max_page_count`` stops the file growing, and
SQLite itself then fails the write with SQLITE_FULL, as it does when the disk is full.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlite_utils

from station.cli import cli
from station.cli.common import run
from station.domain import sample
from station.store import db as dbmod
from station.store.check import check
from station.store.errors import DiskFull
from station.store.service import Station
from tests.conftest import PASSPHRASE

TODAY = date(2026, 11, 23)


def residents(n: int, seed: int) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k != "kind"}
            for row in sample.residents(n, seed=seed, today=TODAY)]


@contextmanager
def full(db: sqlite_utils.Database) -> Iterator[None]:
    """The disk under ``db`` full: the file cannot grow by a page."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")
    try:
        yield
    finally:
        db.execute("PRAGMA max_page_count=4294967294")


def test_a_save_on_a_full_disk_says_so_and_keeps_every_earlier_save(station, home):
    kept = [station.create("resident", r).id for r in residents(3, seed=1)]
    with full(station.db), pytest.raises(DiskFull) as refused:
        for row in residents(200, seed=2):
            station.create("resident", row)
    en, zh = refused.value.message("en"), refused.value.message("zh")
    assert "is full" in en and "Free some space" in en and "backup" not in en
    assert "磁盘已满" in zh and "腾出空间" in zh
    assert not station.db.conn.in_transaction
    later = station.create("resident", residents(1, seed=3)[0])  # room again: saved for real
    station.close()
    again = Station.open(home, PASSPHRASE)
    try:
        assert {r.id for r in again.list(kind="resident")} >= {*kept, later.id}
    finally:
        again.close()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Every station database the command opens sits on a disk that fills when ``on``."""
    state = SimpleNamespace(on=False)
    opened = dbmod.connect

    def connect(path: Path, **kwargs: bool) -> sqlite_utils.Database:
        db = opened(path, **kwargs)
        if state.on:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count={pages}")
        return db

    monkeypatch.setattr(dbmod, "connect", connect)
    return state


def test_an_import_that_fills_the_disk_is_a_sentence_and_leaves_the_station_whole(
        tmp_path, capsys, passphrase_file, full_disk):
    home = tmp_path / "V001"
    base = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["init", "--station", "V001", "--name", "青石村", "--agent", "李春梅",
                     "--insecure-fast-kdf", *base]) == 0
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    small.write_text("".join(sample.to_csv_rows(sample.residents(5, today=TODAY))), "utf-8")
    big.write_text("".join(sample.to_csv_rows(sample.residents(400, seed=9, today=TODAY))),
                   "utf-8")
    assert run(cli, ["import", str(small), *base]) == 0
    capsys.readouterr()
    full_disk.on = True
    for lang, said in (("en", "is full"), ("zh", "磁盘已满")):
        assert run(cli, ["import", str(big), "--lang", lang, *base]) == 1
        err = capsys.readouterr().err
        assert said in err and "Internal error" not in err and "内部错误" not in err
        assert "OperationalError" not in err and "备份" not in err
    full_disk.on = False
    station = Station.open(home, PASSPHRASE)
    try:
        assert len(station.list(kind="resident")) == 5
        assert check(station.ledger).clean
    finally:
        station.close()


class _ShmCannotGrow(sqlite3.Connection):
    """A connection whose -shm index cannot grow, as on a disk with no room left: SQLite
    says "disk I/O error" (SQLITE_IOERR_SHMSIZE), not "full"."""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("PRAGMA journal_mode"):
            error = sqlite3.OperationalError("disk I/O error")
            error.sqlite_errorcode = 4874  # type: ignore[attr-defined]
            raise error
        return super().execute(sql, *args)


def test_opening_on_a_full_disk_says_to_free_space_not_to_restore_a_backup(
        station, home, monkeypatch):
    station.close()
    real = sqlite3.connect
    monkeypatch.setattr(dbmod.sqlite3, "connect",
                        lambda *a, **k: real(*a, **k, factory=_ShmCannotGrow))
    monkeypatch.setattr(dbmod.shutil, "disk_usage",
                        lambda _folder: SimpleNamespace(total=2 << 20, used=2 << 20, free=0))
    with pytest.raises(DiskFull) as refused:
        Station.open(home, PASSPHRASE)
    assert "corrupt" not in refused.value.message("en")
    assert "损坏" not in refused.value.message("zh") and "恢复" not in refused.value.message("zh")
