"""What the app shows on a laptop whose clock has gone back (a flat CMOS battery)."""

from __future__ import annotations

from textual.widgets import Static

from tests.store.test_clock import FLAT_BATTERY
from tests.tui.conftest import drive, make_app, settle


def test_the_dashboard_says_the_clock_went_back_and_to_set_it(village):
    """Today on the dashboard reads 2020-01-01: the agent is told, under it, that the clock
    is behind the station's own last change and to set it before recording work."""
    village.now.value = FLAT_BATTERY
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        assert "2020-01-01" in str(app.screen.query_one("#dash-today", Static).render())
        note = str(app.screen.query_one("#dash-note", Static).render())
        assert "时钟被调回了" in note and "请先校准日期和时间" in note

    drive(app, scenario, size=(100, 30))
