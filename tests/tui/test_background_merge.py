"""Pages that show what the station holds follow a background merge (what an unattended
cron sync kept, merged by the open app) without being left and opened again: the reports
and the one-time notice, against a real centre (as tests/tui/test_sync.py does)."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from station.store.syncstate import SyncState
from station.sync.engine import sync_once
from station.sync.transport import CentreClient
from station.tui.app import StationApp
from station.tui.screens.notice import NoticeScreen
from station.tui.screens.reports import ReportsScreen
from tests.e2e.conftest import LiveCentre, link
from tests.tui.conftest import drive, make_app, settle, toasts
from tests.tui.test_sync import APPLICATION, SIZE, centre, enrolled

__all__ = ["centre"]  # the live centre fixture, shared with the sync screen tests


def cron_sync(station_home, centre_url: str) -> None:
    """``station sync --unattended`` from cron, another process: keeps what it pulls."""
    locked = SyncState.open_locked(station_home)
    with CentreClient(centre_url, station="V001", signer=locked.transport()) as lk:
        assert sync_once(locked, lk).kept_locked >= 1
    locked.close()


def test_the_reports_count_what_a_background_merge_brought(tmp_path, centre: LiveCentre,
                                                           monkeypatch):
    monkeypatch.setattr(StationApp, "KEPT_CHECK_S", 0.3)
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        assert isinstance(app.screen, ReportsScreen)
        table = app.screen.query_one("#reports-figures", DataTable)
        before = int(str(table.get_cell("received", "value")))
        bus.create("application", APPLICATION, scope="V001")  # received on the bus today
        with link(bus) as lk:
            sync_once(bus.sync, lk, station=bus)
        cron_sync(village.home, centre.url)
        await pilot.pause(1.0)
        await settle(pilot, app)
        assert any("Merged" in t for t in toasts(app))
        assert int(str(table.get_cell("received", "value"))) == before + 1

    drive(app, scenario, size=SIZE)
    bus.close()


def test_the_notice_drops_a_material_the_bus_collected_in_a_background_merge(
        tmp_path, centre: LiveCentre, monkeypatch):
    monkeypatch.setattr(StationApp, "KEPT_CHECK_S", 0.3)
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
    record = village.create("application", APPLICATION)
    missing = village.catalogue.get("HJ-001").material("M03").name("en")
    with link(village) as lk:
        sync_once(village.sync, lk, station=village)
    with link(bus) as lk:
        sync_once(bus.sync, lk, station=bus)
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        app.push_screen(NoticeScreen(record.id))
        await settle(pilot, app)
        page = app.screen.query_one("#notice-text", Static)
        assert missing in str(page.render())
        bus.update(record.id, {"materials.received": ["M01", "M02", "M03", "M04"]})
        with link(bus) as lk:
            sync_once(bus.sync, lk, station=bus)
        cron_sync(village.home, centre.url)
        await pilot.pause(1.0)
        await settle(pilot, app)
        assert any("Merged" in t for t in toasts(app))
        assert missing not in str(page.render())
        assert "All the materials are in" in str(page.render())

    drive(app, scenario, size=SIZE)
    bus.close()
