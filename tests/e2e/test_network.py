"""Sync when the network misbehaves, end to end against a real centre: a link that drops in
the middle of a reply, a centre that goes away and comes back under ``sync --watch``, and two
syncs of one station at once. The proxy between them is real TCP; nothing is mocked."""

from __future__ import annotations

import json

from station.cli import cli
from station.cli.common import run
from station.sync.engine import Progress, sync_once
from tests.e2e.conftest import LiveCentre, enrolled, link


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


