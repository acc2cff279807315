"""Unlock, dashboard and lists: the first things an agent meets."""

from __future__ import annotations

from textual.widgets import Input, Static

from station.store.db import db_path
from station.tui.widgets.record_table import RecordTable
from tests.conftest import PASSPHRASE
from tests.tui.conftest import drive, make_app, settle


def test_a_wrong_passphrase_says_so_and_changes_nothing(village):
    home = village.home
    village.close()
    before = db_path(home).read_bytes()
    app = make_app(None, home=home, lang="zh")

    async def scenario(pilot):
        await pilot.click("#passphrase")
        await pilot.press(*"wrong passphrase", "enter")
        await settle(pilot, app)
        assert "口令不正确" in str(app.screen.query_one("#unlock-error", Static).render())
        assert app.station is None
        await pilot.press(*PASSPHRASE, "enter")
        await settle(pilot, app)
        assert app.station is not None
        assert "青石村便民服务站" in str(app.screen.query_one("#dash-today").render())

    drive(app, scenario)
    assert db_path(home).read_bytes()[:100] == before[:100]


def test_the_dashboard_counts_todays_work(village):
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        board = village.dashboard()
        number = app.screen.query_one("#card-overdue .card-number", Static)
        assert str(number.render()) == str(board.overdue)

    drive(app, scenario)


def test_search_as_you_type_finds_by_id_number(village):
    target = village.list(kind="application", limit=1)[0]
    id_number = village.get(target.id).fields["applicant.id_number"]
    app = make_app(village)

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        assert table.row_count == village.counts()["applications"]
        app.screen.query_one("#search", Input).value = id_number.lower()
        await settle(pilot, app)
        assert target.id in table.keys
        assert "found" in str(app.screen.query_one("#count").render())

    drive(app, scenario)
