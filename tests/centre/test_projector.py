"""The centre's background projector gives way to pushes, yet never lets a read see less
than was pushed, and never falls more than its lag bound behind (station/centre/projector.py).
Runs on SQLite and on the real PostgreSQL server, like every centre test."""

from __future__ import annotations

import time

from station.centre.projector import CURSOR
from station.sync.engine import push

from .helpers import application, enrolled, link

PATIENCE_S = 20.0


def projected(centre) -> int:
    with centre.repo.projecting(centre.now_ms()) as tx:
        return int(tx.setting(CURSOR) or 0)


def push_one(client, station, name: str) -> str:
    receipt = application(station, name=name).receipt
    push(station.sync, link(client, station))
    return receipt


def wait_for(condition) -> bool:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_view_waits_while_pushes_arrive_and_catches_up_after(
        centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    centre.projector.quiet_s = 2.0
    station = enrolled(client, staff_headers, tmp_path, "V001", ("V001",))
    for n in range(5):
        push_one(client, station, f"王{'一二三四五'[n]}")
        assert projected(centre) < centre.repo.head()  # no re-merging while pushes come in
        time.sleep(0.05)
    # The pushes have stopped: it catches up on its own, with nobody reading.
    assert wait_for(lambda: projected(centre) == centre.repo.head())


def test_a_read_during_a_push_sees_everything_pushed(centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    centre.projector.quiet_s = 30.0  # the background projector keeps waiting
    station = enrolled(client, staff_headers, tmp_path, "V001", ("V001",))
    receipt = push_one(client, station, "王桂英")
    assert projected(centre) < centre.repo.head()
    assert [r.receipt for r in centre.find_receipt(receipt)] == [receipt]
    assert projected(centre) == centre.repo.head()


def test_the_view_never_falls_further_behind_than_its_bound(
        centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    centre.projector.quiet_s = 30.0
    centre.projector.max_lag_s = 0.5
    station = enrolled(client, staff_headers, tmp_path, "V001", ("V001",))
    push_one(client, station, "王桂英")
    first = centre.repo.head()
    caught_up = False
    deadline = time.monotonic() + PATIENCE_S
    while not caught_up and time.monotonic() < deadline:  # pushes never pause
        push_one(client, station, "张建国")
        caught_up = projected(centre) >= first
    assert caught_up
