"""The reports screen: a hand-built October whose figures are known, the month picker, and
"—" for a rate with nothing to divide by. At 80×24, in English and Chinese."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.widgets import DataTable, Static

from station.cli import cli
from station.cli.common import run
from station.domain.followup import Month
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.tui.app import StationApp
from station.tui.screens.reports import ROWS, ReportsScreen, bar, cell, percent
from tests.conftest import PASSPHRASE, FakeNow
from tests.store.test_conflicts import make, two_outcomes
from tests.tui.conftest import drive, lines_of, make_app, settle

SIZE = (80, 24)
TZ = dt.timezone(dt.timedelta(hours=8))


def person(n: int) -> dict[str, str]:
    from station.domain.validate import id_check_char

    first17 = f"41152519500101{n + 1:03d}"
    return {"applicant.name": f"王{'一二三四五'[n]}", "applicant.id_number":
            first17 + id_check_char(first17), "applicant.phone": f"1391234567{n}",
            "applicant.address": "青石村三组"}


@pytest.fixture
def october(tmp_path):
    """Four applications in October 2026, each with a known fate."""
    clock = FakeNow(dt.datetime(2026, 10, 12, 9, 0, tzinfo=TZ))
    station, _ = Station.init(tmp_path / "V001", station_id="V001", name="青石村便民服务站",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF, now=clock)

    def on(day: int) -> None:
        clock.value = dt.datetime(2026, 10, day, 10, 0, tzinfo=TZ)

    # A: done on the spot, on time, rated good
    a = station.create("application", {"matter": "SB-002", **person(0),
                                       "materials.received": ["M01", "M02"]})
    station.change_status(a.id, "completed")
    station.rate(a.id, "good")
    # B: received the 13th, promised that day, done two days late, rated poor
    on(13)
    b = station.create("application", {"matter": "YB-001", **person(1),
                                       "materials.received": ["M01", "M02"]})
    on(15)
    station.change_status(b.id, "completed")
    station.rate(b.id, "poor", "跑了两趟")
    # C and D: the centre decides them, promised for November: to contact in October
    on(14)
    every = ["M01", "M02", "M03", "M04"]
    c = station.create("application", {"matter": "HJ-001", **person(2),
                                       "materials.received": every})
    on(20)
    station.add_contact(c.id, "phone", "告知已报送镇中心")
    station.create("application", {"matter": "HJ-001", **person(3),
                                   "materials.received": every})
    clock.value = dt.datetime(2026, 11, 23, 9, 30, tzinfo=TZ)
    yield station
    station.close()


def figures_cells(screen: ReportsScreen) -> dict[str, str]:
    table = screen.query_one("#reports-figures", DataTable)
    return {metric: str(table.get_cell(metric, "value")) for metric, _ in ROWS}


def test_october_shows_what_station_report_counts(october):
    expected = october.report(Month(2026, 10))["all"]
    by_matter = october.report(Month(2026, 10), by="matter")
    assert (expected.received, expected.completed, expected.open_poor) == (4, 2, 1)
    app = make_app(october)

    async def scenario(pilot):
        await pilot.press("p")  # the dashboard's key for reports
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ReportsScreen) and screen.month == Month(2026, 11)
        await pilot.press("left")
        await settle(pilot, app)
        assert screen.month == Month(2026, 10)
        assert "2026-10" in str(screen.query_one("#reports-title", Static).render())
        shown = figures_cells(screen)
        assert shown == {
            "received": "4", "active": "4", "completed": "2",
            "completion_rate": "50.0% (2/4)", "on_time_rate": "50.0% (1/2)",
            "to_contact": "2", "contacted": "1", "contact_rate": "50.0% (1/2)",
            "ratings": "2 (1/0/1)", "satisfaction_rate": "50.0% (1/2)",
            "good_rate": "50.0% (1/2)", "open_poor": "1"}
        # the same numbers as station.report, whatever the table's wording
        for metric, parts in ROWS:
            assert shown[metric] == cell(expected, metric, parts)
        assert screen.figures == expected
        charts = str(screen.query_one("#reports-charts", Static).render())
        assert "50.0%" in charts and bar(0.5, 20).strip() in charts
        matters = screen.query_one("#reports-matters", DataTable)
        assert str(matters.get_cell("HJ-001", "received")) == \
            str(by_matter["HJ-001"].received) == "2"
        assert str(matters.get_cell("YB-001", "on_time_rate")) == "0.0%"
        assert str(matters.get_cell("SB-002", "on_time_rate")) == "100.0%"
        # the month picker from the command palette, by name
        await pilot.press("ctrl+p")
        await pilot.press(*"Next month", "enter")
        await settle(pilot, app)
        assert app.screen is screen and screen.month == Month(2026, 11)
        assert figures_cells(screen)["received"] == "0"

    drive(app, scenario, size=SIZE)


def test_a_rate_with_nothing_to_divide_by_is_a_dash(october):
    app = make_app(october, lang="zh")

    async def scenario(pilot):
        app.push_screen(ReportsScreen())
        await settle(pilot, app)
        screen = app.screen
        # November: two cases still open, none completed, nobody rated
        shown = figures_cells(screen)
        assert shown["completion_rate"] == "0.0% (0/2)"
        assert shown["on_time_rate"] == "—" and shown["satisfaction_rate"] == "—"
        # August: nothing at all
        for _ in range(3):
            await pilot.press("left")
        await settle(pilot, app)
        assert screen.month == Month(2026, 8)
        shown = figures_cells(screen)
        for metric in ("completion_rate", "on_time_rate", "contact_rate",
                       "satisfaction_rate", "good_rate"):
            assert shown[metric] == "—", metric
        assert shown["received"] == "0"
        charts = str(screen.query_one("#reports-charts", Static).render())
        assert "2026-08 各项比率" in charts and "—" in charts and "0.0%" not in charts
        # the month browsed to, not "this month"
        assert str(screen.query_one("#reports-matters", DataTable).get_cell(
            "-empty", "matter")) == "2026-08 没有可统计的办件"
        await pilot.press("t")
        await settle(pilot, app)
        assert screen.month == Month(2026, 11)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReportsScreen)

    drive(app, scenario, size=SIZE)


def test_percent_and_bar():
    assert percent(None) == "—" and percent(0.0) == "0.0%" and percent(1) == "100.0%"
    assert bar(None, 4) == "····" and bar(1.0, 4) == "████" and bar(0.0, 4) == "    "
    assert bar(0.5, 3) == "█▌ "


MATTER_FIGURES = ("received", "active", "completed", "completion_rate", "on_time_rate",
                  "satisfaction_rate")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rate_by_matter_shows_what_it_is_out_of_as_station_report_does(
        october, passphrase_file, capsys, lang):
    """November: the two household cases received in October are still in hand. The row
    said "received 0, done 0, 0.0%", which read as a wrong figure; it now shows the 2 active
    cases the rate is out of, with every figure as `station report --by matter --json`
    gives it for the same month, and the table still fits 80 columns."""
    def cli_figures(month: str) -> dict[str, dict[str, object]]:
        code = run(cli, ["report", "--by", "matter", "--month", month, "--json", "--home",
                         str(october.home), "--passphrase-file", str(passphrase_file)])
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)["figures"]  # type: ignore[no-any-return]

    expected = {month: cli_figures(month) for month in ("2026-11", "2026-10")}
    app = make_app(october, lang=lang)

    async def scenario(pilot):
        app.push_screen(ReportsScreen())
        for month, key in (("2026-11", None), ("2026-10", "left")):
            if key:
                await pilot.press(key)
            await settle(pilot, app)
            matters = app.screen.query_one("#reports-matters", DataTable)
            shown = {code: {key: str(matters.get_cell(code, key)) for key in MATTER_FIGURES}
                     for code in map(str, (row.value for row in matters.rows))}
            assert shown == {code: {key: percent(f[key]) if key.endswith("rate")
                                    else str(f[key]) for key in MATTER_FIGURES}
                             for code, f in expected[month].items()
                             if f["received"] or f["active"] or f["completed"]
                             or f["ratings"]}, month
            assert matters.virtual_size.width <= matters.scrollable_content_region.width
            if month == "2026-11":  # received in October, still in hand
                assert {key: shown["HJ-001"][key] for key in MATTER_FIGURES[:4]} == {
                    "received": "0", "active": "2", "completed": "0",
                    "completion_rate": "0.0%"}

    drive(app, scenario, size=SIZE)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_snapshot(october, snap_compare, lang):
    async def open_october(pilot):
        await pilot.press("p", "left")
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(october, lang=lang), terminal_size=SIZE,
                        run_before=open_october)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_matter_names_use_the_room_there_is(october, lang):
    """At 120 columns every name shows whole; at 80 a long one ends in "…", never cut."""
    app = make_app(october, lang=lang)
    names = {code: october.catalogue.get(code).name(lang)
             for code in ("HJ-001", "YB-001", "SB-002")}

    async def scenario(pilot):
        app.push_screen(ReportsScreen(Month(2026, 10)))
        await settle(pilot, app)
        matters = app.screen.query_one("#reports-matters", DataTable)
        assert {code: str(matters.get_cell(code, "matter")) for code in names} == names
        assert matters.columns["matter"].width >= max(map(cell_len, names.values()))
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        for code, name in names.items():
            shown = str(matters.get_cell(code, "matter"))
            assert shown == name or (shown.endswith("…") and name.startswith(shown[:-1]))
            assert cell_len(shown) <= matters.columns["matter"].width
        assert matters.virtual_size.width <= matters.size.width  # nothing pushed off-screen

    drive(app, scenario, size=(120, 40))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_list_of_matters_scrolls_with_the_page_and_shows_its_last_column(october,
                                                                               lang):
    """A village busy with 25 matters in a month, at 80×24: the table grows with its rows
    and the page scrolls, instead of the table stopping at the page's height and scrolling
    inside it, whose own scrollbar hid the satisfaction column's last character ("100.0"
    for "100.0%", "Satisf" for "Satisf.") and the rows below the fold."""
    busy = [m for m in october.catalogue if not m.is_bundle][:25]
    for matter in busy:
        october.create("application", {"matter": matter.code, **person(4),
                                       "materials.received": [m.code for m in matter.materials]})
    app = make_app(october, lang=lang)

    async def scenario(pilot):
        await pilot.press("p")
        await settle(pilot, app)
        matters = app.screen.query_one("#reports-matters", DataTable)
        assert matters.row_count >= len(busy)
        assert matters.size.height >= matters.virtual_size.height  # no scrolling inside
        assert matters.virtual_size.width <= matters.scrollable_content_region.width

    drive(app, scenario, size=SIZE)


def reports_of_a_case_in_conflict(tmp_path: Path) -> tuple[Station, StationApp]:
    """The village, where a case completed here was returned on the bus, and its app (zh)."""
    village, bus = make(tmp_path, "V001", FakeNow()), make(tmp_path, "BUS01", FakeNow())
    two_outcomes(village, bus)
    bus.close()
    return village, make_app(village, lang="zh")


async def reports_note(pilot, app: StationApp) -> Static:
    """The reports screen opened, and its note on counted cases with open conflicts."""
    app.push_screen(ReportsScreen())
    await settle(pilot, app)
    return app.screen.query_one("#reports-provisional", Static)


def test_cases_with_open_conflicts_are_said_above_the_figures(tmp_path):
    """A case completed here and returned on the bus is counted by the outcome shown for
    now: the screen says how many counted cases are so, and that the figures may change;
    once settled, nothing is said."""
    village, app = reports_of_a_case_in_conflict(tmp_path)

    async def scenario(pilot):
        note = await reports_note(pilot, app)
        assert note.display
        assert "其中 1 件有待处理的冲突" in str(note.render())
        assert "首页按 c 处理冲突" in str(note.render())
        (conflict,) = village.conflicts()
        village.settle(conflict.id, pick=1)
        app.screen.load(app.screen.month)
        await settle(pilot, app)
        assert not note.display

    drive(app, scenario, size=SIZE)
    village.close()


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_the_note_on_conflicts_wraps_between_chinese_characters(tmp_path, size):
    """The note broke only at spaces: at 80 columns its first line was "其中 1" alone and
    the rest of the sentence started on the next, cut again before "处理冲突）"."""
    village, app = reports_of_a_case_in_conflict(tmp_path)

    async def scenario(pilot):
        note = await reports_note(pilot, app)
        lines = lines_of(note)
        assert "".join(lines).replace(" ", "") == str(note.content).replace(" ", "")
        room = note.content_region.width
        # each line is full but for what would not fit of the next few characters kept
        # together ("（首", "按 c 处")
        assert all(cell_len(line) >= room - 6 for line in lines[:-1])
        assert not any(line.endswith(("按", "按 c")) for line in lines)  # "按 c 处理" whole

    drive(app, scenario, size=size)
    village.close()
