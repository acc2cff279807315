"""End to end: `station enroll` against real centres on 127.0.0.1 (no mocked server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from station.cli import cli
from station.cli.common import run
from station.store.service import Station
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, running_centre
from tests.e2e.test_sync import sync


@contextmanager
def two_centres(tmp_path: Path) -> Iterator[tuple[LiveCentre, LiveCentre]]:
    """Two town centres, each with its own keys, log and SQLite file."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with running_centre(tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}") as a, \
            running_centre(tmp_path / "b", f"sqlite:///{tmp_path / 'b.db'}") as b:
        yield a, b


def test_a_station_moved_to_another_centre_gets_that_centres_work(tmp_path, passphrase_file,
                                                                 capsys):
    """A village synced for months with one centre is enrolled with another (the town's
    server replaced, or the village moved to another town): the new centre's log holds the
    bus's visit in this village. Its cursor into the old log skipped that many entries of
    the new one, so the visit never came down and no sync said a word."""
    with two_centres(tmp_path) as (old, new):
        village = enrolled(tmp_path / "a", old, "V001")
        for i in range(4):
            village.create("resident", {"resident.name": f"旧中心居民{i}"})
        sync(village)
        village.close()
        bus = enrolled(tmp_path / "b", new, "BUS01", ["V001"])
        visited = bus.create("resident", {"resident.name": "新中心的居民"}, scope="V001")
        sync(bus)
        home = tmp_path / "a" / "V001"
        args = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
        assert run(cli, ["enroll", new.code("V001"), *args]) == 0, capsys.readouterr().err
        assert run(cli, ["sync", *args]) == 0, capsys.readouterr().err
        with Station.open(home, PASSPHRASE) as st:
            assert st.get(visited.id).name == "新中心的居民"
