"""End to end: `station enroll` against real centres on 127.0.0.1 (no mocked server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run
from station.store.service import Station
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, new_station, running_centre
from tests.e2e.test_sync import sync
from tests.served import answering, free_port

LOGIN_PAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 26\r\n\r\n"
              b"<html>Wi-Fi login</html>\r\n")


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


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "not enrolled"), ("zh", "本站尚未登记")])
def test_enrolling_when_the_centre_cannot_be_reached_says_the_station_is_not_enrolled(
        tmp_path, live_centre, passphrase_file, capsys, lang, said):
    """No link, then a Wi-Fi login page where the centre should be: each said as an
    enrollment that did not happen, to be run again with the same code. They said "saved
    work will be sent when the link is back" and "work is kept for the next sync", and
    the agent waited for a sync that cannot run before the station is enrolled."""
    new_station(tmp_path, "V001").close()
    code = live_centre.code("V001")
    args = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file),
            "--lang", lang]
    token = code[code.index("#"):]
    with answering(lambda conn: (conn.recv(65536), conn.sendall(LOGIN_PAGE))) as portal:
        for url in (f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{portal}"):
            assert run(cli, ["enroll", url + token, *args]) == 3
            err = capsys.readouterr().err
            assert said in err and "Traceback" not in err
            assert "will be sent" not in err and "下次" not in err
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        assert not st.sync.enrolled()
    assert run(cli, ["enroll", code, *args]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("damage", ["missing", "garbled"])
def test_a_lost_sync_key_file_is_said_and_enrolling_again_brings_syncing_back(
        tmp_path, live_centre, passphrase_file, capsys, damage):
    village = enrolled(tmp_path, live_centre, "V001")
    made = village.create("resident", {"resident.name": "王桂英"})
    village.close()
    home = tmp_path / "V001"
    key = home / "transport.key"
    if damage == "missing":
        key.unlink()
    else:
        key.write_text("not a key\n")
    args = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    for lang, said in (("en", "is missing or damaged"), ("zh", "丢失或已损坏")):
        assert run(cli, ["sync", "--lang", lang, *args]) == 1
        err = capsys.readouterr().err
        assert said in err and "Internal error" not in err and "内部错误" not in err
    assert run(cli, ["enroll", live_centre.code("V001"), *args]) == 0, capsys.readouterr().err
    assert run(cli, ["sync", *args]) == 0, capsys.readouterr().err
    with Station.open(home, PASSPHRASE) as st:
        assert st.get(made.id).name == "王桂英" and st.sync.unsent() == 0
