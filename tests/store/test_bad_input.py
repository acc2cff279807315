"""Bad input gets a clear sentence and changes nothing: not a station, not SQLite, corrupt,
an existing vault under `init`, unsent work under `init --force`."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat

import pytest

from station.store.db import db_path
from station.store.errors import (
    CorruptDatabase,
    ForeignWal,
    NotAStation,
    StationExists,
    TransportKeyDamaged,
    UnsentWork,
    WalMissing,
)
from station.store.service import Station
from station.store.vault import FAST_KDF
from tests.conftest import PASSPHRASE


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_directory_without_a_station(tmp_path, now):
    with pytest.raises(NotAStation) as exc:
        Station.open(tmp_path / "empty", PASSPHRASE, now=now)
    assert "station init" in exc.value.message("en")


def test_a_file_that_is_not_sqlite(tmp_path, now):
    home = tmp_path / "h"
    home.mkdir()
    db_path(home).write_bytes("这不是数据库".encode() * 100)
    before = digest(db_path(home))
    with pytest.raises(CorruptDatabase) as exc:
        Station.open(home, PASSPHRASE, now=now)
    assert "not an SQLite database" in exc.value.message("en")
    assert "不是 SQLite 数据库" in exc.value.message("zh")
    assert digest(db_path(home)) == before


def test_a_corrupt_database_is_refused_untouched(station, home, now):
    for i in range(30):
        station.create("resident", {"resident.name": f"居民{i}"})
    station.close()
    data = bytearray(db_path(home).read_bytes())
    page = 4096
    for offset in range(2 * page + 8, len(data) - page, page):  # trash the b-tree pages
        data[offset:offset + 64] = b"\xff" * 64
    db_path(home).write_bytes(bytes(data))
    before = digest(db_path(home))
    with pytest.raises(CorruptDatabase) as exc:
        Station.open(home, PASSPHRASE, now=now)
    assert "corrupt" in exc.value.message("en")
    assert "已损坏" in exc.value.message("zh")
    assert digest(db_path(home)) == before


@pytest.mark.parametrize("damage", ["cut in half", "bytes flipped"])
def test_a_damaged_database_says_how_to_restore_a_backup(station, home, now, damage):
    for i in range(60):
        station.create("resident", {"resident.name": f"居民{i}"})
    station.close()
    data = bytearray(db_path(home).read_bytes())
    if damage == "cut in half":
        data = data[:len(data) // 2]
    else:
        for offset in range(4096 + 100, len(data), 4096):  # a few bytes of every page
            data[offset:offset + 4] = bytes(b ^ 0x55 for b in data[offset:offset + 4])
    db_path(home).write_bytes(bytes(data))
    with pytest.raises(CorruptDatabase) as exc:
        Station.open(home, PASSPHRASE, now=now)
    for lang in ("en", "zh"):
        message = exc.value.message(lang)
        assert "station restore" in message and str(db_path(home)) in message
        assert "re-sync" not in message and "从备份或同步恢复" not in message


def test_another_stations_wal_copied_beside_a_closed_station_never_gets_into_it(
        station, home, tmp_path, now):
    other = tmp_path / "V002"
    theirs, _ = Station.init(other, station_id="V002", name="红岩村", agent="甲",
                             passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    for i in range(30):
        theirs.create("resident", {"resident.name": f"红岩{i}"})
    ours = [station.create("resident", {"resident.name": f"居民{i}"}).id for i in range(30)]
    station.close()
    wal = home / "station.db-wal"
    wal.write_bytes((other / "station.db-wal").read_bytes())  # theirs is open: it holds frames
    theirs.close()
    before = digest(db_path(home))
    for lang, said in (("en", "belongs to another station"), ("zh", "属于另一个站点")):
        with pytest.raises(ForeignWal) as refused:  # each time, station.db as it was
            Station.open(home, PASSPHRASE, now=now)
        assert said in refused.value.message(lang) and str(wal) in refused.value.message(lang)
        assert digest(db_path(home)) == before
    wal.unlink()
    home.joinpath("station.db-shm").unlink(missing_ok=True)
    again = Station.open(home, PASSPHRASE, now=now)
    try:
        assert {r.id for r in again.list(kind="resident")} == set(ours)
    finally:
        again.close()


@pytest.mark.parametrize("damage", ["deleted", "cut short"])
def test_a_wal_lost_after_a_crash_is_said_not_opened_as_a_station_with_fewer_records(
        station, home, tmp_path, now, damage):
    saved = {station.create("resident", {"resident.name": f"居民{i}"}).id for i in range(5)}
    crashed, whole = tmp_path / "crashed", tmp_path / "whole"
    for folder in (crashed, whole):  # the folder as a power cut leaves it: -wal and -shm
        shutil.copytree(home, folder)
    wal = crashed / "station.db-wal"
    if damage == "deleted":
        wal.unlink()
    else:
        os.truncate(wal, wal.stat().st_size // 2)
    before = digest(db_path(crashed))
    for lang, said in (("en", "missing or cut short"), ("zh", "不见了或被截短了")):
        with pytest.raises(WalMissing) as refused:
            Station.open(crashed, PASSPHRASE, now=now)
        message = refused.value.message(lang)
        assert said in message and str(wal) in message and "station restore" in message
    assert digest(db_path(crashed)) == before
    station.close()
    (crashed / "station.db-shm").unlink()  # as the sentence says: what the database holds
    Station.open(crashed, PASSPHRASE, now=now).close()
    kept = Station.open(whole, PASSPHRASE, now=now)  # the same crash, its -wal kept
    try:
        assert {r.id for r in kept.list(kind="resident")} == saved
    finally:
        kept.close()


@pytest.mark.parametrize("damage", ["missing", "garbled", "not text"])
def test_a_missing_or_damaged_sync_key_file_is_named_with_where_to_get_it_back(
        station, home, damage):
    key = home / "transport.key"
    if damage == "missing":
        key.unlink()
    else:
        key.write_bytes(b"\x00\xff" * 20 if damage == "not text" else b"not a key\n")
    for lang, said in (("en", "is missing or damaged"), ("zh", "丢失或已损坏")):
        with pytest.raises(TransportKeyDamaged) as refused:
            station.sync.transport()
        message = refused.value.message(lang)
        assert said in message and str(key) in message and "station enroll" in message


def test_init_over_an_existing_station_needs_force(station, home, now):
    station.close()
    before = digest(db_path(home))
    with pytest.raises(StationExists) as exc:
        Station.init(home, station_id="V002", name="另一站", agent="甲", passphrase=PASSPHRASE,
                     kdf=FAST_KDF, now=now)
    assert "--force" in exc.value.message("en")
    assert digest(db_path(home)) == before


def test_init_force_refuses_while_unsent_work_remains(station, home, now):
    station.create("resident", {"resident.name": "王桂英"})
    station.close()
    before = digest(db_path(home))
    with pytest.raises(UnsentWork) as exc:
        Station.init(home, station_id="V001", name="站", agent="甲", passphrase=PASSPHRASE,
                     kdf=FAST_KDF, force=True, now=now)
    assert "1 change has not reached the town centre" in exc.value.message("en")
    assert "bundle export" in exc.value.message("en")
    assert digest(db_path(home)) == before


def test_init_force_keeps_the_old_vault_beside_the_new_one(station, home, now):
    station.close()  # nothing was ever written: nothing unsent
    new, _ = Station.init(home, station_id="V002", name="新站", agent="甲",
                          passphrase=PASSPHRASE, kdf=FAST_KDF, force=True, now=now)
    assert new.station_id == "V002"
    new.close()
    assert list(home.glob("station.db.replaced-*"))


def test_a_new_station_is_readable_by_its_owner_only_whatever_the_umask(tmp_path, now):
    """Only ciphertext is inside, but other accounts on a shared laptop need not copy it to
    try passphrases: the home, the database and its -wal/-shm are this user's only."""
    old = os.umask(0o022)
    try:
        home = tmp_path / "V009"
        station, _ = Station.init(home, station_id="V009", name="东岭村便民服务站",
                                  agent="甲", passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
        station.create("resident", {"resident.name": "王桂英"})
        files = [p for p in home.iterdir() if p.name.startswith("station.db")]
        assert {p.name for p in files} >= {"station.db", "station.db-wal", "station.db-shm"}
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        station.close()
    finally:
        os.umask(old)
