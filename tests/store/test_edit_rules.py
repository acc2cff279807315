"""What an edit, a contact or a new record may say: everything the town centre would refuse
is refused here first, in a sentence, and nothing is written (so no work is quarantined at
sync), and dates of one record cannot contradict each other."""

from __future__ import annotations

import datetime as dt

import pytest

from station.domain.changeset import Op
from station.domain.errors import StationError, ValidationError
from tests.store.test_service import residence_permit

ALL_IN = {"materials.received": ["M01", "M02", "M03", "M04"], "materials.due": {}}


def refused(call, *args, **kwargs) -> dict[str, tuple[str, str]]:
    """The problems of a refused call, by field: (zh sentence, en sentence)."""
    with pytest.raises(ValidationError) as exc:
        call(*args, **kwargs)
    return {p.field: (p.message("zh"), p.message("en")) for p in exc.value.problems}


def history_length(station, record) -> int:
    return len(station.history(record.id))


@pytest.mark.parametrize("values,field", [
    ({"materials.due.X1": "2026-12-01"}, "materials.due.X1"),
    ({"materials.due": "2026-12-01"}, "materials.due"),
])
def test_a_promised_date_without_a_material_code_is_refused(station, values, field):
    record = station.create("application", residence_permit())
    problems = refused(station.update, record.id, values)
    assert "materials.due.M03=2026-12-01" in problems[field][1]
    assert "按材料编号" in problems[field][0]
    assert history_length(station, record) == 1


def test_a_material_the_matter_does_not_list_is_refused_and_codes_are_normalised(station):
    record = station.create("application", residence_permit())
    problems = refused(station.update, record.id, {"materials.due.M09": "2026-12-08"})
    assert "M01, M02, M03, M04" in problems["materials.due.M09"][1]
    station.update(record.id, {"materials.due.m03": "2026-12-08"}, reason="居民要求延后")
    assert station.get(record.id).fields["materials.due.M03"] == "2026-12-08"


@pytest.mark.parametrize("field,action_zh,action_en", [
    ("contacts", "记录联系", "log a contact"), ("rating", "评价", "rate"),
    ("followup", "差评整改", "follow-up")])
def test_fields_with_their_own_action_are_not_edited(station, field, action_zh, action_en):
    record = station.create("application", residence_permit())
    problems = refused(station.update, record.id, {field: "x"})
    assert action_zh in problems[field][0] and action_en in problems[field][1]


def test_the_list_of_editable_fields_names_only_editable_ones(station):
    record = station.create("application", residence_permit())
    ((_, en),) = refused(station.update, record.id, {"receipt": "X"}).values()
    listed = en.split(": ", 1)[1].split(", ")
    assert "notes" in listed and "applicant.phone" in listed
    assert not {"receipt", "status", "contacts", "rating", "followup", "outcome"} & set(listed)


def test_a_promise_cannot_come_before_the_case_was_received(station):
    record = station.create("application", residence_permit(received_on="2026-10-30"))
    problems = refused(station.update, record.id, {"promised_date": "2020-01-01"},
                       reason="窗口要求")
    zh, en = problems["promised_date"]
    assert zh == "承诺办结时限 2020-01-01 不能早于受理日期 2026-10-30"
    assert en == "Promised completion 2020-01-01 cannot be before received on 2026-10-30"
    new = residence_permit(**{"materials.due": {"M03": "2020-01-01", "M04": "2026-12-04"}})
    assert "materials.due.M03" in refused(station.create, "application", new)


def test_a_case_cannot_be_received_in_the_future(station):
    problems = refused(station.create, "application", residence_permit(received_on="2027-01-05"))
    assert "不能晚于今天 2026-11-23" in problems["received_on"][0]


def test_a_received_case_keeps_its_essential_materials(station):
    record = station.create("application", residence_permit(**ALL_IN))
    assert record.status["to"] == "received"
    problems = refused(station.update, record.id, {"materials.received": ["M02", "M03", "M04"]})
    zh, en = problems["materials.received"]
    assert "必要材料" in zh and "essential" in en
    assert station.get(record.id).fields["materials.received"] == ["M01", "M02", "M03", "M04"]


def test_a_visit_is_not_made_in_the_future_and_the_next_one_comes_after_it(station):
    problems = refused(station.create, "visit", {
        "resident.name": "张三", "reason": "elderly", "actual_at": "2027-01-01 10:00",
        "next_visit": "2020-01-01"})
    assert "还没有到" in problems["actual_at"][0]
    assert "next_visit" in problems
    # a year no visit is made in is refused before it is compared with today, as a date is
    assert "太晚了" in refused(station.create, "visit", {
        "resident.name": "张三", "actual_at": "2099-01-01 10:00"})["actual_at"][0]
    visit = station.create("visit", {"resident.name": "张三", "reason": "elderly",
                                     "actual_at": "2026-11-20 10:00"})
    assert "next_visit" in refused(station.update, visit.id, {"next_visit": "2026-11-19"})
    station.update(visit.id, {"next_visit": "2026-12-20"})


def test_a_visit_made_later_today_is_refused_but_a_visit_planned_for_then_is_kept(station, now):
    """The clock reads 09:30 in China: a visit written up as made at 14:30 today has not
    happened yet (the old check compared dates only and kept it), while a visit planned for
    14:30 is what scheduling is for. A few minutes ahead is a fast clock, not a slip."""
    problems = refused(station.create, "visit", {"resident.name": "张三",
                                                 "actual_at": "2026-11-23 14:30"})
    zh, en = problems["actual_at"]
    assert zh.startswith("实际时间 2026-11-23 14:30 还没有到（现在是 2026-11-23 09:30）")
    assert "预约时间" in zh
    assert en.startswith("Visited at 2026-11-23 14:30 has not come yet (it is now "
                         "2026-11-23 09:30)")
    planned = station.create("visit", {"resident.name": "张三",
                                       "scheduled_at": "2026-11-23 14:30"})
    assert "actual_at" in refused(station.update, planned.id, {"actual_at": "2026-11-23 14:30"})
    assert station.get(planned.id).fields.get("actual_at") is None
    station.update(planned.id, {"actual_at": "2026-11-23 09:40"})  # within the clock's grace
    assert "actual_at" in refused(station.update, planned.id, {"actual_at": "2026-11-23 09:41"})
    now.advance(hours=5)  # 14:30: the visit was made
    station.update(planned.id, {"actual_at": "2026-11-23 14:30"})
    assert station.get(planned.id).fields["actual_at"] == "2026-11-23T14:30"


def test_a_visit_time_is_compared_with_china_time_whatever_zone_the_clock_gives(station, now):
    """01:30 UTC is 09:30 in China: a visit at 09:00 China time was made, one at 10:00
    was not."""
    now.value = now.value.astimezone(dt.UTC)
    station.create("visit", {"resident.name": "张三", "actual_at": "2026-11-23 09:00"})
    assert "actual_at" in refused(station.create, "visit", {"resident.name": "张三",
                                                            "actual_at": "2026-11-23 10:00"})


def test_a_visit_time_in_the_wrong_shape_names_the_date_and_time_format(station):
    problems = refused(station.create, "visit", {"resident.name": "张三",
                                                 "actual_at": "2026-11-20 25:00"})
    assert "2026-11-23 14:30" in problems["actual_at"][0]
    assert "date and time" in problems["actual_at"][1]


def test_a_contact_needs_what_was_said_and_is_for_applications(station):
    record = station.create("application", residence_permit())
    assert "note" in refused(station.add_contact, record.id, "phone", "  ")
    problems = refused(station.add_contact, record.id, "phone", "很" * 5000)
    assert "500" in problems["note"][1]
    resident = station.create("resident", {"resident.name": "赵秀兰"})
    problems = refused(station.add_contact, resident.id, "phone", "电话通知")
    assert problems["contacts"][0] == "联系记录只用于代办件"
    assert history_length(station, record) == 1


def test_text_that_is_not_valid_unicode_is_refused_not_crashed_on(station):
    record = station.create("application", residence_permit())
    problems = refused(station.update, record.id, {"notes": "坏\udcff字"})
    assert "encoding" in problems["notes"][1] and "编码" in problems["notes"][0]


def test_choices_are_listed_by_their_chinese_names_in_chinese(station):
    record = station.create("visit", {"resident.name": "张三", "reason": "elderly"})
    problems = refused(station.update, record.id, {"reason": "nonsense"})
    zh, en = problems["reason"]
    assert "elderly" in en and "elderly" not in zh and "老年人" in zh


def test_an_edit_that_changes_nothing_says_so(station):
    record = station.create("application", residence_permit())
    zh, en = refused(station.update, record.id, {"applicant.name": "王桂英"})["record"]
    assert zh.startswith("没有修改") and en.startswith("Nothing to change")


def test_a_local_change_the_centre_would_refuse_is_not_saved(station):
    """The safety net under the form checks: the centre's own changeset check."""
    record = station.create("application", residence_permit())
    with pytest.raises(StationError):
        station.ledger.commit(record_id=record.id, kind="application", scope="V001",
                              author="李春梅", origin="V001",
                              build=lambda state: [Op("set", "materials.due.X1", "2026-12-01")])
    assert history_length(station, record) == 1
