"""The application form: matter picker, materials checklist with 容缺 dates, inline
validation, the one-time notice, draft records, and encrypted draft autosave."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Static

from station.domain.validate import id_check_char
from station.store.db import db_path
from station.store.service import Station
from station.tui.screens.application_form import ApplicationFormScreen
from station.tui.screens.notice import NoticeScreen, SaveNoticeModal
from station.tui.widgets import form_screen
from station.tui.widgets.ask import AskModal
from tests.conftest import PASSPHRASE, FakeNow
from tests.tui.conftest import TODAY, drive, make_app, settle, toasts

NAME = "欧阳秀兰"  # not in the sample data, so the raw-bytes check means something
ENDS_IN_X = "11010119500101101X"  # a valid ID number whose check character is X


def valid_id(first17: str = "11010119500101123") -> str:
    return first17 + id_check_char(first17)


def bad_checksum(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


async def open_form(pilot: Any, app: Any) -> ApplicationFormScreen:
    await pilot.press("n")
    await settle(pilot, app)
    form = next(s for s in reversed(app.screen_stack) if isinstance(s, ApplicationFormScreen))
    return form


async def type_into(pilot: Any, form: Any, target: str | Input, text: str) -> None:
    """Type ``text`` into a field (all but the last character set at once: Pilot key
    presses cost ~0.1 s each, and the Input does not care how the text arrived)."""
    box = form.query_one(target, Input) if isinstance(target, str) else target
    box.focus()
    await pilot.pause()  # focusing selects the old text: type after it
    box.value = text[:-1]
    box.cursor_position = len(box.value)
    await pilot.press(text[-1])


async def pick_matter(pilot: Any, app: Any, form: ApplicationFormScreen, text: str) -> None:
    form.picker.search.focus()
    form.picker.search.value = text
    await pilot.press("enter")
    await settle(pilot, app)


def error_of(form: Any, field: str) -> str:
    return form.fields[field].error


def test_create_an_application_with_a_missing_material_through_the_form(village):
    app = make_app(village, lang="zh")
    before = village.counts()["applications"]
    default_due = village.calendar.add_working_days(TODAY, 10).isoformat()
    promised = village.calendar.add_working_days(TODAY, 15).isoformat()

    async def scenario(pilot):
        form = await open_form(pilot, app)
        assert form.focused is form.picker.search
        await pilot.press(*"居住证", "enter")  # filter by name, Enter takes the first
        await settle(pilot, app)
        assert form.matter is not None and form.matter.code == "HJ-001"
        assert form.promised.value == promised  # 15 working days, computed
        assert "必要" in str(form.checklist.row("M01").item.render())
        # The cursor is on the first material: tick both essential ones and the photo (M04).
        assert form.focused is form.checklist.row("M01").item
        await pilot.press("space", "down", "space")
        form.checklist.row("M04").item.focus()
        await pilot.press("space")
        missing = form.checklist.row("M03")
        assert missing.due.value == default_due and missing.due.display
        await type_into(pilot, form, missing.due, "2026-12-10")
        await type_into(pilot, form, "#f-name", NAME)
        # A mistyped ID number and phone: said next to each field, nothing is saved.
        await type_into(pilot, form, "#f-id_number", bad_checksum(valid_id()))
        await type_into(pilot, form, "#f-phone", "1381234")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert "校验位不符" in error_of(form, "applicant.id_number")
        assert "11 位数字" in error_of(form, "applicant.phone")
        assert error_of(form, "applicant.name") == ""
        assert form.focused is form.query_one("#f-id_number")  # the first bad field
        assert app.station.counts()["applications"] == before

        await type_into(pilot, form, "#f-id_number", ENDS_IN_X.lower())  # x is fine
        await type_into(pilot, form, "#f-phone", "138 1234 5678")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        notice = app.screen
        assert isinstance(notice, NoticeScreen)  # 一次告知 first, then the record
        record = app.station.get(notice.record_id)
        assert record.status["to"] == "awaiting_materials"
        assert record.fields["materials.received"] == ["M01", "M02", "M04"]
        assert record.fields["materials.due.M03"] == "2026-12-10"
        assert record.fields["promised_date"] == promised
        assert record.fields["applicant.id_number"] == ENDS_IN_X
        assert record.fields["applicant.phone"] == "13812345678"
        assert app.station.counts()["applications"] == before + 1
        text = str(notice.query_one("#notice-text", Static).render())
        for expected in ("一次性告知书", "合法稳定就业或连续就读证明", "2026-12-10", NAME,
                         record.receipt, "青石村便民服务站", "李春梅", TODAY.isoformat(), promised):
            assert expected in text
        assert "近期免冠证件照片" not in text  # received, so not asked for again

        await pilot.press("ctrl+s")  # save the notice as a text file
        await settle(pilot, app)
        assert isinstance(app.screen, SaveNoticeModal)
        path = app.screen.query_one("#save-path", Input).value
        assert path.endswith(f"notices/{record.receipt}.txt")
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, NoticeScreen)
        with open(path, encoding="utf-8") as saved:
            assert saved.read() == notice.text
        await pilot.press("escape")
        await settle(pilot, app)
        assert not isinstance(app.screen, NoticeScreen | ApplicationFormScreen)

    drive(app, scenario, size=(80, 24))


def test_a_missing_essential_material_is_refused_and_can_be_kept_as_a_draft(village):
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "HJ-001")
        form.checklist.row("M02").item.focus()
        await pilot.press("space")  # the ID card (M01, essential) is not brought
        await type_into(pilot, form, "#f-name", NAME)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, AskModal)  # offered: keep it as a draft
        assert "申请人居民身份证" in form.checklist.refusal
        assert "必要材料未收齐" in form.checklist.refusal
        await pilot.press("enter")  # 存为草稿
        await settle(pilot, app)
        notice = app.screen
        assert isinstance(notice, NoticeScreen)
        record = app.station.get(notice.record_id)
        assert record.status["to"] == "draft"
        assert record.fields["materials.received"] == ["M02"]
        assert "申请人居民身份证　必要材料" in notice.text

        # The ID card comes in: editing the draft receives it (容缺: two still missing),
        # and moving the promised completion date needs a reason.
        app.push_screen(ApplicationFormScreen(record.id))
        await settle(pilot, app)
        edit = app.screen
        assert isinstance(edit, ApplicationFormScreen) and edit.editing
        assert edit.checklist.received() == ["M02"]
        edit.checklist.row("M01").item.focus()
        await pilot.press("space")
        await type_into(pilot, edit, "#f-promised", "2026-12-31")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is edit
        assert "原因" in error_of(edit, "reason")
        await type_into(pilot, edit, "#f-reason", "户籍系统升级")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, NoticeScreen)  # what is still missing, told again
        record = app.station.get(record.id)
        assert record.status["to"] == "awaiting_materials"
        assert record.fields["materials.received"] == ["M01", "M02"]
        assert record.fields["promised_date"] == "2026-12-31"
        assert "户籍系统升级" in record.fields["notes"][-1]["entry"]  # the reason is logged

    drive(app, scenario, size=(80, 24))


def test_an_unsaved_form_is_kept_encrypted_and_offered_back_after_a_restart(village,
                                                                             monkeypatch):
    monkeypatch.setattr(form_screen, "AUTOSAVE_DELAY", 0.2)
    home = village.home
    app = make_app(village, lang="en")

    async def typing(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "YB-002")  # medical insurance payment: M01 only
        await type_into(pilot, form, "#f-name", NAME)
        await pilot.pause(0.4)  # typing stopped: the debounced autosave runs
        drafts = app.station.drafts()
        assert [d.values["applicant.name"] for d in drafts] == [NAME]
        assert drafts[0].kind == "application" and drafts[0].values["matter"] == "YB-002"
        raw = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith(
            db_path(home).name))
        assert NAME.encode() not in raw  # G2: drafts are sealed like records
        await type_into(pilot, form, "#f-address", "Stone Street 3")
        # ... and the app is closed straight away: the screen keeps it on the way out.

    drive(app, typing, size=(80, 24))

    again = Station.open(home, PASSPHRASE, now=FakeNow())
    assert again.drafts()[0].values["applicant.address"] == "Stone Street 3"
    app = make_app(again, lang="en")

    async def restoring(pilot):
        form = await open_form(pilot, app)
        assert isinstance(app.screen, AskModal)
        await pilot.press("enter")  # Restore
        await settle(pilot, app)
        assert app.screen is form
        assert form.matter is not None and form.matter.code == "YB-002"
        assert form.query_one("#f-name", Input).value == NAME
        assert form.query_one("#f-address", Input).value == "Stone Street 3"
        form.checklist.rows[0].item.focus()
        await pilot.press("space")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is not form
        assert app.station.drafts() == []  # a save deletes the draft
        assert [s.name for s in app.station.search(NAME)] == [NAME]

    drive(app, restoring, size=(80, 24))


def test_a_name_of_spaces_is_no_name(village):
    """Spaces alone are trimmed away by the store: the form says the name is needed
    instead of saving a case about nobody."""
    app = make_app(village, lang="zh")
    before = village.counts()["applications"]

    async def scenario(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "YB-002")
        form.checklist.rows[0].item.focus()
        await pilot.press("space")
        await type_into(pilot, form, "#f-name", "\u3000  ")  # an ideographic space too
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert error_of(form, "applicant.name") == "申请人姓名不能为空"
        assert app.station.counts()["applications"] == before

    drive(app, scenario, size=(80, 24))


def test_an_id_number_and_phone_typed_in_full_width_are_saved_as_the_numbers(village):
    """A Chinese input method left in full-width mode types １３８…: the case is saved
    under the plain number, so the person's page and a search by it find it."""
    app = make_app(village, lang="zh")
    number = valid_id()
    wide = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")

    async def scenario(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "YB-002")
        form.checklist.rows[0].item.focus()
        await pilot.press("space")
        await type_into(pilot, form, "#f-name", NAME)
        await type_into(pilot, form, "#f-id_number", number.translate(wide))
        await type_into(pilot, form, "#f-phone", "１３９　１２３４　５６７８")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is not form, error_of(form, "applicant.id_number")
        found = app.station.same_person(number)
        assert [s.name for s in found] == [NAME]
        record = app.station.get(found[0].id)
        assert record.fields["applicant.id_number"] == number
        assert record.fields["applicant.phone"] == "13912345678"

    drive(app, scenario, size=(80, 24))


@pytest.mark.parametrize(("lang", "id_error", "phone_error"), [
    ("zh", "身份证号码应为 18 位（现为 14 位）", "手机号码应为 1 开头、第二位为 3–9 的 11 位数字"),
    ("en", "An ID number has 18 characters (this one has 14)",
     "A mobile number has 11 digits, starting 13–19")], ids=["zh", "en"])
def test_inline_errors_in_both_languages_snapshot(village, snap_compare, lang, id_error,
                                                  phone_error):
    """80×24: a matter chosen by English words or Chinese characters, its checklist, and
    the sentences under the ID number and the phone (nothing is saved)."""
    before = village.counts()["applications"]

    async def fill_in(pilot):
        app = pilot.app
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "pension alive" if lang == "en" else "养老认证")
        assert form.matter is not None and form.matter.code == "SB-002"
        await type_into(pilot, form, "#f-name", "Wang")
        await type_into(pilot, form, "#f-id_number", "11010119500101")
        await type_into(pilot, form, "#f-phone", "1234567")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert error_of(form, "applicant.id_number") == id_error
        assert error_of(form, "applicant.phone") == phone_error
        assert str(form.fields["applicant.phone"].note.render()) == phone_error  # on screen
        assert app.station.counts()["applications"] == before
        form.query_one("#form").scroll_to_widget(form.checklist, animate=False, top=True)
        for box in form.query(Input):
            box.cursor_blink = False  # a blinking cursor would make the picture flaky
        app.clear_notifications()  # so would a toast timing out on a slow machine
        await pilot.pause()

    assert snap_compare(make_app(village, lang=lang), terminal_size=(80, 24),
                        run_before=fill_in)


def test_saving_an_edit_unchanged_says_nothing_changed(village):
    summary = next(s for s in village.list(kind="application") if s.status == "received")
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(ApplicationFormScreen(summary.id))
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert not isinstance(app.screen, ApplicationFormScreen)
        assert "没有修改。" in toasts(app)

    drive(app, scenario)


def test_a_resident_on_record_is_filled_in_from_their_id_number(village):
    """An agent receiving a case for someone the station knows types the ID number: the
    form says who it is, with their cases, and fills the name and phone, as the visit form
    does; a number nobody is known under gets back the field's own hint."""
    application = village.list(kind="application", limit=1)[0]
    known = village.get(application.id)
    app = make_app(village, lang="en")

    async def scenario(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "HJ-001")
        await type_into(pilot, form, "#f-id_number", known.fields["applicant.id_number"])
        await settle(pilot, app)
        assert form.query_one("#f-name", Input).value == known.fields["applicant.name"]
        assert form.query_one("#f-phone", Input).value == known.fields["applicant.phone"]
        hint = form.fields["applicant.id_number"].hint
        assert hint.startswith("Known here:") and application.receipt in hint
        n = len(village.search(known.fields["applicant.id_number"]))
        assert f"({n} record{'' if n == 1 else 's'})" in hint
        await type_into(pilot, form, "#f-id_number", ENDS_IN_X)
        await settle(pilot, app)
        assert form.fields["applicant.id_number"].hint == "18 characters, the last may be X"

    drive(app, scenario, size=(80, 24))


def test_saving_too_early_puts_the_cursor_on_the_highest_field_to_fix(village):
    """A material's promised date mistyped and no name: Ctrl+S shows both under their
    fields and the cursor goes to the date, the first red line going down the form."""
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        form = await open_form(pilot, app)
        await pick_matter(pilot, app, form, "HJ-001")
        await pilot.press("space", "down", "space")  # both essential materials in
        due = form.checklist.row("M03").due
        await type_into(pilot, form, due, "2026-13-40")
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is form
        assert "不能为空" in error_of(form, "applicant.name")
        assert form.checklist.row("M03").has_class("-error")
        assert form.focused is due

    drive(app, scenario, size=(80, 24))
