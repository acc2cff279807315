"""G1: what the UI reported saved survives a crash at any instant, and nothing is half-made.

A child process saves changes in a loop and is killed with SIGKILL at random moments
(30 kills in `make test`, 1000 in `make soak`). After each kill, every change it reported
saved is present and decrypts, every changeset is whole, every record's stored state equals
the merge of its changesets, and every local change has its sealed outbox copy.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from station.domain import merge, sample
from station.store.errors import FileGone
from station.store.home import write_atomic
from station.store.importer import import_file
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.wire.keys import SealKey
from tests.conftest import PASSPHRASE

KILLS = 1000 if os.environ.get("STATION_SOAK") else 30
TODAY = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[2]


def enrolled_station(home: Path) -> None:
    """A station with a pinned centre key, so every save also seals into the outbox."""
    station, _ = Station.init(home, station_id="V001", name="站", agent="甲",
                              passphrase=PASSPHRASE, kdf=FAST_KDF)
    centre = SealKey.generate()
    station.db.execute("INSERT INTO meta(key, value) VALUES ('centre.seal_public', ?)",
                       [centre.public_bytes().hex()])
    station.close()


def run_and_kill(home: Path, seed: int, rng: random.Random) -> list[tuple[str, str]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", str(home), PASSPHRASE, str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.0, 0.25))
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate()
    saved = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "S":  # a line cut by the kill is not a report
            saved.append((parts[1], parts[2]))
    return saved


def check_whole(station: Station, reported: list[tuple[str, str]]) -> None:
    for record_id, hlc in reported:
        row = station.db.execute("SELECT id FROM changesets WHERE record=? AND hlc=?",
                                 [record_id, hlc]).fetchone()
        assert row is not None, f"reported save {record_id}@{hlc} was lost"
    ids = [r[0] for r in station.db.execute("SELECT id FROM records")]
    for record_id in ids:
        stored = station.ledger.state(record_id)
        assert stored is not None
        assert merge.dump(stored) == merge.dump(station.ledger.rebuild(record_id)), \
            "a record's state does not match its changesets: a half-applied change"
    unsealed = station.db.execute(
        "SELECT count(*) FROM changesets WHERE local=1 AND id NOT IN "
        "(SELECT changeset FROM outbox)").fetchone()[0]
    assert unsealed == 0, "a committed change has no sealed outbox copy"


@pytest.mark.soak
@pytest.mark.timeout(7200)
def test_sigkill_at_random_moments_loses_nothing_reported_saved(tmp_path):
    home = tmp_path / "V001"
    enrolled_station(home)
    rng = random.Random(20261123)
    reported: list[tuple[str, str]] = []
    for kill in range(KILLS):
        reported += run_and_kill(home, kill, rng)
        with Station.open(home, PASSPHRASE) as station:
            check_whole(station, reported)
    assert len(reported) > KILLS  # the kills really landed among saves


def test_an_import_killed_half_way_leaves_nothing_of_the_file(tmp_path):
    """G1 for a bulk import, whose rows are built by other processes: killed half-way, the
    station keeps none of the file (no records, changesets, outbox copies or receipt
    numbers) and takes the same file whole afterwards."""
    home = tmp_path / "V001"
    enrolled_station(home)
    rows = 12_000
    path = tmp_path / "residents.csv"
    path.write_text("".join(sample.to_csv_rows(sample.residents(rows, seed=4, today=TODAY))),
                    encoding="utf-8-sig")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_importer", str(home), PASSPHRASE, str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("P ") and int(line.split()[1]) >= rows // 3:
            break
        assert line.strip() != "done", "the import finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.communicate()
    with Station.open(home, PASSPHRASE) as station:
        for table in ("records", "changesets", "outbox", "blind_index", "receipt_counters"):
            assert station.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        report = import_file(station, path)
        assert report.imported == rows and report.receipts[0].endswith("-0001")
        check_whole(station, [])
        assert station.counts()["residents"] == rows


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_save_after_the_file_left_its_path_is_refused_not_reported_saved(tmp_path, how):
    """The open app keeps writing to a deleted file (or the one a `station init --force`
    moved aside) unless told: the save must be refused, not said saved and lost."""
    home = tmp_path / "V001"
    station, _ = Station.init(home, station_id="V001", name="站", agent="甲",
                              passphrase=PASSPHRASE, kdf=FAST_KDF)
    first = station.commit_new(station.prepare("visit", {"resident.name": "张三"}))
    path = home / "station.db"
    moved = tmp_path / "elsewhere.db"
    os.replace(path, moved)
    if how == "replaced":
        path.write_bytes(moved.read_bytes())  # a copy: same bytes, another file
    with pytest.raises(FileGone) as refused:
        station.commit_new(station.prepare("visit", {"resident.name": "李四"}))
    assert "没有保存" in refused.value.message("zh")
    assert "not saved" in refused.value.message("en")
    station.close()
    os.replace(moved, path)  # put back: what was saved before is all there
    again = Station.open(home, PASSPHRASE)
    assert [s.id for s in again.list(kind="visit")] == [first.id]
    again.close()


def test_a_file_written_whole_stays_once_the_call_returns(tmp_path, monkeypatch):
    """A bundle, export or backup key is written to a temporary name and renamed; the new
    name lives in the folder, so the folder must reach the stick too before "exported" is
    said: otherwise the stick pulled out then (or a power cut) can come back without the
    file, while the station already counts the work as carried."""
    stick = tmp_path / "usb"
    stick.mkdir()
    events: list[tuple[str, object]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.fstat(fd).st_ino))
        real_fsync(fd)

    def replace(src: object, dst: object) -> None:
        real_replace(src, dst)
        events.append(("replace", str(dst)))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(stick / "V001.stb", b"sealed work")
    renamed = events.index(("replace", str(stick / "V001.stb")))
    assert ("fsync", stick.stat().st_ino) in events[renamed:]
    assert (stick / "V001.stb").read_bytes() == b"sealed work"
