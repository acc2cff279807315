"""The visit form: resident, reason, services done, times, linked applications."""

from __future__ import annotations

from textual.widgets import Input, SelectionList

from station.store.service import Station
from station.tui.screens.visit_form import VisitFormScreen
from tests.conftest import PASSPHRASE
from tests.tui.conftest import drive, make_app, settle
from tests.tui.test_application_form import type_into


def test_the_visit_form_saves_a_visit_with_services(village):
    application = village.list(kind="application", limit=1)[0]
    known = village.get(application.id)
    app = make_app(village, lang="zh")
    before = {s.id for s in village.list(kind="visit")}

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        assert isinstance(form, VisitFormScreen)
        # A known ID number: the form says who it is and fills the empty fields.
        await type_into(pilot, form, "#f-id_number", known.fields["applicant.id_number"])
        assert form.query_one("#f-name", Input).value == known.fields["applicant.name"]
        assert "台账中已有此人" in form.fields["resident.id_number"].hint
        form.reason.value = "elderly"
        services = form.query_one("#f-services", SelectionList)
        services.focus()
        await pilot.press("space", "down", "space")  # consultation, alive certification
        await type_into(pilot, form, "#f-actual_at", "2026-11-23 09:15")
        await type_into(pilot, form, "#f-linked", "V001-NOPE")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form  # an unknown receipt is refused next to its field
        assert "V001-NOPE" in form.fields["linked"].error
        await type_into(pilot, form, "#f-linked", application.receipt)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is not form
        (new,) = {s.id for s in app.station.list(kind="visit")} - before
        visit = app.station.get(new)
        assert visit.status["to"] == "done"  # the actual time is in: it happened
        assert visit.fields["services"] == ["alive_certification", "consultation"]
        assert visit.fields["reason"] == "elderly"
        assert visit.fields["actual_at"] == "2026-11-23T09:15"
        assert visit.fields["linked"] == [application.id]
        assert visit.fields["staff"] == "李春梅"
        assert app.station.drafts() == []

    drive(app, scenario, size=(80, 24))


def test_a_visit_saved_after_the_database_was_deleted_is_said_not_saved(village):
    """Someone deletes station.db while the app is open: the form stays, with the words
    of why, instead of "saved" for a visit no later start would find."""
    app = make_app(village, lang="zh")
    before = len(village.list(kind="visit"))

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        await type_into(pilot, form, "#f-name", "张三")
        (village.home / "station.db").rename(village.home / "moved.db")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert "没有保存" in str(form.general.render())
        (village.home / "moved.db").rename(village.home / "station.db")

    drive(app, scenario)
    again = Station.open(village.home, PASSPHRASE)
    assert len(again.list(kind="visit")) == before
    again.close()


def test_a_visit_time_in_year_2999_is_refused_next_to_its_field_and_slashes_are_taken(village):
    """A slip of the year (2999) used to be saved as a visit scheduled a thousand years
    ahead, while 2026/11/23 14:30, as dates are typed everywhere else, was refused."""
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        await type_into(pilot, form, "#f-name", "张三")
        await type_into(pilot, form, "#f-scheduled_at", "2999-01-01 10:00")
        await type_into(pilot, form, "#f-actual_at", "2026/11/23 8:30")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert "预约时间 2999-01-01 太晚了" in form.fields["scheduled_at"].error
        assert not form.fields["actual_at"].error
        await type_into(pilot, form, "#f-scheduled_at", "2026年11月22日 9:00")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is not form
        (visit,) = [v for v in app.station.list(kind="visit") if v.name == "张三"]
        fields = app.station.get(visit.id).fields
        assert (fields["scheduled_at"], fields["actual_at"]) == ("2026-11-22T09:00",
                                                               "2026-11-23T08:30")

    drive(app, scenario)


def test_a_visit_made_later_today_is_refused_next_to_its_field(village):
    """At 09:30 a visit typed as made at 14:30 today has not happened: the form says so
    under the actual time and keeps everything; the same time as the scheduled one is
    fine, and saved with the time the visit was really made."""
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        await type_into(pilot, form, "#f-name", "张三")
        await type_into(pilot, form, "#f-actual_at", "2026-11-23 14:30")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert "2026-11-23 14:30 还没有到（现在是 2026-11-23 09:30）" in \
            form.fields["actual_at"].error
        await type_into(pilot, form, "#f-scheduled_at", "2026-11-23 14:30")
        await type_into(pilot, form, "#f-actual_at", "2026-11-23 09:00")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is not form
        (visit,) = [v for v in app.station.list(kind="visit") if v.name == "张三"]
        fields = app.station.get(visit.id).fields
        assert (fields["scheduled_at"], fields["actual_at"]) == ("2026-11-23T14:30",
                                                               "2026-11-23T09:00")

    drive(app, scenario)



def test_a_known_id_number_typed_in_groups_finds_the_person(village):
    """An agent types the number in groups, as the card prints it (110105 19491231 002x),
    which the form saves as the plain number: it also says whom the station knows, as it
    does for the number typed plain."""
    application = village.list(kind="application", limit=1)[0]
    known = village.get(application.id)
    number = known.fields["applicant.id_number"]
    typed = f"{number[:6]} {number[6:14]} {number[14:].lower()}"
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        await type_into(pilot, form, "#f-id_number", typed)
        await settle(pilot, app)
        assert form.query_one("#f-name", Input).value == known.fields["applicant.name"]
        assert "台账中已有此人" in form.fields["resident.id_number"].hint

    drive(app, scenario)
