"""One station, several programs at once, end to end: the app stays open all day while
another terminal runs ``station enroll``, ``station sync`` or ``station import`` on the same
home. The other programs are real processes; the centre is real."""

from __future__ import annotations

from station.sync.engine import sync_once
from tests.conftest import station_cli
from tests.e2e.conftest import enrolled, link, new_station, running_centre


def test_a_save_in_the_open_app_after_enrolling_in_another_terminal_reaches_the_centre(
        tmp_path, passphrase_file):
    """The agent keeps the app open while a colleague enrolls the station from a terminal;
    what the agent saves next must be sealed for that centre and sent by the next sync. The
    app sealed with the key it read at unlock (none), so the save went into no outbox: the
    sync said nothing was waiting and the case never reached the town."""
    with running_centre(tmp_path, f"sqlite:///{tmp_path / 'centre.db'}") as centre:
        app = new_station(tmp_path, "V001")  # unlocked in the app, before enrolling
        home = tmp_path / "V001"
        done = station_cli("enroll", centre.code("V001"), home=home,
                           passphrase_file=passphrase_file)
        assert done.returncode == 0, done.stderr
        saved = app.create("resident", {"resident.name": "登记后的居民"})
        assert app.sync.unsent() == 1  # waiting to be sent, as the app's count says
        synced = station_cli("sync", "--once", "--json", home=home,
                             passphrase_file=passphrase_file)
        assert synced.returncode == 0, synced.stderr
        assert app.sync.unsent() == 0
        bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
        with link(bus) as lk:
            sync_once(bus.sync, lk, station=bus)
        assert bus.get(saved.id).name == "登记后的居民"
        # and the open app, syncing itself, opens what the centre sealed to the new keys
        visit = bus.create("resident", {"resident.name": "直通车登记的居民"}, scope="V001")
        with link(bus) as lk:
            sync_once(bus.sync, lk, station=bus)
        with link(app) as lk:
            sync_once(app.sync, lk, station=app)
        assert app.get(visit.id).name == "直通车登记的居民"
        app.close()
        bus.close()
