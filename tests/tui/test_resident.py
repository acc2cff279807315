"""A resident's page: every record with one ID number, one key from any of them."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select

from station.tui.screens import make_record, make_resident
from station.tui.screens.record import RecordScreen
from station.tui.screens.resident import ResidentScreen
from station.tui.screens.visit_form import VisitFormScreen
from tests.tui.conftest import drive, make_app, settle
from tests.tui.test_record import PERSON, shown, station_case


async def open_person(pilot, app, record) -> None:
    """The record opened, then its person's page (p), as the agent goes there."""
    app.push_screen(make_record(record))
    await settle(pilot, app)
    await pilot.press("p")
    await settle(pilot, app)


def test_resident_page_lists_an_application_and_a_visit(village):
    application = station_case(village)
    visit = village.create("visit", {
        "resident.name": "陈丽", "resident.id_number": PERSON["applicant.id_number"].lower(),
        "reason": "elderly", "services": ["consultation"]}).id
    someone_else = next(s.id for s in village.list(kind="application") if s.id != application)
    app = make_app(village)

    async def scenario(pilot):
        await open_person(pilot, app, application)
        assert isinstance(app.screen, ResidentScreen)
        assert "陈丽" in shown(app, "#resident-name")
        table = app.screen.query_one(DataTable)
        ids = [row.value for row in table.rows]
        assert application in ids and visit in ids and someone_else not in ids
        assert ids.index(visit) < ids.index(application)  # newest first
        # the services, as far as 80 columns go (they show whole when wider: below)
        assert "elderly: consult" in str(table.get_cell(visit, "what"))

        table.move_cursor(row=table.get_row_index(visit))
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen) and app.screen.record_id == visit
        assert "visit" in shown(app, "#record-title")
        await pilot.press("escape")
        await settle(pilot, app)

        # Enter on the record the page was opened from goes back to it, not deeper
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(application))
        depth = len(app.screen_stack)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen) and app.screen.record_id == application
        assert len(app.screen_stack) == depth - 1

    drive(app, scenario, size=(80, 24))


def test_what_a_record_is_about_ends_in_an_ellipsis_at_80_columns_and_shows_whole_wider(
        village):
    """A visit with several services runs past 80 columns: it ends in "…" within the table,
    not cut off mid-word at the screen's edge; at 160 columns it shows whole."""
    application = station_case(village)
    services = ["consultation", "alive_certification", "document_collection",
                "insurance_payment"]
    visit = village.create("visit", {
        "resident.name": "陈丽", "resident.id_number": PERSON["applicant.id_number"],
        "reason": "elderly", "services": services}).id
    app = make_app(village)

    async def scenario(pilot):
        await open_person(pilot, app, application)
        table = app.screen.query_one(DataTable)
        what = str(table.get_cell(visit, "what"))
        assert what.endswith("…") and what.startswith("elderly: ")
        assert table.virtual_size.width <= table.scrollable_content_region.width
        await pilot.resize_terminal(160, 24)
        await settle(pilot, app)
        what = str(table.get_cell(visit, "what"))
        assert not what.endswith("…") and what.count(", ") == len(services) - 1

    drive(app, scenario, size=(80, 24))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_records_use_the_whole_width_of_an_80_column_terminal(village, lang):
    """The table reached column 78 only: the lines above it are indented by a margin, and
    Textual takes the widest margin of a column of widgets off a 1fr table's width too, so
    what a visit was about ended in "…" two cells before the edge, with blank room beside."""
    application = station_case(village)
    visit = village.create("visit", {
        "resident.name": "陈丽", "resident.id_number": PERSON["applicant.id_number"],
        "reason": "elderly", "services": ["consultation", "alive_certification",
                                          "document_collection", "insurance_payment"]}).id
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await open_person(pilot, app, application)
        table = app.screen.query_one(DataTable)
        assert str(table.get_cell(visit, "what")).endswith("…")
        assert table.region.right == app.size.width
        # the cut is at the edge (a cell short when a Chinese character would straddle it)
        assert table.virtual_size.width >= app.size.width - 1

    drive(app, scenario, size=(80, 24))


def other_id_number(n: int = 1) -> str:
    """A valid ID number that is not PERSON's, nor any of the sample village's."""
    from station.domain.validate import id_check_char

    first17 = f"41152519500101{n:03d}"
    return first17 + id_check_char(first17)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_record_whose_id_number_is_changed_from_the_page_is_said_to_have_moved(village,
                                                                                 lang):
    """The agent opens a visit from 陈丽's page and corrects its ID number (it was her
    husband's). Back on the page, the visit is no longer hers: the page stays on her number,
    with her application, and says which record went to which number; the visit used to
    vanish from the page without a word."""
    application = station_case(village)
    visit = village.create("visit", {
        "resident.name": "陈丽", "resident.id_number": PERSON["applicant.id_number"],
        "reason": "elderly"})
    new = other_id_number()
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        await open_person(pilot, app, application)
        page = app.screen
        table = page.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(visit.id))
        await pilot.press("enter")
        await settle(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#edit-field", Select).value = "resident.id_number"
        await pilot.pause()
        app.screen.query_one("#edit-value", Input).value = new
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        await pilot.press("escape")
        await settle(pilot, app)
        assert app.screen is page
        listed = [row.value for row in table.rows]
        assert application in listed and visit.id not in listed
        assert PERSON["applicant.id_number"] in shown(app, "#resident-name")
        note = shown(app, "#resident-moved")
        assert page.query_one("#resident-moved").display
        assert visit.receipt in note and new in note
        assert ("不再列在此页" if lang == "zh" else "no longer listed here") in note
        await pilot.press("f5")  # read again: still said
        await settle(pilot, app)
        assert visit.receipt in shown(app, "#resident-moved")

    drive(app, scenario, size=(80, 24))


def test_a_page_whose_every_record_took_a_new_id_number_follows_the_person(village):
    """A sync brings the person's corrected ID number (made on the bus) while the page is
    open: every record it listed now has the new number, so the page follows it and says
    so, instead of saying there are no records for this person."""
    old, new = other_id_number(1), other_id_number(2)
    application = village.create("application", {
        "matter": "SB-002", **PERSON, "applicant.id_number": old,
        "materials.received": ["M01", "M02"]}).id
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(make_resident(old))
        await settle(pilot, app)
        village.update(application, {"applicant.id_number": new}, reason="身份证号录错")
        await pilot.press("f5")
        await settle(pilot, app)
        table = app.screen.query_one(DataTable)
        assert [row.value for row in table.rows] == [application]
        assert new in shown(app, "#resident-name")
        note = shown(app, "#resident-moved")
        assert old in note and new in note and "此页随之更新" in note

    drive(app, scenario, size=(80, 24))


def test_a_visit_is_recorded_from_the_residents_page_without_typing_them_again(village):
    """On a resident's page the agent presses v: the visit form opens about that resident
    (ID number, name and phone from the station's records, nothing left as a draft if the
    agent changes their mind), and the visit saved is on the page."""
    application = station_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_person(pilot, app, application)
        page = app.screen
        assert isinstance(page, ResidentScreen)
        await pilot.press("v")
        await settle(pilot, app)
        form = app.screen
        assert isinstance(form, VisitFormScreen)
        assert form.query_one("#f-name", Input).value == PERSON["applicant.name"]
        assert form.query_one("#f-phone", Input).value == PERSON["applicant.phone"]
        assert "台账中已有此人" in form.fields["resident.id_number"].hint
        await pilot.press("escape")  # nothing typed: nothing kept to offer back
        await settle(pilot, app)
        assert app.screen is page and app.station.drafts() == []
        await pilot.press("v")
        await settle(pilot, app)
        app.screen.reason.value = "elderly"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        visit = app.screen.record_id
        assert app.station.get(visit).fields["resident.name"] == PERSON["applicant.name"]
        await pilot.press("escape")
        await settle(pilot, app)
        assert app.screen is page
        assert visit in [row.value for row in page.query_one(DataTable).rows]

    drive(app, scenario, size=(80, 24))
