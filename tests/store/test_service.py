"""The Station API as the CLI and TUI use it: forms, statuses, search, history."""

from __future__ import annotations

import pytest

from station.domain.errors import AuthorityRefused, TransitionRefused, ValidationError
from station.store.errors import NoSuchRecord, Tampered
from station.store.service import Station
from station.wire.codec import unpack_state

APPLICANT = {
    "applicant.name": "王桂英",
    "applicant.id_number": "11010519491231002x",
    "applicant.phone": "139 1234 5678",
    "applicant.address": "青石村三组 12 号",
    "applicant.village_group": "三组",
}


def residence_permit(**extra):
    # HJ-001: M01, M02 essential; M03, M04 may be missing (容缺) with a promised date.
    return {"matter": "HJ-001", **APPLICANT, "materials.received": ["M01", "M02"],
            "materials.due": {"M03": "2026-12-04", "M04": "2026-12-04"}, **extra}


def test_new_application_is_received_with_receipt_and_promised_date(station):
    record = station.create("application", residence_permit())
    assert record.receipt == "V001-20261123-0001"
    assert record.status["to"] == "awaiting_materials"
    assert record.fields["applicant.id_number"] == "11010519491231002X"
    assert record.fields["applicant.phone"] == "13912345678"
    assert record.fields["agent"] == "李春梅"
    # 15 working days from Mon 2026-11-23 on the official calendar.
    assert record.fields["promised_date"] == "2026-12-14"


def test_all_materials_in_means_received(station):
    values = residence_permit()
    values["materials.received"] = ["M01", "M02", "M03", "M04"]
    del values["materials.due"]
    assert station.create("application", values).status["to"] == "received"


def test_every_problem_of_a_form_is_reported_at_once(station):
    values = residence_permit()
    values["applicant.id_number"] = "110105194912310021"
    values["applicant.phone"] = "12345"
    values["materials.due"] = {"M03": "not a date", "M04": "2026-12-04"}
    with pytest.raises(ValidationError) as exc:
        station.create("application", values)
    fields = {p.field for p in exc.value.problems}
    assert fields == {"applicant.id_number", "applicant.phone", "materials.due.M03"}
    assert "校验位" in exc.value.message("zh")


def test_missing_optional_material_needs_a_promised_date(station):
    values = residence_permit()
    del values["materials.due"]
    with pytest.raises(ValidationError) as exc:
        station.create("application", values)
    assert {p.field for p in exc.value.problems} == {"materials.due.M03", "materials.due.M04"}
    assert "promised date" in exc.value.message("en")


def test_missing_essential_material_refuses_to_receive_but_allows_a_draft(station):
    values = residence_permit()
    values["materials.received"] = ["M02"]
    with pytest.raises(TransitionRefused) as exc:
        station.create("application", values)
    assert "essential materials are missing" in exc.value.message("en")
    assert "身份证" in exc.value.message("zh")
    draft = station.create("application", values, status="draft")
    assert draft.status["to"] == "draft"


def test_unknown_matter_or_material_refused(station):
    with pytest.raises(Exception) as exc:
        station.create("application", {**residence_permit(), "matter": "XX-999"})
    assert "XX-999" in str(exc.value)
    with pytest.raises(ValidationError):
        station.create("application", {**residence_permit(), "materials.received": ["M01", "M77"]})


def test_update_writes_only_what_changed_and_keeps_history(station):
    record = station.create("application", residence_permit())
    station.update(record.receipt, {"applicant.phone": "13800000000",
                                    "applicant.name": "王桂英"})
    history = station.history(record.receipt)
    assert len(history) == 2
    assert [op["f"] for op in history[1]["ops"]] == ["applicant.phone"]
    assert history[1]["author"] == "李春梅" and history[1]["device"] == station.device
    with pytest.raises(ValidationError):
        station.update(record.receipt, {"applicant.phone": "13800000000"})  # nothing changed



def test_an_edit_saved_elsewhere_while_a_form_is_checked_is_kept(station, monkeypatch):
    """A save reads the record once, before its transaction; if another process (a sync, a
    second window) writes the record in between, the save must build on that write, not on
    what it read."""
    record = station.create("application", residence_permit())
    other = station.clone()
    clean = station._clean

    def clean_while_other_saves(*args, **kwargs):
        other.update(record.id, {"applicant.address": "青石村五组 3 号"})
        return clean(*args, **kwargs)

    monkeypatch.setattr(station, "_clean", clean_while_other_saves)
    try:
        saved = station.update(record.id, {"applicant.phone": "13800000000"})
    finally:
        other.close()
    assert saved.fields["applicant.phone"] == "13800000000"
    assert saved.fields["applicant.address"] == "青石村五组 3 号"
    assert not saved.conflicts
    assert station.get(record.id) == saved
    assert len(station.history(record.id)) == 3

def test_lists_by_status_and_due_follow_every_kind_of_save(station, now):
    """An edit that leaves status and dates alone skips the records' index columns; one that
    moves them must still move the record between the lists."""
    record = station.create("application", residence_permit())
    station.update(record.id, {"applicant.address": "青石村五组 3 号"})
    assert [s.id for s in station.list(status="awaiting_materials")] == [record.id]
    station.update(record.id, {"materials.received": ["M01", "M02", "M03", "M04"]})
    station.change_status(record.id, "submitted")
    assert station.list(status="awaiting_materials") == []
    assert [s.id for s in station.list(status="submitted")] == [record.id]
    now.advance(days=30)
    assert [s.id for s in station.list(due="overdue")] == [record.id]
    station.update(record.id, {"promised_date": "2027-03-01"}, reason="材料需补盖公章")
    assert station.list(due="overdue") == []
    assert [s.id for s in station.search("wgy", status="submitted")] == [record.id]
    assert station.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_receiving_the_last_material_then_completing_needs_the_centre(station):
    record = station.create("application", residence_permit())
    station.update(record.id, {"materials.received": ["M01", "M02", "M03", "M04"]})
    submitted = station.change_status(record.id, "submitted")
    assert submitted.status["to"] == "submitted"
    with pytest.raises(TransitionRefused) as exc:
        station.change_status(record.id, "completed")
    assert "town centre decides" in exc.value.message("en")


def test_station_decided_matter_can_be_completed_at_the_station(station):
    matter = next(m for m in station.catalogue if m.decided_at == "station" and not m.is_bundle)
    values = {"matter": matter.code, **APPLICANT,
              "materials.received": [m.code for m in matter.materials]}
    record = station.create("application", values)
    assert station.change_status(record.id, "completed").status["to"] == "completed"
    with pytest.raises(TransitionRefused):
        station.change_status(record.id, "received")
    reopened = station.change_status(record.id, "reopened", reason="补充材料")
    assert reopened.status == {"to": "reopened", "round": 1, "reason": "补充材料"}


def test_a_station_cannot_write_centre_authority_fields(station):
    record = station.create("application", residence_permit())
    with pytest.raises(AuthorityRefused) as exc:
        station.update(record.id, {"outcome": "completed"})
    assert "town centre" in exc.value.message("en")


def test_void_needs_a_reason_and_keeps_the_record(station):
    record = station.create("application", residence_permit())
    with pytest.raises(TransitionRefused):
        station.void(record.id, "  ")
    voided = station.void(record.id, "重复录入")
    assert voided.status["to"] == "voided"
    assert station.get(record.receipt).fields["applicant.name"] == "王桂英"
    with pytest.raises(TransitionRefused):
        station.change_status(record.id, "submitted")


def test_search_by_name_pinyin_initials_receipt_id_and_phone(station):
    target = station.create("application", residence_permit())
    station.create("resident", {"resident.name": "王建国", "resident.phone": "13700000000"})
    station.create("visit", {"resident.name": "张秀兰", "reason": "elderly"})
    for query in ("王桂", "wangguiying", "wanggui", "wgy", "V001-20261123-0001",
                  "11010519491231002x", "13912345678"):
        found = [s.id for s in station.search(query)]
        assert found[0] == target.id, query
    assert {s.name for s in station.search("王")} == {"王桂英", "王建国"}
    assert station.search("zhangxiulan")[0].kind == "visit"
    assert station.search("nobody") == []


def test_a_changed_phone_or_id_number_is_found_by_its_new_value_only(station):
    target = station.create("application", residence_permit())
    station.update(target.id, {"applicant.address": "青石村五组 3 号"})  # tokens kept
    assert [s.id for s in station.search("13912345678")] == [target.id]
    station.update(target.id, {"applicant.phone": "13800000000",
                               "applicant.id_number": "110105194912310038"})
    assert [s.id for s in station.search("13800000000")] == [target.id]
    assert [s.id for s in station.search("110105194912310038")] == [target.id]
    assert station.search("13912345678") == []
    assert station.search("11010519491231002X") == []
    assert [s.id for s in station.same_person("110105194912310038")] == [target.id]


def test_filters_narrow_a_search_past_hundreds_of_namesakes(station):
    # 600 residents whose names sort before 王桂英: the one application must still be found
    # when the agent searches "王" in the applications list awaiting materials.
    station.create_many([station.prepare("resident", {"resident.name": "王一"})
                         for _ in range(600)])
    target = station.create("application", residence_permit())
    found = station.search("王", kind="application", status="awaiting_materials", limit=5)
    assert [s.id for s in found] == [target.id]
    assert station.search("王", kind="application", status="received") == []
    assert len(station.search("王", kind="resident", limit=50)) == 50


def test_due_filters_follow_the_calendar(station, now):
    target = station.create("application", residence_permit())
    station.create("resident", {"resident.name": "王建国"})
    assert station.list(due="overdue") == []
    assert station.count(kind="application", due="overdue") == 0
    now.advance(days=30)  # 2026-12-23: every promised date has passed
    assert [s.id for s in station.list(due="overdue")] == [target.id]
    assert [s.id for s in station.search("wgy", due="overdue")] == [target.id]
    assert station.count(kind="application", due="overdue") == 1
    assert station.count(kind="resident") == 1


def test_a_residents_page_finds_every_record_for_the_same_id_number(station):
    station.create("application", residence_permit())
    station.create("visit", {"resident.name": "王桂英", "resident.id_number":
                             "11010519491231002X", "reason": "elderly"})
    station.create("resident", {"resident.name": "另一人"})
    kinds = sorted(s.kind for s in station.same_person("11010519491231002x"))
    assert kinds == ["application", "visit"]


def test_choices_accept_chinese_labels(station):
    record = station.create("resident", {"resident.name": "赵大爷",
                                         "categories": "独居老人、老年人"})
    assert record.fields["categories"] == ["elderly", "living_alone"]


def test_unknown_record_reference(station):
    with pytest.raises(NoSuchRecord) as exc:
        station.get("V001-20991231-0001")
    assert "V001-20991231-0001" in exc.value.message("en")


def test_a_damaged_record_body_is_rebuilt_from_its_changesets(station, home, now):
    record = station.create("application", residence_permit())
    other = station.create("resident", {"resident.name": "赵秀兰"})
    blob = bytearray(station.db.execute("SELECT state FROM records WHERE id=?",
                                        [record.id]).fetchone()[0])
    blob[30] ^= 0x40
    station.db.execute("UPDATE records SET state=? WHERE id=?", [bytes(blob), record.id])
    assert station.get(record.id).fields["applicant.name"] == "王桂英"
    assert station.get(other.id).name == "赵秀兰"


def test_a_record_stored_before_states_were_compressed_still_opens(station):
    """Stations made by an earlier version hold each record's state as sealed plain JSON."""
    record = station.create("application", residence_permit())
    version, blob = station.db.execute("SELECT version, state FROM records WHERE id=?",
                                       [record.id]).fetchone()
    aad = f"records|{record.id}|{version}"
    packed = station.keys.open("records", blob, aad)
    plain = unpack_state(packed)
    assert plain[:1] == b"{" and len(packed) < len(plain)  # stored compressed now
    station.db.execute("UPDATE records SET state=? WHERE id=?",
                       [station.keys.seal("records", plain, aad), record.id])
    assert station.get(record.id).fields["applicant.name"] == "王桂英"
    station.update(record.id, {"applicant.phone": "13800001111"})  # and takes new changes
    assert station.get(record.id).fields["applicant.phone"] == "13800001111"


def test_a_tampered_changeset_is_named_and_other_records_stay_usable(station):
    record = station.create("application", residence_permit())
    other = station.create("resident", {"resident.name": "赵秀兰"})
    cid = station.history(record.id)[0]["changeset"]
    for table, column, key in (("records", "state", record.id), ("changesets", "body", cid)):
        blob = bytearray(station.db.execute(f"SELECT {column} FROM {table} WHERE id=?",
                                            [key]).fetchone()[0])
        blob[-5] ^= 1
        station.db.execute(f"UPDATE {table} SET {column}=? WHERE id=?", [bytes(blob), key])
    with pytest.raises(Tampered) as exc:
        station.get(record.id)
    assert record.receipt in exc.value.message("en")
    assert station.get(other.id).name == "赵秀兰"
    assert len(station.list()) == 2


def test_moving_a_ciphertext_to_another_row_is_detected(station):
    a = station.create("resident", {"resident.name": "甲某"})
    b = station.create("resident", {"resident.name": "乙某"})
    label_a = station.db.execute("SELECT label FROM records WHERE id=?", [a.id]).fetchone()[0]
    station.db.execute("UPDATE records SET label=? WHERE id=?", [label_a, b.id])
    reopened = Station(station.home, station.db, station.keys, station.agent, station.now)
    names = {s.id: s.name for s in reopened.list()}
    assert names[a.id] == "甲某"
    assert names[b.id] == "⚠"  # refused, not shown as 甲某
