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

import errno
import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from station.domain.chinatime import china_now
from station.domain.errors import StationError
from station.store import db as dbmod
from station.store.errors import (
    BackupFailed,
    CorruptDatabase,
    DamagedBackup,
    DamagedStation,
    NotABackup,
    NotAStation,
    RestoreFailed,
    RestoreOverStation,
    refuse_nul,
)
from station.store.home import CALENDAR_OVERRIDES, TRANSPORT_KEY, write_private

# the files of a station's home that go with its database: the key that signs its sync
# requests, and the working days entered by hand where the official calendar has none yet
ALONGSIDE = (TRANSPORT_KEY, CALENDAR_OVERRIDES)

PART = ".part"
# The day a backup is put back, the laptop it replaces may have given out receipt numbers
# the backup never saw (this morning's, synced or not, written on residents' slips). The
# restored station starts that day's numbers here, far above a village's day of work, so
# none is given twice; the numbers pulled back from the centre later only push it higher.
RESTORE_DAY_FIRST = 5001
# A half-written copy is somebody's backup under way until it is this old: a backup takes
# minutes, and another laptop's process (the stick moves) cannot be asked whether it lives.
STALE_AFTER_S = 24 * 3600


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
    part: Path | None = None
    try:
        refuse_nul(into)  # pasted into the app's folder box: said in words, as OSErrors are
        if into.exists() and not into.is_dir():
            raise BackupFailed(path=str(into), detail="it is not a folder",
                               detail_zh="它不是文件夹")
        _sweep_stale(into, station)
        part = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=PART, dir=into))  # 0700
        copy = part / dbmod.DB_NAME
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db.execute("VACUUM INTO ?", [str(copy)])  # an empty file may be vacuumed into
        _sync(copy)
        for alongside in ALONGSIDE:
            if (home / alongside).is_file():
                write_private(part / alongside, (home / alongside).read_bytes())
        return _settle(part, into, name)
    except OSError as exc:
        _drop_part(part)
        raise BackupFailed.writing(exc, path=str(into)) from None
    except sqlite3.Error as exc:  # the copy itself: a full or removed stick
        _drop_part(part)
        raise _copy_failed(exc, into) from None


def _copy_failed(exc: sqlite3.Error, into: Path) -> BackupFailed:
    """Why SQLite could not write the copy: a full stick in words in both languages (SQLite
    says it in English only), anything else as SQLite said it."""
    if dbmod.disk_full(exc, into / dbmod.DB_NAME):
        return BackupFailed.writing(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
                                    path=str(into))
    return BackupFailed(path=str(into), detail=str(exc), detail_zh=f"SQLite 报告：{exc}")


def _sweep_stale(into: Path, station: str) -> None:
    """Remove what a crashed backup of this station left in ``into`` (its ``.part``
    folder), once it is a day old; a younger one may be another backup still writing."""
    if not into.is_dir():
        return
    cutoff = time.time() - STALE_AFTER_S
    for left in into.glob(f".{station}-backup-*{PART}"):
        try:
            if left.is_dir() and not left.is_symlink() and left.lstat().st_mtime < cutoff:
                shutil.rmtree(left, ignore_errors=True)
        except OSError:
            continue  # gone meanwhile, or not ours to look at: left as it is


def _settle(part: Path, into: Path, name: str) -> Path:
    """Give the finished copy its name: ``name``, or the next free ``name-2``, ``-3``…
    when a backup made in the same second (``b`` pressed twice, a scheduled one beside a
    hand-made one) has it, even if that one took it after the name was looked at. A rename
    onto a folder that holds anything fails rather than replace or merge into it."""
    while True:
        target = _free_name(into, name)
        try:
            os.rename(part, target)
            return target
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise


def _drop_part(part: Path | None) -> None:
    """This backup's own half-written copy, and nothing else."""
    if part is not None:
        shutil.rmtree(part, ignore_errors=True)


def _free_name(into: Path, name: str) -> Path:
    """The first of ``name``, ``name-2``, ``-3``… that nothing in ``into`` has yet."""
    target, n = into / name, 1
    while os.path.lexists(target):
        n += 1
        target = into / f"{name}-{n}"
    return target


@dataclass(frozen=True)
class Restored:
    """A station put back: its id, and the receipt number it gives out next today."""

    station: str
    next_receipt: str


def restore(source: Path, home: Path) -> Restored:
    """Put the backup in folder ``source`` into ``home``, which must hold no station.
    The copy is checked as a station database before it is put in place, and nothing is
    left in ``home`` if it is not one."""
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
        station = _checked_copy(part, copy)
        next_receipt = _clear_of_the_old_laptop(part, station)
        for name in ALONGSIDE:
            if (source / name).is_file() and not (home / name).exists():
                write_private(home / name, (source / name).read_bytes())
        os.replace(part, target)
    except OSError as exc:
        raise RestoreFailed.writing(exc, path=str(home)) from None
    finally:
        _remove(part)
    return Restored(station, next_receipt)


def _checked_copy(part: Path, copy: Path) -> str:
    """The station id of the copy ``part`` taken of the backup's ``copy``; a damaged copy
    is said of the backup, a newer one as made by a newer station."""
    try:
        return _station_in(part)
    except (CorruptDatabase, NotAStation, DamagedStation):
        raise DamagedBackup(path=str(copy)) from None


def _station_in(path: Path) -> str:
    """The station id of the database at ``path``, once it is checked as a station's."""
    db = dbmod.connect(path)
    try:
        dbmod.check_station(db)
        dbmod.check_schema(db)
        return str(db.execute("SELECT value FROM meta WHERE key='station'").fetchone()[0])
    finally:
        db.close()


def _clear_of_the_old_laptop(path: Path, station: str) -> str:
    """Start today's receipt numbers at ``RESTORE_DAY_FIRST`` (see there); the first one
    given out next. Written through to the file: its -wal is not moved into place."""
    day = china_now().strftime("%Y%m%d")
    db = dbmod.connect(path)
    try:
        with dbmod.write(db):
            (last,) = db.execute(
                "INSERT INTO receipt_counters(day, n) VALUES (?, ?) ON CONFLICT(day) "
                "DO UPDATE SET n = max(n, excluded.n) RETURNING n",
                [day, RESTORE_DAY_FIRST - 1]).fetchone()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return f"{station}-{day}-{last + 1:04d}"


def _remove(db_file: Path) -> None:
    """A database file that is not in use, with its -wal and -shm."""
    for suffix in ("", "-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)


def _sync(path: Path) -> None:
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())
