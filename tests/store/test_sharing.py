"""One station, several programs at once: the app keeps the station open all day while a
second terminal runs ``station import`` or ``station edit`` on the same home (real
processes). What they commit must be what the open app finds."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from station.store.db import db_path
from station.store.errors import AgentExists, LastSlot, UnknownAgent
from station.store.service import Station
from station.store.vault import FAST_KDF
from tests.conftest import PASSPHRASE, station_cli


def test_the_open_app_finds_by_name_whom_another_terminal_just_imported_or_renamed(
        station, passphrase_file):
    """The name index is built once after unlock; residents a colleague imports meanwhile
    (or renames with ``station edit``) must be found by name in the open app, as they are by
    ID number. They were not found until the agent locked and unlocked the app."""
    known = station.create("resident", {"resident.name": "王桂英"})
    assert [r.id for r in station.search("wgy")] == [known.id]  # the index is built, warm
    rows = station.home.parent / "elderly.jsonl"
    rows.write_text("".join(json.dumps({"kind": "resident", "resident": {"name": name}},
                                       ensure_ascii=False) + "\n"
                            for name in ("赵秀兰", "钱德明")), encoding="utf-8")
    done = station_cli("import", str(rows), home=station.home, passphrase_file=passphrase_file)
    assert done.returncode == 0, done.stderr
    done = station_cli("edit", known.receipt, "--set", "resident.name=王桂芳",
                       home=station.home, passphrase_file=passphrase_file)
    assert done.returncode == 0, done.stderr
    assert [r.name for r in station.search("赵秀")] == ["赵秀兰"]
    assert [r.name for r in station.search("qiandeming")] == ["钱德明"]
    assert [r.name for r in station.search("王桂")] == ["王桂芳"]
    assert station.search("王桂英") == []


# Another process's `station agent remove`, caught between its delete and its commit.
REMOVING = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("DELETE FROM keyslots WHERE label=? AND kind='agent'", [sys.argv[2]])
print("deleted", flush=True)
time.sleep(1)
db.execute("COMMIT")
"""


@contextmanager
def another_terminal(script: str, *args: str, says: str) -> Iterator[None]:
    """``script`` run as another program on the station, held where it prints ``says``
    (inside its transaction) for as long as the block runs, and ended cleanly after."""
    other = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == says
        yield
    finally:
        assert other.wait(timeout=30) == 0


def test_two_agents_removing_each_other_at_once_leave_one_who_can_unlock(station):
    """李 and 张 each run ``station agent remove`` for the other at the same moment (or one
    does it in the app while the other types it in a terminal). One removal must be refused
    as the last slot; both went through, and no passphrase opened the station any more."""
    station.add_agent("张建国", "zhang's passphrase", kdf=FAST_KDF)
    with another_terminal(REMOVING, str(db_path(station.home)), "李春梅", says="deleted"), \
            pytest.raises(LastSlot):
        station.remove_agent("张建国")
    assert Station.agents_of(station.home) == ["张建国"]
    Station.open(station.home, "zhang's passphrase").close()


# Another process's `station agent add 张建国`, caught between its new slot and its commit.
ADDING = """
import sys, time
from pathlib import Path
from station.store import db as dbmod
from station.store.service import Station, _save_slot
from station.store.vault import FAST_KDF, agent_slot
station = Station.open(Path(sys.argv[1]), sys.argv[2])
slot = agent_slot("张建国", "zhang's first passphrase", station.keys.dek, FAST_KDF)
with dbmod.write(station.db):
    _save_slot(station.db, slot, station.now())
    print("added", flush=True)
    time.sleep(1)
"""


def test_an_agent_added_from_two_terminals_at_once_keeps_the_first_passphrase(station):
    """张's slot is being added in one terminal (with the passphrase 张 chose there) while
    someone adds 张 again in another: the second is refused as existing. It replaced the
    first slot, and the passphrase 张 had just been told works opened nothing."""
    with another_terminal(ADDING, str(station.home), PASSPHRASE, says="added"), \
            pytest.raises(AgentExists):
        station.add_agent("张建国", "another passphrase", kdf=FAST_KDF)
    Station.open(station.home, "zhang's first passphrase", agent="张建国").close()


def test_a_passphrase_changed_while_another_terminal_removes_the_agent_gives_no_way_back(
        station):
    """张 left and is being removed in one terminal while a passphrase change for 张 runs
    in another: the change is refused. It wrote the slot again, and 张 could still unlock."""
    station.add_agent("张建国", "zhang's passphrase", kdf=FAST_KDF)
    with another_terminal(REMOVING, str(db_path(station.home)), "张建国", says="deleted"), \
            pytest.raises(UnknownAgent):
        station.change_passphrase("a new one", agent="张建国", kdf=FAST_KDF)
    assert Station.agents_of(station.home) == ["李春梅"]
