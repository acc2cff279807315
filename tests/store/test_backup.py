"""`station backup` / `station restore`: a copy taken with the app open holds every save,
stays encrypted, and goes back only where no station would be overwritten."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run
from station.store import db as dbmod
from station.store.backup import backup, restore
from station.store.check import check
from station.store.db import db_path
from station.store.errors import (
    BackupFailed,
    DamagedBackup,
    NotABackup,
    RestoreOverStation,
)
from station.store.home import CALENDAR_OVERRIDES, TRANSPORT_KEY
from station.store.service import Station
from tests.conftest import PASSPHRASE

PEOPLE = [("王桂英", "11010519491231002X", "13912345678"),
          ("赵秀兰", "110105198001011238", "13987654321")]


def _fill(station: Station) -> list[str]:
    return [station.create("resident", {"resident.name": name, "resident.id_number": idn,
                                        "resident.phone": phone}).id
            for name, idn, phone in PEOPLE]


def test_a_backup_taken_with_the_station_open_holds_every_save(station, home, tmp_path, now):
    ids = _fill(station)  # committed, and still in the -wal file: the station is open
    overrides = home / CALENDAR_OVERRIDES  # working days entered by hand go along too
    overrides.write_text('{"source": "镇政府通知", "days": {"2027-01-01": "holiday"}}',
                         encoding="utf-8")
    assert Path(f"{db_path(home)}-wal").stat().st_size > 0
    (tmp_path / "usb").mkdir()
    made = backup(home, tmp_path / "usb")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    for name in ("station.db", TRANSPORT_KEY):
        assert stat.S_IMODE((made / name).stat().st_mode) == 0o600
    raw = (made / "station.db").read_bytes()
    for name, idn, phone in PEOPLE:  # G2: as encrypted as the station itself
        for secret in (name, name[:2], idn, phone):
            assert secret.encode() not in raw
    assert restore(made, tmp_path / "new").station == "V001"
    with Station.open(tmp_path / "new", PASSPHRASE, now=now) as again:
        assert [again.get(i).name for i in ids] == [p[0] for p in PEOPLE]
    for name in (TRANSPORT_KEY, CALENDAR_OVERRIDES):
        assert (tmp_path / "new" / name).read_bytes() == (home / name).read_bytes()


def test_a_restore_never_overwrites_a_station(station, home, tmp_path):
    _fill(station)
    made = backup(home, tmp_path)
    station.close()
    before = db_path(home).read_bytes()
    with pytest.raises(RestoreOverStation) as exc:
        restore(made, home)
    assert "V001" in exc.value.message("en") and "新的文件夹" in exc.value.message("zh")
    assert db_path(home).read_bytes() == before


def _damaged_page(body: bytes) -> bytes:
    return body[:4096] + os.urandom(4096) + body[8192:]


def _cut_short(body: bytes) -> bytes:
    return body[:len(body) // 3]


@pytest.mark.parametrize("damage", [_damaged_page, _cut_short])
def test_what_is_not_a_backup_is_refused_and_leaves_nothing(station, home, tmp_path, damage):
    """A page damaged on the stick, or the folder copied off it only in part: said of the
    backup, with what to do. It named the restore's own temporary file and said to 'restore
    it from a backup', which is what the agent was doing."""
    with pytest.raises(NotABackup):
        restore(tmp_path / "nothing-here", tmp_path / "new")
    made = backup(home, tmp_path)
    station.close()
    (made / "station.db").write_bytes(damage((made / "station.db").read_bytes()))
    with pytest.raises(DamagedBackup) as exc:
        restore(made, tmp_path / "new")
    assert str(made / "station.db") in exc.value.message("en")
    assert "copy the whole backup folder" in exc.value.message("en")
    assert "重新复制整个备份文件夹" in exc.value.message("zh")
    assert not db_path(tmp_path / "new").exists()
    assert [p.name for p in (tmp_path / "new").iterdir()] == []


def test_a_backup_that_cannot_be_written_says_why_and_leaves_no_half(station, home, tmp_path):
    with pytest.raises(BackupFailed) as exc:
        backup(home, tmp_path / "no" / "such" / "stick")
    assert "does not exist" in exc.value.message("en")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(BackupFailed) as exc:
        backup(home, not_a_folder)
    assert "不是文件夹" in exc.value.message("zh")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class _StickFills(sqlite3.Connection):
    """A connection whose copy onto the stick runs out of room half-way, as SQLite says it
    when the stick is full."""

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("VACUUM INTO"):
            Path(args[0][0]).write_bytes(b"SQLite format 3\x00" + bytes(4000))  # half a copy
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorcode = 13  # type: ignore[attr-defined]
            raise error
        return super().execute(sql, *args)


def test_a_backup_onto_a_full_stick_says_it_is_full_and_leaves_nothing_that_looks_whole(
        station, home, tmp_path, capsys, monkeypatch):
    _fill(station)
    station.close()
    stick = tmp_path / "usb"
    stick.mkdir()
    real = sqlite3.connect
    monkeypatch.setattr(dbmod.sqlite3, "connect",
                        lambda *a, **k: real(*a, **k, factory=_StickFills))
    for lang, said in (("en", "the disk or USB stick is full"), ("zh", "磁盘或 U 盘已满")):
        assert run(cli, ["backup", str(stick), "--home", str(home), "--lang", lang]) == 1
        err = capsys.readouterr().err
        assert said in err and "database or disk is full" not in err
    assert list(stick.iterdir()) == []


def test_backup_and_restore_from_the_command_line(station, home, tmp_path, capsys,
                                                  passphrase_file):
    _fill(station)
    station.close()
    assert run(cli, ["backup", str(tmp_path / "usb"), "--home", str(home), "--lang", "zh"]) == 1
    assert "不存在" in capsys.readouterr().err
    (tmp_path / "usb").mkdir()
    assert run(cli, ["backup", str(tmp_path / "usb"), "--home", str(home)]) == 0
    err = capsys.readouterr().err
    (made,) = (tmp_path / "usb").iterdir()
    assert f"Backed up to {made}" in err and "station restore" in err
    new = tmp_path / "new"
    assert run(cli, ["restore", str(made), "--home", str(new)]) == 0
    err = capsys.readouterr().err
    assert "Restored station V001" in err
    assert re.search(r"receipt numbers start at V001-\d{8}-5001, so none repeats", err)
    assert run(cli, ["restore", str(made), "--home", str(new), "--lang", "zh"]) == 1
    assert "没有覆盖" in capsys.readouterr().err
    assert run(cli, ["list", "--json", "--home", str(new), "--passphrase-file",
                     str(passphrase_file)]) == 0
    assert "王桂英" in capsys.readouterr().out


def test_a_backup_taken_while_another_program_writes_is_whole_at_one_moment(station, home,
                                                                            tmp_path, now):
    """A sync or the app saving in another program during the copy, and backups made in the
    same second: each is kept, and restores to a station whose records all match their
    changes. The second one in a second was refused, as if its folder were a file."""
    station.close()
    stop = threading.Event()
    saved: list[int] = []

    def writer() -> None:
        with Station.open(home, PASSPHRASE, now=now) as busy:
            while not stop.is_set():
                busy.create("resident", {"resident.name": "王桂英"})
                saved.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        made = []
        while len(made) < 3:
            if len(saved) > 5 * (len(made) + 1):
                made.append(backup(home, tmp_path))
    finally:
        stop.set()
        thread.join(timeout=60)
    counts = []
    for n, folder in enumerate(made):
        restore(folder, tmp_path / f"new{n}")
        with Station.open(tmp_path / f"new{n}", PASSPHRASE, now=now) as again:
            assert check(again.ledger).clean
            counts.append(again.count())
            assert again.db.execute("SELECT count(*) FROM changesets").fetchone()[0] == \
                counts[-1]  # one change a save, each with its record: no half of one
    assert counts == sorted(counts) and counts[0] > 0


@pytest.fixture
def one_second(monkeypatch):
    """Every backup in this test is made in the same second, as two processes may be."""
    import datetime as dt

    import station.store.backup as backup_module
    moment = dt.datetime(2026, 11, 23, 9, 30, 0)
    monkeypatch.setattr(backup_module, "china_now", lambda: moment)
    return "V001-backup-20261123-093000"


def test_another_backup_finishing_in_the_same_second_meanwhile_keeps_both_whole(
        station, home, tmp_path, monkeypatch, one_second):
    """A second backup starts and finishes while the first is still copying (a scheduled
    one beside a hand-made one): it wiped the first one's half-written copy, which then
    failed, and both wanted the same final name."""
    import station.store.backup as backup_module
    _fill(station)
    real_sync, inner = backup_module._sync, []

    def meanwhile(path: Path) -> None:
        real_sync(path)
        if not inner:
            inner.append(None)
            inner[0] = backup(home, tmp_path)  # the other process, start to end

    monkeypatch.setattr(backup_module, "_sync", meanwhile)
    outer = backup(home, tmp_path)
    assert {inner[0].name, outer.name} == {one_second, f"{one_second}-2"}
    for n, folder in enumerate((inner[0], outer)):
        restore(folder, tmp_path / f"new{n}")
        with Station.open(tmp_path / f"new{n}", PASSPHRASE) as again:
            assert again.count() == len(PEOPLE)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_crashed_backups_copy_is_removed_only_once_it_is_a_day_old(station, home, tmp_path,
                                                                    one_second):
    writing = tmp_path / f".{one_second}.part"  # another process's, still being written
    writing.mkdir()
    (writing / "station.db").write_bytes(b"half")
    crashed = tmp_path / ".V001-backup-20261120-080000.abc.part"
    crashed.mkdir()
    two_days_ago = os.stat(crashed).st_mtime - 2 * 24 * 3600
    os.utime(crashed, (two_days_ago, two_days_ago))
    made = backup(home, tmp_path)
    assert made.name == one_second and (made / "station.db").stat().st_size > 4
    assert (writing / "station.db").read_bytes() == b"half"
    assert not crashed.exists()
