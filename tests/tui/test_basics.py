"""Unlock, dashboard and lists: the first things an agent meets."""

from __future__ import annotations

from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, OptionList, Select, Static

from station.store.db import db_path
from station.store.service import Station
from station.tui.screens import records, unlock
from station.tui.screens.application_form import ApplicationFormScreen
from station.tui.screens.records import RecordListScreen
from station.tui.widgets.record_table import RecordTable
from tests.conftest import PASSPHRASE
from tests.tui.conftest import drive, footer_cut, footer_text, make_app, settle


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


def test_wrong_passphrases_in_a_row_wait_longer_each_time_up_to_half_a_minute():
    assert [unlock.wait_after(n) for n in range(1, 10)] == [0, 0, 2, 4, 8, 16, 30, 30, 30]


def test_wrong_passphrases_in_a_row_are_counted_and_then_make_the_next_try_wait(
        village, monkeypatch):
    """Each refusal says it is the nth in a row (the same sentence again looked as if the
    try had not been taken); from the third the next try waits, with the seconds shown.
    An empty field, a pasted 10 000 characters, control characters and a broken paste are
    refusals in words too, never a screen stuck on "opening…"."""
    home = village.home
    village.close()
    # a pause long enough that a loaded machine cannot let it pass before the next try
    monkeypatch.setattr(unlock, "wait_after", lambda wrong: 0 if wrong < 3 else 6)
    app = make_app(None, home=home, lang="zh")

    async def attempt(pilot: Any, text: str) -> str:
        box = app.screen.query_one("#passphrase", Input)
        box.value = text
        box.focus()
        await pilot.press("enter")
        await settle(pilot, app)
        said = app.screen.query("#unlock-error")
        return str(said.first(Static).render()) if said else ""

    async def scenario(pilot):
        assert "请先输入口令" in await attempt(pilot, "")
        said = await attempt(pilot, "x" * 10_000)
        assert "口令不正确" in said and "连续" not in said
        assert "（已连续 2 次）" in await attempt(pilot, "a\x00b\x1b[31m")
        said = await attempt(pilot, "\ud800口令")
        assert "（已连续 3 次）" in said and "请 6 秒后再试" in said
        await attempt(pilot, PASSPHRASE)  # during the pause: not taken
        assert app.station is None
        await pilot.pause(6.5)
        assert "秒后再试" not in str(app.screen.query_one("#unlock-error", Static).render())
        await attempt(pilot, PASSPHRASE)
        assert app.station is not None

    drive(app, scenario)


def test_the_dashboard_counts_todays_work(village):
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        board = village.dashboard()
        number = app.screen.query_one("#card-overdue .card-number", Static)
        assert str(number.render()) == str(board.overdue)

    drive(app, scenario)


def test_opening_a_list_reads_its_records_once(village, monkeypatch):
    """Each read of a big village's list takes a noticeable moment, and reads queue on the
    one reader connection: opening the list, and coming back to it, read it once."""
    reads: list[str | None] = []
    listing = Station.list

    def counted(self: Station, **kwargs: Any) -> Any:
        reads.append(kwargs.get("kind"))
        return listing(self, **kwargs)

    monkeypatch.setattr(Station, "list", counted)
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        reads.clear()
        await pilot.press("r")
        await settle(pilot, app)
        assert reads == ["resident"]
        assert app.screen.query_one(RecordTable).row_count > 0
        app.screen.query_one(RecordTable).focus()
        await pilot.press("enter")  # a resident's record, then back to the list
        await settle(pilot, app)
        reads.clear()
        await pilot.press("escape")
        await settle(pilot, app)
        assert reads == ["resident"]

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


@pytest.mark.parametrize(("lang", "said"), [
    ("zh", "只显示前 3 条，请继续输入以缩小范围"),
    ("en", "Only the first 3 shown: type more to narrow")])
def test_a_search_that_stops_at_the_shown_rows_does_not_call_them_all_found(village,
                                                                             monkeypatch,
                                                                             lang, said):
    monkeypatch.setattr(records, "SHOWN", 3)
    query = next(q for q in "wlzcyh" if len(village.search(q, kind="resident")) > 3)
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await pilot.press("r")
        await settle(pilot, app)
        app.screen.query_one("#search", Input).value = query
        await settle(pilot, app)
        assert app.screen.query_one(RecordTable).row_count == 3
        assert str(app.screen.query_one("#count").render()) == said

    drive(app, scenario)


def test_the_command_palette_speaks_chinese(village):
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        assert palette.query_one(Input).placeholder == "输入要找的页面或操作"
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "退出" in titles and "代办件" in titles
        assert not {"Theme", "Keys", "Quit", "Screenshot"} & set(titles)

    drive(app, scenario)


def test_an_open_list_says_how_to_close_it_in_the_apps_language(village):
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        status = app.screen.query_one("#status", Select)
        status.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert status.expanded
        footer = footer_text(app)
        assert "收起列表" in footer and "Dismiss" not in footer
        await pilot.press("escape")  # closes the list, not the screen
        await pilot.pause()
        assert not status.expanded and app.screen.query_one("#status") is status
        assert "收起列表" not in footer_text(app)

    drive(app, scenario)


def test_the_english_footer_names_the_palette_in_words(village):
    app = make_app(village, lang="en")

    async def scenario(pilot):
        await settle(pilot, app)
        assert "^p Commands" in footer_text(app)
        assert "palette" not in footer_text(app)

    drive(app, scenario, size=(120, 40))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboard_footer_fits_in_80_columns(village, lang):
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await settle(pilot, app)
        assert footer_cut(app) == []
        assert ("^q 退出" if lang == "zh" else "^q Quit") in footer_text(app)

    drive(app, scenario, size=(80, 24))


def test_the_residents_list_offers_no_new_key(village):
    app = make_app(village, lang="zh")

    async def to_the_rows(pilot: Any, key: str) -> None:
        await pilot.press(key)
        await settle(pilot, app)
        app.screen.query_one(RecordTable).focus()  # where the list's keys apply
        await pilot.pause()

    async def scenario(pilot):
        await to_the_rows(pilot, "r")
        assert "新建" not in footer_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RecordListScreen)  # nothing opened
        await pilot.press("escape")
        await to_the_rows(pilot, "a")
        assert "新建" in footer_text(app)

    drive(app, scenario)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_new_application_from_a_list_just_opened_whose_search_box_has_the_focus(
        village, lang):
    """The footer's key for "new" works where the focus is when a list opens, the search
    box, which takes a plain "n" as a letter of the search."""
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        search = app.screen.query_one("#search", Input)
        assert search.has_focus
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, RecordListScreen) and search.value == "n"
        assert "^n" in footer_text(app) and not footer_cut(app)
        await pilot.press("ctrl+n")
        await settle(pilot, app)
        assert isinstance(app.screen, ApplicationFormScreen)
        assert not footer_cut(app)

    drive(app, scenario, size=(80, 24))


@pytest.mark.parametrize(("text", "width", "shown"), [
    ("养老保险待遇", 8, "养老保… "),  # 保 ends on cell 6: the "…" follows it
    ("养老保险待遇", 9, "养老保险…"),
    ("养老保险", 8, "养老保险"),
    ("ab cdef", 4, "ab …"),  # a real space before the cut stays
    ("王桂英", 2, "… "),
])
def test_a_cut_ends_in_an_ellipsis_right_after_the_last_character(text, width, shown):
    from station.tui.widgets.record_table import fit

    assert fit(text, width) == shown


@pytest.mark.parametrize("width", [80, 81])
def test_a_matter_name_cut_in_the_list_has_no_stray_space_before_the_ellipsis(village,
                                                                             width):
    """Whichever way a column's edge falls across a Chinese character, the list shows
    "养老保险…", never "养老保险 …" (which reads as two words)."""
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        lines = ["".join(s.text for s in table.render_line(y))
                 for y in range(1, table.row_count + 1)]
        assert any("…" in line for line in lines)  # some names are cut at this width
        assert not [line for line in lines if " …" in line]

    drive(app, scenario, size=(width, 40))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_list_uses_the_whole_width_of_an_80_column_terminal(village, lang):
    """The rows stopped two cells short of the scrollbar: the search box above is inset by
    a margin, and Textual takes the widest margin of a column of widgets off a 1fr table's
    width too. Matter names were cut to "…" with blank room left beside them."""
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        assert table.region.right == app.size.width
        # the rows' width: all of it but the scrollbar's
        assert table.virtual_size.width == app.size.width - table.styles.scrollbar_size_vertical

    drive(app, scenario, size=(80, 24))


@pytest.mark.parametrize(("lang", "said"), [("zh", "没有找到匹配的页面或操作"),
                                           ("en", "No matches found")])
def test_a_palette_search_that_finds_nothing_says_so_in_the_apps_language(village, lang,
                                                                          said):
    """Textual's own "No matches found" was the one English line left in a Chinese app."""
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"zzzz")
        await pilot.pause(1.0)  # the palette waits half a second before saying it
        results = app.screen.query_one(OptionList)
        shown = [str(results.get_option_at_index(i).prompt.renderable)
                 for i in range(results.option_count)]
        assert len(shown) == 1 and said in shown[0]

    drive(app, scenario)


@pytest.mark.parametrize(("lang", "lists", "record"), [
    ("en", ["Applications", "Visits", "Residents"], "Application"),
    ("zh", ["代办件", "上门服务", "居民"], "代办件")])
def test_the_header_names_each_list_and_a_record_as_a_title(village, lang, lists, record):
    """The English header read "station — application" over the list of applications, a
    table cell's word rather than the list's name that the palette and dashboard use."""
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await settle(pilot, app)
        for key, name in zip("avr", lists, strict=True):
            await pilot.press(key)
            await settle(pilot, app)
            assert app.screen.sub_title == name
            await pilot.press("escape")
            await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)
        await pilot.press("enter")  # from the search box down to the rows
        await pilot.press("enter")  # and open the first
        await settle(pilot, app)
        assert app.screen.sub_title == record

    drive(app, scenario)
