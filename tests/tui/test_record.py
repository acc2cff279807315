"""The record screen: fields in words, history, and what an agent does with a case —
change its status, log a contact, take its one rating, close a poor rating's follow-up."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from textual import events
from textual.widgets import Input, OptionList, RadioButton, RadioSet, Select, Static

from station.tui.screens import make_record
from station.tui.screens.form_modal import FormModal
from station.tui.screens.rating_modal import RatingModal
from station.tui.screens.record import RecordScreen
from station.tui.screens.status_modal import StatusModal
from station.tui.widgets.ask import AskModal
from station.tui.widgets.record_table import RecordTable
from tests.store.test_promise_estimate import received_late_in_the_year
from tests.tui.conftest import drive, footer_cut, footer_text, lines_of, make_app, settle, toasts

PERSON = {"applicant.name": "陈丽", "applicant.id_number": "411525198903023982",
          "applicant.phone": "13089245659", "applicant.address": "青石村八组 1 号"}


def text_of(widget: Any, width: int = 120) -> str:
    """What a Static shows, as plain text (it may hold a rich Table)."""
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def shown(app: Any, selector: str) -> str:
    return text_of(app.screen.query_one(selector, Static))


async def choose(pilot: Any, app: Any, status: str) -> None:
    """In the status modal, highlight ``status`` and press Enter."""
    moves = app.screen.query_one("#status-moves", OptionList)
    moves.highlighted = next(i for i in range(moves.option_count)
                             if moves.get_option_at_index(i).id == status)
    await pilot.press("enter")
    await pilot.pause()


async def open_modal(pilot: Any, app: Any, record_id: str, key: str) -> None:
    """Open the record's screen and press the key of one of its small modals."""
    app.push_screen(make_record(record_id))
    await settle(pilot, app)
    await pilot.press(key)
    await pilot.pause()


async def edit_promised_date(pilot: Any, app: Any, record_id: str) -> None:
    """The edit modal, on the promised date."""
    await open_modal(pilot, app, record_id, "e")
    app.screen.query_one("#edit-field", Select).value = "promised_date"
    await pilot.pause()


def station_case(village: Any) -> str:
    """A case the station decides itself (SB-002), every material in: it may complete it."""
    record = village.create("application", {
        "matter": "SB-002", **PERSON, "authorisation.relationship": "self",
        "materials.received": ["M01", "M02"]})
    return record.id


def test_change_its_status_from_the_list(village):
    summary = next(s for s in village.list(kind="application")
                   if s.status == "received"
                   and village.catalogue.get(s.matter).decided_at == "centre")
    app = make_app(village)

    async def scenario(pilot):
        await pilot.press("a")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        table.focus()
        table.move_to(summary.id)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        assert "received" in shown(app, "#record-title")
        assert "History (1)" in shown(app, "#record-history-title")

        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, StatusModal)
        labels = [str(app.screen.query_one(OptionList).get_option_at_index(i).prompt)
                  for i in range(app.screen.query_one(OptionList).option_count)]
        assert "draft" not in labels and "received" not in labels  # only moves from here
        await choose(pilot, app, "submitted")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        assert village.get(summary.id).status["to"] == "submitted"
        assert "submitted" in shown(app, "#record-title")
        history = shown(app, "#record-history")
        assert "Status → submitted" in history and village.device in history
        assert "李春梅" in history

        # the centre decides this matter: completing it here is refused with the reason
        await pilot.press("s")
        await pilot.pause()
        await choose(pilot, app, "completed")
        assert isinstance(app.screen, StatusModal)
        assert "town centre decides" in shown(app, "#form-error")
        assert village.get(summary.id).status["to"] == "submitted"

        # voiding asks for a reason, and refuses without one
        await choose(pilot, app, "voided")
        assert app.focused is app.screen.query_one("#status-reason", Input)
        assert "Say why" in shown(app, "#form-error")
        await pilot.press("enter")
        await pilot.pause()
        assert "voiding needs a reason" in shown(app, "#form-error")
        app.screen.query_one("#status-reason", Input).value = "entered twice"
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        status = village.get(summary.id).status
        assert status["to"] == "voided" and status["reason"] == "entered twice"
        assert "voided" in shown(app, "#record-title")
        assert not app.screen.check_action("status", ())  # nothing moves a voided record

    drive(app, scenario)


def test_zh_record_shows_words_and_materials(village):
    summary = next(s for s in village.list(kind="application")
                   if s.status == "awaiting_materials")
    record = village.get(summary.id)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(make_record(summary.id))
        await settle(pilot, app)
        fields = shown(app, "#record-fields")
        matter = village.catalogue.get(record.fields["matter"])
        assert matter.name_zh in fields and "申请人姓名" in fields
        assert "未收" in fields and "容缺承诺" in fields
        assert "容缺待补" in shown(app, "#record-title")
        assert "修改历史" in shown(app, "#record-history-title")

    drive(app, scenario, size=(80, 24))


def test_contact_rating_and_followup(village):
    record_id = station_case(village)
    app = make_app(village)

    async def scenario(pilot):
        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        screen = app.screen
        assert not screen.check_action("rate", ())  # not finished: no rating offered
        assert not screen.check_action("followup", ())

        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one("#contact-note", Input).value = "phoned about the photo"
        await pilot.press("enter", *"ok", "enter")
        await settle(pilot, app)
        (contact,) = village.get(record_id).fields["contacts"]
        assert contact["entry"]["via"] == "phone"
        assert contact["entry"]["outcome"] == "ok"
        assert "phoned about the photo" in shown(app, "#record-fields")

        await pilot.press("s")
        await pilot.pause()
        await choose(pilot, app, "completed")
        await settle(pilot, app)
        assert village.get(record_id).status["to"] == "completed"
        assert screen.check_action("rate", ())

        await pilot.press("r")
        await pilot.pause()
        assert app.focused is app.screen.query_one(RadioSet)
        await pilot.press("down", "down", "enter", "tab")
        app.screen.query_one("#rating-comment", Input).value = "too slow"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        saved = village.get(record_id)
        assert saved.fields["rating"]["grade"] == "poor"
        assert saved.fields["followup"]["state"] == "open"
        assert not screen.check_action("rate", ())  # 一次一评: no second rating offered
        assert screen.check_action("followup", ())
        assert "poor: too slow (2026-11-23)" in shown(app, "#record-fields")

        # and if a second rating is tried anyway, the store's sentence says why not
        app.push_screen(RatingModal(saved))
        await pilot.pause()
        await pilot.press("enter", "ctrl+s")
        await pilot.pause()
        assert "already rated" in shown(app, "#form-error")
        await pilot.press("escape")  # a grade was chosen: asked first, then discarded
        await pilot.pause()
        assert isinstance(app.screen, AskModal)
        await pilot.press("enter")
        await pilot.pause()

        await pilot.press("f")
        await pilot.pause()
        await pilot.press("enter")  # a follow-up is closed only with a note
        await pilot.pause()
        assert "follow-up note" in shown(app, "#form-error").lower()
        app.screen.query_one("#followup-note", Input).value = "visited and apologised"
        await pilot.press("enter")
        await settle(pilot, app)
        followup = village.get(record_id).fields["followup"]
        assert followup == {"state": "closed", "note": "visited and apologised"}
        assert not screen.check_action("followup", ())

    drive(app, scenario)


def test_edit_a_promised_date_needs_a_reason(village):
    record_id = station_case(village)
    before = village.get(record_id).fields["promised_date"]
    app = make_app(village)

    async def scenario(pilot):
        await edit_promised_date(pilot, app, record_id)
        value = app.screen.query_one("#edit-value", Input)
        assert value.value == before
        value.value = "2026-12-30"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "needs a reason" in shown(app, "#form-error")
        app.screen.query_one("#edit-reason", Input).value = "the office is closed that week"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        record = village.get(record_id)
        assert record.fields["promised_date"] == "2026-12-30"
        assert "the office is closed that week" in record.fields["notes"][-1]["entry"]
        assert "Promised completion" in shown(app, "#record-history")

    drive(app, scenario)


def finished_case(village: Any) -> str:
    record_id = station_case(village)
    village.change_status(record_id, "completed")
    return record_id


def test_a_name_or_id_number_mistyped_at_intake_can_be_corrected(village):
    """The agent typed 陈莉 for 陈丽: the record screen's edit corrects it, the search finds
    the right name, and a mistyped ID number is refused in words."""
    record_id = village.create("application", {
        "matter": "YB-002", "materials.received": ["M01"], **PERSON,
        "applicant.name": "陈莉"}).id
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, "e")
        modal = app.screen
        modal.query_one("#edit-field", Select).value = "applicant.id_number"
        await pilot.pause()
        modal.query_one("#edit-value", Input).value = "411525198903023981"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert app.screen is modal
        assert "校验位" in str(modal.query_one("#form-error", Static).render())
        modal.query_one("#edit-field", Select).value = "applicant.name"
        await pilot.pause()
        assert modal.query_one("#edit-value", Input).value == "陈莉"
        modal.query_one("#edit-value", Input).value = "  "
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert "姓名不能清空" in str(modal.query_one("#form-error", Static).render())
        modal.query_one("#edit-value", Input).value = "陈丽"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        assert "陈丽" in shown(app, "#record-title")
        assert village.get(record_id).fields["applicant.id_number"] == PERSON[
            "applicant.id_number"]
        assert record_id in [s.id for s in app.station.search("陈丽")]

    drive(app, scenario)


def test_rating_without_a_grade_asks_for_one_in_words(village):
    record_id = finished_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, "r")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RatingModal)
        said = shown(app, "#form-error")
        assert "请选择评价：满意、基本满意、不满意" in said
        assert "good" not in said
        assert "rating" not in village.get(record_id).fields

    drive(app, scenario)


def test_clearing_a_promised_date_is_refused_in_words(village):
    record_id = station_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await edit_promised_date(pilot, app, record_id)
        app.screen.query_one("#edit-value", Input).value = ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        said = shown(app, "#form-error")
        assert "请填写新的日期" in said and "内部错误" not in said

    drive(app, scenario)


@pytest.mark.parametrize("key", ["e", "m"])
def test_saving_a_small_edit_unchanged_closes_saying_nothing_changed(village, key):
    record_id = station_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, key)
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordScreen)
        assert toasts(app)[-1] == "没有修改。"  # not the store's "a change is required"
        assert len(village.history(record_id)) == 1

    drive(app, scenario)


BOXES = {"l": "#contact-note", "e": "#edit-value", "s": "#status-reason",
         "r": "#rating-comment", "f": "#followup-note"}


def case_for(village: Any, key: str) -> str:
    """A case on which ``key`` opens its modal."""
    record_id = finished_case(village) if key in "rf" else station_case(village)
    if key == "f":
        village.rate(record_id, "poor", "too slow")
    return record_id


@pytest.mark.parametrize("key", list(BOXES))
def test_leaving_a_small_modal_with_typing_asks_first(village, key):
    record_id = case_for(village, key)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, key)
        modal = app.screen
        assert isinstance(modal, FormModal)
        await pilot.press("escape")  # nothing typed: closes at once
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)

        await pilot.press(key)
        await pilot.pause()
        modal = app.screen
        box = modal.query_one(BOXES[key], Input)
        box.focus()
        await pilot.press(*"abc")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AskModal)
        assert app.screen.question == "放弃已输入的内容？"
        await pilot.press("escape")  # = keep editing
        await pilot.pause()
        assert app.screen is modal and box.value.endswith("abc")

        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, AskModal)
        await pilot.press("right", "enter")  # 继续编辑
        await pilot.pause()
        assert app.screen is modal and box.value.endswith("abc") and app.is_running

        await pilot.press("escape", "enter")  # 放弃
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)

    drive(app, scenario)


def test_quitting_from_a_modal_with_typing_can_discard_it(village):
    record_id = station_case(village)
    app = make_app(village)

    async def scenario(pilot):
        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        await pilot.press("l", *"called")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, AskModal)
        assert app.screen.question == "Discard what you typed?"
        await pilot.press("enter")  # Discard
        await pilot.pause()
        assert not app.is_running

    drive(app, scenario)


@pytest.mark.parametrize(("key", "radios"), [("r", "#rating-grade"), ("l", "#contact-via")])
def test_leaving_a_small_modal_with_a_choice_made_asks_first(village, key, radios):
    """A grade chosen (or another way of contact) and nothing typed is work too: Esc asks
    before it is lost, and "keep editing" keeps the choice."""
    record_id = case_for(village, key)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, key)
        modal = app.screen
        choice = modal.query_one(radios, RadioSet)
        choice.focus()
        await pilot.press("right", "right", "enter")  # the third: 不满意 / a message
        await pilot.pause()
        picked = choice.pressed_index
        assert picked == 2
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AskModal)
        assert app.screen.question == "放弃已输入的内容？"
        await pilot.press("escape")  # = keep editing
        await pilot.pause()
        assert app.screen is modal and choice.pressed_index == picked

    drive(app, scenario)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("reopened", [False, True])
def test_a_poor_rating_to_follow_up_keeps_every_key_of_the_footer_in_80_columns(
        village, lang, reopened):
    """A case rated poor shows its follow-up key: with it, the English footer ran past 80
    columns and cut "Quit" off (a reopened case, with its Docs key, lost more). The line
    above the fields says a follow-up is due and its key, as it does for conflicts."""
    record_id = case_for(village, "f")
    if reopened:
        village.change_status(record_id, "reopened")
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        assert footer_cut(app) == []
        assert ("^q 退出" if lang == "zh" else "^q Quit") in footer_text(app)
        alert = app.screen.query_one("#record-alert", Static)
        assert alert.display and alert.region.height >= 1
        assert ("差评待整改（按 f" if lang == "zh" else "(press f") in shown(
            app, "#record-alert")
        await pilot.press("f")
        await pilot.pause()
        assert app.screen.query("#followup-note")

    drive(app, scenario, size=(80, 24))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_chinese_note_wraps_between_characters_in_either_language(village, lang):
    """A value was cut at the column's edge wherever that fell: in the English app a line
    of a Chinese note began with its comma ('，承诺一周内寄回')."""
    record_id = village.create("application", {
        "matter": "SB-002", **PERSON, "authorisation.relationship": "self",
        "materials.received": ["M01", "M02"],
        "notes": "已一次告知所缺材料：M02（户口簿），其子女在外地，承诺一周内寄回，"
                 "到时由代办员电话确认后再报送镇中心"}).id
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        fields = app.screen.query_one("#record-fields", Static)
        lines = lines_of(fields)
        assert "承诺一周" in "".join(lines)
        # a line that goes on with a value (no heading) never starts with a comma
        going_on = [line.lstrip() for line in lines if line.startswith(" ")]
        assert going_on and not any(line.startswith(("，", "）", "：", "。"))
                                    for line in going_on)
        assert all(cell_len(line) <= fields.content_region.width for line in lines)

    drive(app, scenario, size=(80, 24))


async def paste(pilot: Any, box: Input, text: str) -> None:
    """Paste ``text`` into ``box`` as a terminal delivers a paste."""
    box.focus()
    box.post_message(events.Paste(text))
    await pilot.pause()


def test_a_note_pasted_in_several_lines_is_kept_whole(village):
    """A contact note copied from a chat comes in several lines: every line is in the box
    and in the saved contact, not only the first."""
    record_id = station_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, "l")
        box = app.screen.query_one("#contact-note", Input)
        await paste(pilot, box, "电话告知补交户口簿\r\n答应周五送来\n\n并带上委托书\n")
        assert box.value == "电话告知补交户口簿 答应周五送来 并带上委托书"
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        (contact,) = village.get(record_id).fields["contacts"]
        assert contact["entry"]["note"] == "电话告知补交户口簿 答应周五送来 并带上委托书"

    drive(app, scenario)


@pytest.mark.parametrize("key", list(BOXES))
def test_a_paste_one_over_the_limit_is_refused_in_words_and_saves_nothing(village, key):
    """Pasted text longer than a box takes is shown, and saving says how long it may be;
    the box used to drop the whole paste without a word."""
    record_id = case_for(village, key)
    before = len(village.history(record_id))
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await open_modal(pilot, app, record_id, key)
        if key == "e":
            app.screen.query_one("#edit-field", Select).value = "applicant.address"
            await pilot.pause()
        if key == "s":  # a move that takes its reason as it is
            moves = app.screen.query_one("#status-moves", OptionList)
            moves.highlighted = next(i for i in range(moves.option_count)
                                     if moves.get_option_at_index(i).id == "voided")
        if key == "r":
            app.screen.query_one("#grade-good", RadioButton).value = True
        box = app.screen.query_one(BOXES[key], Input)
        box.value = ""
        await paste(pilot, box, "村" * 1000 + "\n")
        assert box.value == "村" * 1000
        await pilot.press("ctrl+s")
        await settle(pilot, app)
        assert isinstance(app.screen, FormModal)
        assert "不能超过" in shown(app, "#form-error")
        assert len(village.history(record_id)) == before

    drive(app, scenario)


def test_a_promise_into_a_year_whose_holidays_are_not_published_reads_as_an_estimate(village):
    """The form says so the day the case is received; the record says it every day after,
    until the year's notice is entered."""
    record = received_late_in_the_year(village, village.now)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(make_record(record.id))
        await settle(pilot, app)
        fields = shown(app, "#record-fields")
        assert f"{record.fields['promised_date']}（节假日安排未公布，日期为估算）" in fields

    drive(app, scenario, size=(120, 40))
