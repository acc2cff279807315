"""Staff endpoints: the bearer token, decisions (办结/退回) that flow down to the station, and
publishing a new matter catalogue that every station gets on pull."""

from __future__ import annotations

import json

import pytest

from station.centre.errors import BadField
from station.domain.errors import TransitionRefused
from station.sync.client import enroll
from station.sync.engine import pull, push
from tests.conftest import FakeNow

from .helpers import (
    anonymous,
    application,
    catalogue_json,
    enrolled,
    error_of,
    issue_code,
    link,
    new_station,
    publish,
)

STAFF_CALLS = [
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V001"}}),
    ("POST", "/v1/staff/revoke", {"json": {"station": "V001"}}),
    ("POST", "/v1/staff/decide", {"json": {"receipt": "V001-20261123-0001",
                                           "outcome": "completed"}}),
    ("POST", "/v1/staff/catalogue", {"content": b"{}"}),
    ("GET", "/v1/staff/stations", {}),
]


@pytest.fixture
def v1(centre_app, staff_headers, tmp_path):
    _, client = centre_app
    station = enrolled(client, staff_headers, tmp_path, "V001")
    yield station
    station.close()


def test_staff_endpoints_need_the_staff_token(centre_app, staff_headers, v1):
    centre, client = centre_app
    token = staff_headers["Authorization"][len("Bearer "):]
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong"},
                    {"Authorization": f"Bearer {token}x"}, {"Authorization": token},
                    {"Authorization": f"Basic {token}"}):
        for method, path, kwargs in STAFF_CALLS:
            error = error_of(client.request(method, path, headers=headers, **kwargs), 403)
            assert error["code"] == "centre.staff_only", (headers, path)
            assert "staff token" in error["en"] and "工作人员令牌" in error["zh"]
    assert centre.repo.station("V001").revoked_ms is None  # the refused revoke did nothing
    assert client.get("/v1/staff/stations", headers=staff_headers).status_code == 200


def test_a_decision_flows_down_to_the_station(centre_app, staff_headers, v1):
    centre, client = centre_app
    completed, returned = application(v1), application(v1, name="张建国")
    # HJ-001 is decided at the centre: the station itself may not complete it.
    with pytest.raises(TransitionRefused):
        v1.change_status(completed.id, "completed")
    push(v1.sync, link(client, v1))
    pull(v1.sync, link(client, v1), station=v1)

    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": completed.receipt, "outcome": "completed", "reason": "准予办理",
        "staff": "镇中心 王科长"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["record"], body["receipt"], body["outcome"]) == (
        completed.id, completed.receipt, "completed")
    assert body["status"]["to"] == "completed"
    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": f"  {returned.receipt} ", "outcome": "returned", "reason": "户口簿信息不符"})
    assert reply.status_code == 200, reply.text

    (batch,) = pull(v1.sync, link(client, v1), station=v1)
    assert batch.new == 2
    done = v1.get(completed.id)
    assert done.status["to"] == "completed"
    assert (done.fields["outcome"], done.fields["outcome_reason"]) == ("completed", "准予办理")
    back = v1.get(returned.id)
    assert back.status["to"] == "returned"
    assert (back.fields["outcome"], back.fields["outcome_reason"]) == ("returned", "户口簿信息不符")
    assert centre.find_receipt(completed.receipt)[0].status == "completed"

    # Deciding it again is refused by the rules, with a 400 and a sentence, not a crash.
    again = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": completed.receipt, "outcome": "returned", "reason": "重复"})
    assert 400 <= again.status_code < 500 and again.json()["error"]["en"]


def test_returning_an_application_without_a_reason_is_refused(centre_app, staff_headers, v1):
    """The station must tell the resident once what to put right (一次告知): a return with
    no reason left it nothing to say, and `decide --help` promised a reason was needed."""
    centre, client = centre_app
    case = application(v1)
    push(v1.sync, link(client, v1))
    for reason in ("", "  \n "):
        error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
            "receipt": case.receipt, "outcome": "returned", "reason": reason}), 400)
        assert "reason" in error["en"] and "原因" in error["zh"]
    assert centre.find_receipt(case.receipt)[0].status == "received"
    assert client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "returned", "reason": "缺户口簿"}).status_code == 200


def test_deciding_an_unknown_receipt_is_404(centre_app, staff_headers):
    _, client = centre_app
    error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": "V001-20261123-0404", "outcome": "completed"}), 404)
    assert error["code"] == "centre.not_found" and "V001-20261123-0404" in error["en"]
    # in Chinese as a whole sentence, saying what to do: no English word in it
    assert error["zh"].startswith("镇中心没有编号为 V001-20261123-0404 的记录") and \
        "record" not in error["zh"] and "sync first" in error["en"]


def test_deciding_a_home_visit_says_only_applications_are_decided(centre_app, staff_headers,
                                                                   v1):
    """Not the lattice's "no such status", with "completed" left untranslated in Chinese."""
    centre, client = centre_app
    visit = v1.create("visit", {"resident.name": "张秀兰", "reason": "elderly"})
    push(v1.sync, link(client, v1))
    error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": visit.receipt, "outcome": "completed"}), 400)
    assert error["en"] == (f"{visit.receipt} is a home visit, not an application: only "
                           "applications are completed or returned by the centre")
    assert error["zh"].startswith(f"{visit.receipt} 是上门服务记录，不是代办件")
    assert centre.find_receipt(visit.receipt)[0].status == visit.status["to"]


def test_a_receipt_typed_in_small_letters_is_the_same_case(centre_app, staff_headers, v1):
    centre, client = centre_app
    case = application(v1)
    push(v1.sync, link(client, v1))
    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": f" {case.receipt.lower()} ", "outcome": "completed"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["receipt"] == case.receipt
    assert centre.find_receipt(case.id.upper())[0].status == "completed"


def test_a_malformed_decision_is_400(centre_app, staff_headers):
    _, client = centre_app
    for body in ({"receipt": "V001-20261123-0001", "outcome": "approved"},
                 {"receipt": "", "outcome": "completed"}, {"outcome": "completed"}):
        error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json=body), 400)
        assert error["code"] == "centre.bad_request", body
    # a reason too long for the record is the person's to shorten: said as the limit
    error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": "V001-20261123-0001", "outcome": "completed", "reason": "长" * 501}), 400)
    assert error["code"] == "domain.invalid" and "500" in error["en"] and "500" in error["zh"]


def test_a_receipt_held_by_two_records_is_409_and_the_record_id_still_works(
        centre_app, staff_headers, tmp_path):
    """A reinstalled laptop starts its receipt numbers again: two records share one."""
    _, client = centre_app
    now = FakeNow()
    old = enrolled(client, staff_headers, tmp_path, "V001", now=now)
    first = application(old)
    push(old.sync, link(client, old))
    new = new_station(tmp_path, "V001", home="reinstalled", now=now)
    enroll(new, issue_code(client, staff_headers, "V001"), client=anonymous(client))
    second = application(new, name="张建国")
    assert second.receipt == first.receipt and second.id != first.id
    push(new.sync, link(client, new))

    error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": first.receipt, "outcome": "completed"}), 409)
    assert error["code"] == "centre.ambiguous_receipt"
    assert first.id in error["en"] and second.id in error["en"] and first.receipt in error["zh"]
    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": second.id, "outcome": "completed"})
    assert reply.status_code == 200 and reply.json()["record"] == second.id
    old.close()
    new.close()


def test_a_published_catalogue_reaches_every_station(centre_app, staff_headers, v1, tmp_path):
    centre, client = centre_app
    bus = enrolled(client, staff_headers, tmp_path, "BUS01", ("V001", "V002"))
    shipped = v1.catalogue.version
    reply = publish(client, staff_headers, catalogue_json("2026.12.1"))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"version": "2026.12.1", "matters": len(v1.catalogue)}
    assert centre.catalogue().version == "2026.12.1"
    for station in (v1, bus):
        assert station.catalogue.version == shipped
        (batch,) = pull(station.sync, link(client, station), station=station)
        assert batch.catalogue == "2026.12.1"
        assert station.catalogue.version == "2026.12.1"
    bus.close()


def test_a_catalogue_leaving_out_a_matter_with_cases_is_refused(centre_app, staff_headers,
                                                                   v1):
    """Published, it would strand those cases: the station could not move them on (its
    catalogue no longer knows their matter) and the centre could not decide them."""
    centre, client = centre_app
    case = application(v1)  # HJ-001
    push(v1.sync, link(client, v1))
    shipped = centre.catalogue().to_dict()
    without = [m for m in shipped["matters"] if m["code"] != "HJ-001"]
    error = error_of(publish(client, staff_headers, catalogue_json("2026.12.1",
                                                                   matters=without)), 400)
    assert "HJ-001" in error["en"] and "HJ-001" in error["zh"] and "followed" in error["en"]
    assert centre.catalogue().version == shipped["version"]
    assert client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "completed"}).status_code == 200
    # a matter no case was filed under may go
    unused = [m for m in shipped["matters"] if m["code"] != "SB-002"]
    assert publish(client, staff_headers, catalogue_json("2026.12.1", matters=unused)
                   ).status_code == 200


def test_publishing_the_same_version_twice_is_400(centre_app, staff_headers):
    centre, client = centre_app
    shipped = centre.catalogue().version
    error = error_of(publish(client, staff_headers, catalogue_json(shipped)), 400)
    assert shipped in error["en"]
    assert publish(client, staff_headers, catalogue_json("2026.12.1")).status_code == 200
    error = error_of(publish(client, staff_headers, catalogue_json("2026.12.1")), 400)
    assert "2026.12.1" in error["en"] and "already published" in error["en"]
    assert "已经发布过" in error["zh"]
    assert publish(client, staff_headers, catalogue_json("2026.12.2")).status_code == 200
    # Going back to a version published before is refused too.
    error = error_of(publish(client, staff_headers, catalogue_json("2026.12.1")), 400)
    assert "2026.12.1" in error["en"]
    assert centre.repo.count("catalogue") == 2


def broken_matter() -> bytes:
    data = json.loads(catalogue_json("2026.12.1"))
    data["matters"][0]["time_limit_days"] = "fifteen"
    return json.dumps(data, ensure_ascii=False).encode()


def duplicate_code() -> bytes:
    data = json.loads(catalogue_json("2026.12.1"))
    data["matters"][1]["code"] = data["matters"][0]["code"]
    return json.dumps(data, ensure_ascii=False).encode()


def test_a_malformed_catalogue_is_400_naming_the_problem(centre_app, staff_headers):
    centre, client = centre_app
    for raw, says in ((b"not json", "JSON"), (b"\xff\xfe", "UTF-8"),
                      (b'{"version": "x"}', "published"),
                      (broken_matter(), "time_limit_days"), (duplicate_code(), "already used")):
        error = error_of(publish(client, staff_headers, raw), 400)
        assert says in error["en"], error
    assert centre.repo.count("catalogue") == 0
    assert centre.catalogue().version != "2026.12.1"


def edited_catalogue(edit) -> bytes:
    """A new catalogue version changed by ``edit``, written with JSON escapes (so it can carry
    the lone surrogates a hand-made file can hold)."""
    data = json.loads(catalogue_json("2026.12.1"))
    edit(data)
    return json.dumps(data).encode()


def test_a_catalogue_with_unusable_text_or_version_is_400_naming_the_field(centre_app,
                                                                          staff_headers):
    """Each of these was a 500 (or, the NUL, published to every station): str.isdigit takes
    "²" and int() 5000 digits refuses, and nothing can store or send a lone surrogate."""
    centre, client = centre_app

    def matter(key, value):
        return lambda data: data["matters"][0].update({key: value})

    cases = [
        (lambda data: data.update(version="2026.\u00b2"), "version"),
        (lambda data: data.update(version="2027." + "9" * 5000), "version"),
        (lambda data: data.update(version="2027.\ud800"), "version"),
        (matter("name_zh", "户口\ud800"), "name_zh"),
        (matter("name_zh", "户口\x00迁移"), "name_zh"),
        (matter("department_en", "Police\x07"), "department_en"),
        (lambda data: data["matters"][0]["materials"][0].update(name_en="ID\udc00"), "name_en"),
        (matter("code", "HJ-\ud800"), "code"),
        (matter("\ud800", 1), "unknown field"),
        (matter("parts", ["\ud800", "HJ-002"]), "parts"),
    ]
    for edit, field in cases:
        error = error_of(publish(client, staff_headers, edited_catalogue(edit)), 400)
        assert error["code"] == "domain.catalogue" and field in error["en"], (field, error)
    assert centre.repo.count("catalogue") == 0
    assert publish(client, staff_headers, catalogue_json("2026.12.1")).status_code == 200


def test_stored_text_with_control_characters_is_refused_at_the_door(centre_app, staff_headers,
                                                                    v1):
    """A NUL in who decided was stored in the changeset sent down to the station (and would
    be a 500 on PostgreSQL); the same for the other text the staff endpoints keep."""
    centre, client = centre_app
    record = application(v1)
    push(v1.sync, link(client, v1))
    decision = {"receipt": record.receipt, "outcome": "completed"}
    for field, value in (("staff", "a\x00b"), ("staff", "王\x1b[2J"), ("reason", "准予\x00"),
                         ("receipt", f"{record.receipt}\x00")):
        error = error_of(client.post("/v1/staff/decide", headers=staff_headers,
                                     json={**decision, field: value}), 400)
        typed = field in ("staff", "reason")  # typed by a person: the domain's words
        assert error["code"] == ("domain.invalid" if typed else "centre.bad_request"), error
        assert field in error["en"], error
    error = error_of(client.post("/v1/staff/revoke", headers=staff_headers,
                                 json={"station": "V001\x00"}), 400)
    assert "station" in error["en"]
    assert centre.repo.station("V001").revoked_ms is None
    assert centre.repo.count() == 1  # only the application: no decision was stored
    reply = client.post("/v1/staff/decide", headers=staff_headers,
                        json={**decision, "reason": "材料齐全\n准予办理"})
    assert reply.status_code == 200, reply.text  # a reason may run over several lines


def test_enroll_code_requests_are_validated(centre_app, staff_headers):
    _, client = centre_app
    for body in ({"station": "V 001"}, {"station": ""}, {"station": "V001", "expires_s": 1},
                 {"station": "V001", "expires_s": 10**9}):
        error = error_of(client.post("/v1/staff/enroll-code", json=body,
                                     headers=staff_headers), 400)
        assert error["code"] == "centre.bad_request", body


def test_deciding_again_settles_two_decisions_made_at_once(centre_app, staff_headers, v1):
    """Two staff decided one case at the same moment on two centre processes: the station
    cannot settle that (only the centre decides), so the centre deciding again must."""
    from station.wire.codec import encode_changeset
    from tests.store.test_conflicts import racing_decisions

    centre, client = centre_app
    case = application(v1)
    push(v1.sync, link(client, v1))
    (rec,) = centre.find_receipt(case.receipt)
    racing = racing_decisions(centre.projector.state(rec), centre.now_ms())
    with centre.repo.writing(centre.now_ms()) as tx:  # as each process writes its decision
        tx.append_many([centre._entry(tx, cs, encode_changeset(cs)) for cs in racing])
    centre.projector.catch_up()
    pull(v1.sync, link(client, v1), station=v1)
    assert {c.field for c in v1.conflicts()} == {"outcome", "outcome_reason", "status"}

    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "returned", "reason": "户口簿信息不符，请补正",
        "staff": "镇中心 王科长"})
    assert reply.status_code == 200, reply.text
    pull(v1.sync, link(client, v1), station=v1)
    assert v1.conflicts() == []
    settled = v1.get(case.id)
    assert settled.status["to"] == "returned"
    assert (settled.fields["outcome"], settled.fields["outcome_reason"]) == (
        "returned", "户口簿信息不符，请补正")
    # both earlier decisions are still in the record's history
    authors = {h["author"] for h in v1.history(case.id)}
    assert {"镇中心 王科长", "镇中心 李干事"} <= authors
    assert centre.find_receipt(case.receipt)[0].status == "returned"


def test_staff_see_two_decisions_made_at_once_as_the_centres_to_settle(
        centre_app, staff_headers, v1):
    """Two staff decided one case at once: the staff's own listing shows both decisions with
    who made them, says the centre settles them, and is empty once it decides again."""
    from station.wire.codec import encode_changeset
    from tests.store.test_conflicts import racing_decisions

    centre, client = centre_app
    case = application(v1)
    push(v1.sync, link(client, v1))
    (rec,) = centre.find_receipt(case.receipt)
    racing = racing_decisions(centre.projector.state(rec), centre.now_ms())
    with centre.repo.writing(centre.now_ms()) as tx:
        tx.append_many([centre._entry(tx, cs, encode_changeset(cs)) for cs in racing])
    listed = client.get("/v1/staff/conflicts", headers=staff_headers)
    assert listed.status_code == 200, listed.text
    found = {c["field"]: c for c in listed.json()}
    assert set(found) == {"outcome", "outcome_reason", "status"}
    outcome = found["outcome"]
    assert outcome["id"] == f"{case.receipt}:outcome" and outcome["centre_settles"]
    assert {(h["value"], h["author"], h["station"]) for h in outcome["heads"]} == {
        ("completed", "镇中心 王科长", "centre"), ("returned", "镇中心 李干事", "centre")}
    assert client.get("/v1/staff/conflicts?scope=V002", headers=staff_headers).json() == []
    with centre.repo.d.writing() as conn:  # as a centre from before they were noted left it
        conn.execute("UPDATE records SET conflicts = NULL")
    again = client.get("/v1/staff/conflicts", headers=staff_headers).json()
    assert {c["field"] for c in again} == set(found)

    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "returned", "reason": "户口簿信息不符，请补正"})
    assert reply.status_code == 200, reply.text
    assert client.get("/v1/staff/conflicts", headers=staff_headers).json() == []


def test_a_decision_with_text_that_cannot_be_kept_is_refused_in_words(
        centre_app, staff_headers, v1):
    """A reason pasted with a terminal's escape codes, a NUL in who decided, a reason longer
    than the record keeps: each is refused naming the option and what is wrong, in both
    languages — not "Bad request: body.reason: Value error" — and nothing is decided."""
    centre, client = centre_app
    case = application(v1)
    push(v1.sync, link(client, v1))
    for extra, option in (({"reason": "户口簿\x1b[31m不符"}, "--reason"),
                          ({"reason": "缺户口簿", "staff": "王\x00科长"}, "--staff"),
                          ({"reason": "缺" * 501}, "--reason")):
        error = error_of(client.post("/v1/staff/decide", headers=staff_headers, json={
            "receipt": case.receipt, "outcome": "returned", **extra}), 400)
        assert option in error["en"] and option in error["zh"], error
        assert "body." not in error["en"] + error["zh"] and "Value error" not in error["zh"]
        assert "Bad request" not in error["en"]
    assert centre.find_receipt(case.receipt)[0].status == "received"
    reply = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "returned", "reason": "缺户口簿\n请补正",
        "staff": "镇中心 王科长"})
    assert reply.status_code == 200, reply.text


# (method, path, what is sent, the field's name as said in English and in Chinese)
BAD_FIELDS = [
    ("POST", "/v1/staff/decide", {"json": {"receipt": "V001-20261123-0001\x01",
                                           "outcome": "completed"}},
     "The receipt number (RECEIPT) contains control characters",
     "编号（RECEIPT）含有不可见的控制字符"),
    ("POST", "/v1/staff/decide", {"json": {"receipt": "V" * 65, "outcome": "completed"}},
     "The receipt number (RECEIPT) must be at most 64 characters",
     "编号（RECEIPT）不能超过 64 个字符"),
    ("POST", "/v1/staff/decide", {"json": {"receipt": ["V001"], "outcome": "completed"}},
     "The receipt number (RECEIPT) must be text", "编号（RECEIPT）应为文字"),
    ("POST", "/v1/staff/decide", {"json": {"outcome": "completed"}},
     "The receipt number (RECEIPT) is missing", "编号（RECEIPT）缺少"),
    ("POST", "/v1/staff/decide", {"json": {"receipt": "V001-20261123-0001",
                                           "outcome": "approved"}},
     "The outcome is not in the right form: completed or returned", "completed（办结）或 returned"),
    ("POST", "/v1/staff/decide", {"json": {"receipt": "V001-20261123-0001",
                                           "outcome": "completed", "reason": 5}},
     "The reason (--reason) must be text", "原因（--reason）应为文字"),
    ("POST", "/v1/staff/decide", {"content": b"{not json",
                                  "headers": {"Content-Type": "application/json"}},
     "is not valid JSON", "不是有效的 JSON"),
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V0\x0101"}},
     "The station code is not in the right form: letters, digits, - and _ only",
     "站点编号格式不对：只能用字母、数字、- 和 _"),
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V" * 17}},
     "The station code must be at most 16 characters", "站点编号不能超过 16 个字符"),
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V001", "scope": "V001"}},
     "The villages served (--scope) must be a list", "服务的村（--scope）应为列表"),
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V001", "scope": ["V001", "V\x00"]}},
     "The villages served (--scope), item 2, is not in the right form",
     "服务的村（--scope）第 2 项格式不对"),
    ("POST", "/v1/staff/enroll-code", {"json": {"station": "V001", "expires_s": 1}},
     "The time the code is valid (seconds) must be at least 60", "有效期（秒）不能小于 60"),
    ("POST", "/v1/staff/revoke", {"json": {"station": "V001\x00"}},
     "The station code is not in the right form", "站点编号格式不对"),
    ("POST", "/v1/staff/revoke", {"json": ["V001"]},
     "The body must be a JSON object", "请求内容应为 JSON 对象"),
    ("GET", "/v1/staff/report?month=2026-11%01", {},
     "The month (--month) is not in the right form: a month like 2026-11",
     "月份（--month）格式不对：应如 2026-11"),
    ("GET", "/v1/staff/report?month=2026-13", {},
     "2026-13 is not a month like 2026-11 (--month)", "2026-13 不是有效的月份"),
    ("GET", "/v1/staff/report?month=2026-11&by=village", {},
     "The grouping (--by) is not in the right form", "分组（--by）格式不对"),
    ("GET", "/v1/staff/conflicts?scope=V001%0A", {},
     "The villages served (--scope) is not in the right form", "服务的村（--scope）格式不对"),
    ("GET", "/v1/staff/conflicts?station=" + "V" * 40, {},
     "The station code is not in the right form", "站点编号格式不对"),
]


@pytest.mark.parametrize("method,path,kwargs,en,zh", BAD_FIELDS,
                         ids=[f"{m} {p.split('?')[0]} {en[:30]}" for m, p, _, en, _ in BAD_FIELDS])
def test_a_bad_field_of_a_staff_request_is_named_in_both_languages(
        centre_app, staff_headers, method, path, kwargs, en, zh):
    """A control character in the receipt of station centre decide (or any staff field too
    long, of the wrong shape, missing) was answered "Bad request: body.receipt: Value
    error, …" in English only: each is a 400 naming the field and what is wrong."""
    centre, client = centre_app
    headers = {**staff_headers, **kwargs.get("headers", {})}
    sent = {k: v for k, v in kwargs.items() if k != "headers"}
    error = error_of(client.request(method, path, headers=headers, **sent), 400)
    assert error["code"] == "centre.bad_request"
    assert en in error["en"] and zh in error["zh"], error
    for said in (error["en"], error["zh"]):
        assert "body." not in said and "query." not in said and "Value error" not in said
        assert not said.startswith("Bad request") and "请求有误" not in said
    assert centre.repo.count() == 0 and centre.repo.stations() == []


def test_a_refusal_that_names_no_field_still_says_the_body_is_not_valid():
    refused = BadField.of([])
    assert refused.message("en") == "The body is not valid"
    assert refused.message("zh") == "请求内容不对"


def test_the_staff_token_follows_the_keys_the_centre_runs_with(tmp_path):
    """A home whose centre.keys was replaced by the shared ones of the other centre processes
    (README: 'a shared home, or a copy of both'), or restored from a backup, kept the staff
    token of its old keys: every staff command with the file the centre itself wrote was
    refused with 'a valid staff token is needed'."""
    import os

    from fastapi.testclient import TestClient

    from station.centre.keys import CentreKeys, Protector
    from station.centre.serve import CentreConfig, build

    from .helpers import URL

    key_file = tmp_path / "centre.keyfile"
    key_file.write_bytes(os.urandom(32))
    config = CentreConfig(tmp_path / "home", public_url=URL,
                          protector=Protector(key_file=key_file))
    build(config)[0].close()
    shared = tmp_path / "shared.keys"  # the first centre process's keys, copied in
    CentreKeys.generate().save(shared, Protector(key_file=key_file))
    os.replace(shared, config.home / "centre.keys")
    _, app = build(config)  # closed at the end of its lifespan
    token = (config.home / "staff.token").read_text().strip()
    assert os.stat(config.home / "staff.token").st_mode & 0o077 == 0
    with TestClient(app, base_url=URL) as client:
        reply = client.get("/v1/staff/stations", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
