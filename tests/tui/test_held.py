"""What the centre sent that this version keeps aside is seen in the app, not only counted:
the dashboard says how many, since when and to update; the sync screen names the records
by receipt number and why, and nothing personal."""

from __future__ import annotations

from textual.widgets import Static

from station.store.service import Station
from station.tui.screens.sync import SyncScreen
from tests.store.test_held import from_a_newer_station, made_at, receiver
from tests.tui.conftest import drive, make_app, settle

SIZE = (80, 24)


def kept_aside_at(village: Station, station: Station) -> str:
    """A record made at ``station`` whose first change reached ``village`` as a newer
    version writes it: kept aside. Its receipt number."""
    ids, encoded = made_at(station, 1)
    village.ledger.receive_encoded([from_a_newer_station(encoded[0])], today=village.today())
    return str(station.get(ids[0]).receipt)


def test_the_dashboard_and_the_sync_screen_say_what_is_kept_aside_and_what_to_do(
        village, tmp_path):
    bus = receiver(tmp_path)
    receipt = kept_aside_at(village, bus)
    bus.close()
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        note = str(app.screen.query_one("#dash-note", Static).render())
        assert "1 条更新本版本无法读取" in note and "请升级 station" in note
        await pilot.press("s")
        await settle(pilot, app)
        assert isinstance(app.screen, SyncScreen)
        log = "\n".join(app.screen.history)
        assert receipt in log and "含有本版本不认识的字段或操作" in log
        assert "升级后下次同步时会自动合并" in log
        assert "王桂英" not in log

    drive(app, scenario, size=SIZE)
