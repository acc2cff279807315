"""Sync when the network misbehaves, end to end against a real centre: a link that drops in
the middle of a reply, a centre that goes away and comes back under ``sync --watch``, and two
syncs of one station at once. The proxy between them is real TCP; nothing is mocked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from station.cli import cli
from station.cli.common import run
from station.store.service import Station
from station.sync.engine import Progress, sync_once
from tests.conftest import PASSPHRASE, stop_process
from tests.e2e.conftest import ROOT, LiveCentre, Proxy, enrolled, link


def test_a_scheduled_sync_during_the_apps_sync_says_it_is_busy_and_doubles_nothing(
        tmp_path, live_centre: LiveCentre, capsys):
    """A cron ``station sync --unattended`` that starts while the app's sync is half-way
    through does not start a second push of the same outbox (twice the traffic on a village
    link, and the app's report 'pushed 0, the centre already had them'): it says another
    sync is under way and exits 3 (work kept), and the app's sync brings everything once."""
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    made = [village.create("resident", {"resident.name": f"居民{i}"}) for i in range(30)]
    cron: list[tuple[int, str, str]] = []

    def meanwhile(progress: Progress) -> None:
        if not cron:  # the app's first batch is through: now the scheduled sync starts
            code = run(cli, ["sync", "--unattended", "--json", "--home",
                             str(tmp_path / "V001")])
            out, err = capsys.readouterr()
            cron.append((code, out, err))

    with link(village) as lk:
        report = sync_once(village.sync, lk, station=village, progress=meanwhile)
    code, out, err = cron[0]
    assert code == 3 and out == "", err
    assert "Another sync of this station is under way" in err and "Traceback" not in err
    assert (report.pushed, report.duplicates) == (30, 0)  # the app sent them all, once
    assert village.sync.unsent() == 0 and village.sync.kept() == 0
    with link(bus) as lk:
        assert sync_once(bus.sync, lk, station=bus).pulled == 30
    assert sorted(bus.get(r.id).name for r in made) == sorted(f"居民{i}" for i in range(30))
    # once the app's sync is over, the next scheduled one runs as usual
    assert run(cli, ["sync", "--unattended", "--json", "--home", str(tmp_path / "V001")]) == 0
    assert json.loads(capsys.readouterr().out)["pushed"] == 0




@pytest.mark.parametrize("watch", [[], ["--watch"]], ids=["once", "watch"])
def test_ctrl_c_on_a_stalled_link_stops_the_sync_at_once_and_keeps_the_work(
        tmp_path, live_centre: LiveCentre, proxy: Proxy, passphrase_file, watch):
    """The link stalls with a push on the wire (a village link that holds the connection
    and carries nothing). Ctrl+C says the sync stopped and ends it at once, with the work
    still to send; it waited for the stalled request and its retries, a minute in which
    the agent saw nothing happen and would close the window."""
    village = enrolled(tmp_path, live_centre, "V001", url=proxy.url)
    village.create("resident", {"resident.name": "郑大爷"})
    village.close()
    link_back = threading.Event()
    proxy.forge = lambda request: link_back.wait(120) and None  # holds every request
    proc = subprocess.Popen(
        [sys.executable, "-m", "station", "sync", *watch, "--lang", "en", "--home",
         str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 30
        while b"POST /v1/push" not in proxy.upstream and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b"POST /v1/push" in proxy.upstream, "the sync never sent its push"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        link_back.set()
        stop_process(proc)
    assert proc.returncode == 130 and "Traceback" not in err.decode()
    assert "Sync stopped" in err.decode() and "unsent work stays" in err.decode()
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        assert st.sync.unsent() == 1
