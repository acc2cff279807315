"""A copy of a station to keep elsewhere (a USB stick, another disk), and putting it back.

Several error messages tell the agent to restore a backup: this is how one is made. Copying
``station.db`` by hand while the app runs misses what still sits in its ``-wal`` file (the
newest saves) or catches a page half-written. SQLite's ``VACUUM INTO`` reads one consistent
snapshot whatever other connections write meanwhile, so a backup can be taken with the app
open. A backup is a folder holding that copy, the transport key and the calendar overrides:
every personal field in the copy is encrypted (G2), opening it needs an agent's passphrase
or the recovery key, and the transport key only signs sync requests (revocable at the
centre), so a restored laptop syncs without enrolling again.

A restore goes into a folder with no station in it — never over one: a stale ``-wal`` left
beside a replaced database would be replayed into it. Work saved after the backup and
already sent comes back from the centre at the next sync (``SyncState.own_held_upto``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import sqlite_utils

from station.domain.chinatime import china_now
from station.domain.errors import StationError
from station.store import db as dbmod
from station.store.errors import (
    BackupFailed,
    NotABackup,
    RestoreFailed,
    RestoreOverStation,
    refuse_nul,
)
from station.store.home import CALENDAR_OVERRIDES, TRANSPORT_KEY, write_private

# the files of a station's home that go with its database: the key that signs its sync
# requests, and the working days entered by hand where the official calendar has none yet
ALONGSIDE = (TRANSPORT_KEY, CALENDAR_OVERRIDES)


def backup(home: Path, into: Path) -> Path:
    """Write a backup of the station in ``home`` as a new folder in ``into``, named for the
    station and the time; return that folder. No passphrase: nothing is decrypted."""
    db = dbmod.connect(dbmod.db_path(home))
    try:
        dbmod.check_station(db)
        return _backup(db, home, into)
    finally:
        db.close()


def _backup(db: sqlite_utils.Database, home: Path, into: Path) -> Path:
    station = db.execute("SELECT value FROM meta WHERE key='station'").fetchone()[0]
    name = f"{station}-backup-{china_now().strftime('%Y%m%d-%H%M%S')}"
    part = into / f".{name}.part"
    try:
        refuse_nul(into)  # pasted into the app's folder box: said in words, as OSErrors are
        target = _free_name(into, name)
        if into.exists() and not into.is_dir():
            raise BackupFailed(path=str(into), detail="it is not a folder",
                               detail_zh="它不是文件夹")
        shutil.rmtree(part, ignore_errors=True)  # what a crash left: never half a backup
        part.mkdir(mode=0o700)
        copy = part / dbmod.DB_NAME
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db.execute("VACUUM INTO ?", [str(copy)])  # an empty file may be vacuumed into
        _sync(copy)
        for name in ALONGSIDE:
            if (home / name).is_file():
                write_private(part / name, (home / name).read_bytes())
        os.replace(part, target)
    except OSError as exc:
        shutil.rmtree(part, ignore_errors=True)
        raise BackupFailed.writing(exc, path=str(into)) from None
    except sqlite3.Error as exc:  # the copy itself: a full or removed stick
        shutil.rmtree(part, ignore_errors=True)
        raise BackupFailed(path=str(into), detail=str(exc),
                           detail_zh=f"SQLite 报告：{exc}") from None
    return target


def _free_name(into: Path, name: str) -> Path:
    """The backup's folder: ``name``, or ``name-2``, ``-3``… when a backup made in the same
    second (``b`` pressed twice, a scheduled one beside a hand-made one) already has it, so
    each is kept and none is refused or replaced."""
    target, n = into / name, 1
    while os.path.lexists(target):
        n += 1
        target = into / f"{name}-{n}"
    return target


def restore(source: Path, home: Path) -> str:
    """Put the backup in folder ``source`` into ``home``, which must hold no station;
    return the station's id. The copy is checked as a station database before it is put
    in place, and nothing is left in ``home`` if it is not one."""
    copy = source / dbmod.DB_NAME
    if not copy.is_file():
        raise NotABackup(path=str(source))
    target = dbmod.db_path(home)
    if target.exists():
        try:
            there = _station_in(target)
        except StationError:  # damaged, or another program's: still never replaced
            there = "?"
        raise RestoreOverStation(home=str(home), station=there)
    part = home / f".{dbmod.DB_NAME}.restoring"
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove(part)  # what a crash left
        with os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out, \
                copy.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        station = _station_in(part)  # corrupt, not a station, newer: refused here
        for name in ALONGSIDE:
            if (source / name).is_file() and not (home / name).exists():
                write_private(home / name, (source / name).read_bytes())
        os.replace(part, target)
    except OSError as exc:
        raise RestoreFailed.writing(exc, path=str(home)) from None
    finally:
        _remove(part)
    return station


def _station_in(path: Path) -> str:
    """The station id of the database at ``path``, once it is checked as a station's."""
    db = dbmod.connect(path)
    try:
        dbmod.check_station(db)
        dbmod.check_schema(db)
        return str(db.execute("SELECT value FROM meta WHERE key='station'").fetchone()[0])
    finally:
        db.close()


def _remove(db_file: Path) -> None:
    """A database file that is not in use, with its -wal and -shm."""
    for suffix in ("", "-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)


def _sync(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())
