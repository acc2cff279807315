"""Enrollment (DESIGN §7): a one-time code carries the centre URL, a token and the fingerprint
of the centre's keys; `station enroll CODE` registers the station's keys and pins the centre's
only if they match the code. Every refusal is a clear 4xx in both languages."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from station.sync.client import enroll, parse_code
from station.sync.engine import push
from station.sync.errors import FingerprintMismatch, Refused
from station.sync.transport import CentreClient
from station.wire.keys import SealKey, Signer, fingerprint

from .helpers import (
    URL,
    anonymous,
    application,
    enrolled,
    error_of,
    issue_code,
    link,
    new_station,
    signed_headers,
)

GROUP = "[A-Z2-7]{4}"
CODE = re.compile(rf"^http://127\.0\.0\.1:8700#{GROUP}(-{GROUP}){{3}}/{GROUP}(-{GROUP}){{3}}$")


def enroll_body(station, token: str, station_id: str | None = None, *,
                current: bool = False) -> dict[str, str]:
    """What `station enroll` sends: the keys it is about to take (``Station.next_keys``),
    or with ``current`` the keys it holds now."""
    keys = station.next_keys()
    sign, seal, transport = ((station.signer, station.seal_key, station.sync.transport())
                             if current else (keys.sign, keys.seal, keys.transport))
    return {"token": token, "station": station_id or station.station_id, "device": station.device,
            "sign_public": sign.public_bytes().hex(), "seal_public": seal.public_bytes().hex(),
            "transport_public": transport.public_bytes().hex()}


def test_a_code_is_url_token_and_the_fingerprint_of_the_centre_keys(centre_app, staff_headers):
    centre, client = centre_app
    code = issue_code(client, staff_headers, "v001")
    assert CODE.match(code), code
    url, token, fp = parse_code(code)
    assert url == URL
    assert fp == centre.keys.fingerprint == client.get("/v1/health").json()["fingerprint"]
    assert fp == fingerprint(centre.keys.signer.public_bytes(), centre.keys.seal.public_bytes())
    # Each code is new: a second one for the same station has another token.
    assert parse_code(issue_code(client, staff_headers, "V001"))[1] != token


def test_enroll_pins_the_centre_and_seals_work_done_before_it(centre_app, staff_headers,
                                                              tmp_path):
    centre, client = centre_app
    station = new_station(tmp_path, "V001")
    before = [application(station, name=n) for n in ("王桂英", "张建国")]
    assert station.sync.unsent() == 0  # nothing can be sealed before a centre is pinned
    assert not station.sync.enrolled()

    pin = enroll(station, issue_code(client, staff_headers, "V001"), client=anonymous(client))

    assert pin.fingerprint == centre.keys.fingerprint
    assert pin.scope == ("V001",)
    pinned = station.sync.centre()
    assert pinned.sign_public == centre.keys.signer.public_bytes()
    assert pinned.seal_public == centre.keys.seal.public_bytes()
    assert station.sync.unsent() == len(before)  # the backlog, sealed to the pinned centre
    row = centre.repo.station("V001")
    assert row is not None and row.revoked_ms is None
    assert row.transport_public == station.sync.transport().public_bytes()
    assert row.sign_public == station.signer.public_bytes()
    assert row.device == station.device

    application(station, name="李秀兰")  # after enrolling: sealed as it is written
    assert station.sync.unsent() == 3
    report = push(station.sync, link(client, station))
    assert report.pushed == 3 and report.refused == []
    assert centre.repo.count() == 3
    for record in before:  # the centre has the work done before enrolling
        assert [r.id for r in centre.find_receipt(record.receipt)] == [record.id]
    station.close()


def test_a_used_code_is_refused(centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    code = issue_code(client, staff_headers, "V001")
    first = new_station(tmp_path, "V001")
    enroll(first, code, client=anonymous(client))
    _, token, _ = parse_code(code)

    second = new_station(tmp_path, "V001", home="again")
    error = error_of(client.post("/v1/enroll", json=enroll_body(second, token)), 400)
    assert error["code"] == "centre.bad_code"
    assert "already used" in error["en"] and "已用过" in error["zh"]
    # The station keeps the first enrollment's keys.
    assert centre.repo.station("V001").transport_public == first.sync.transport().public_bytes()

    # Through the client: a Refused carrying the centre's own sentence; nothing pinned.
    with pytest.raises(Refused) as caught:
        enroll(second, code, client=anonymous(client))
    assert caught.value.params["status"] == 400
    assert "already used" in caught.value.message("en")
    assert not second.sync.enrolled()
    first.close()
    second.close()


def test_an_enrollment_whose_reply_was_lost_can_be_asked_for_again(centre_app, staff_headers,
                                                                     tmp_path):
    """The link drops after the centre registered the station but before its reply came
    back: the station is rightly not enrolled, and running `station enroll` again with the
    same code must enroll it, not say the code was used (a trip back to town for a new one).
    Only the same station with the same keys gets that reply; it writes nothing."""
    centre, client = centre_app
    code = issue_code(client, staff_headers, "V001", expires_s=600)
    station = new_station(tmp_path, "V001")
    token = parse_code(code)[1]
    assert client.post("/v1/enroll", json=enroll_body(station, token)).status_code == 200
    assert not station.sync.enrolled()  # the reply never reached it

    pin = enroll(station, code, client=anonymous(client))
    assert station.sync.enrolled() and pin.fingerprint == centre.keys.fingerprint
    assert pin.scope == ("V001",)
    row = centre.repo.station("V001")
    assert row.transport_public == station.sync.transport().public_bytes()

    # other keys with the same code, once it is used, get nothing
    other = new_station(tmp_path, "V001", home="other")
    error = error_of(client.post("/v1/enroll", json=enroll_body(other, token)), 400)
    assert error["code"] == "centre.bad_code"
    assert centre.repo.station("V001").transport_public == \
        station.sync.transport().public_bytes()
    # nor the same keys once the code has expired, or the station was revoked
    real = centre.now_ms
    centre.now_ms = lambda: real() + 601_000
    assert error_of(client.post("/v1/enroll", json=enroll_body(station, token, current=True)),
                    400)["code"] == "centre.bad_code"
    centre.now_ms = real
    centre.revoke("V001")
    assert error_of(client.post("/v1/enroll", json=enroll_body(station, token, current=True)),
                    400)["code"] == "centre.bad_code"
    station.close()
    other.close()


def test_once_a_station_enrolls_its_other_codes_are_void(centre_app, staff_headers, tmp_path):
    """A code issued twice (the first paper lost, or a typo fixed by issuing again) must not
    stay good after the station enrolled: whoever found it would take the station's place
    and pull every record of its village."""
    centre, client = centre_app
    lost = issue_code(client, staff_headers, "V001")
    used = issue_code(client, staff_headers, "V001")
    other = issue_code(client, staff_headers, "V002")
    station = new_station(tmp_path, "V001")
    enroll(station, used, client=anonymous(client))

    finder = new_station(tmp_path, "V001", home="finder")
    error = error_of(client.post("/v1/enroll", json=enroll_body(finder, parse_code(lost)[1])),
                     400)
    assert error["code"] == "centre.bad_code"
    assert centre.repo.station("V001").transport_public == \
        station.sync.transport().public_bytes()
    # another station's code is untouched
    village = new_station(tmp_path, "V002")
    enroll(village, other, client=anonymous(client))
    assert centre.repo.station("V002") is not None
    for st in (station, finder, village):
        st.close()


def test_an_expired_code_is_refused(centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    code = issue_code(client, staff_headers, "V001", expires_s=60)
    station = new_station(tmp_path, "V001")
    real = centre.now_ms
    centre.now_ms = lambda: real() + 61_000
    error = error_of(client.post("/v1/enroll", json=enroll_body(station, parse_code(code)[1])),
                     400)
    assert error["code"] == "centre.bad_code" and "expired" in error["en"]
    assert "过期" in error["zh"]
    centre.now_ms = real
    assert centre.repo.station("V001") is None
    station.close()


def test_an_unknown_code_is_refused(centre_app, tmp_path):
    centre, client = centre_app
    station = new_station(tmp_path, "V001")
    error = error_of(client.post("/v1/enroll", json=enroll_body(station, "AAAA-BBBB-CCCC-DDDD")),
                     400)
    assert error["code"] == "centre.bad_code"
    assert centre.repo.stations() == []
    station.close()


def test_a_code_for_another_station_is_refused_and_stays_good_for_its_own(
        centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    code = issue_code(client, staff_headers, "V002")
    wrong = new_station(tmp_path, "V001")
    error = error_of(client.post("/v1/enroll", json=enroll_body(wrong, parse_code(code)[1])),
                     400)
    assert error["code"] == "centre.wrong_station"
    assert "V002" in error["en"] and "V001" in error["en"]
    assert "V002" in error["zh"] and "V001" in error["zh"]
    assert centre.repo.station("V001") is None and centre.repo.station("V002") is None

    # The agent typed the code on the wrong laptop: the right one can still use it.
    right = new_station(tmp_path, "V002")
    pin = enroll(right, code, client=anonymous(client))
    assert pin.fingerprint == centre.keys.fingerprint
    assert centre.repo.station("V002") is not None
    wrong.close()
    right.close()


@pytest.mark.parametrize("body", [
    {},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001"},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001", "sign_public": "zz",
     "seal_public": "01" + "00" * 32, "transport_public": "00" * 32},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001", "sign_public": "00" * 31,
     "seal_public": "01" + "00" * 32, "transport_public": "00" * 32},
])
def test_a_malformed_enrollment_is_a_400(centre_app, body):
    centre, client = centre_app
    error = error_of(client.post("/v1/enroll", json=body), 400)
    assert error["code"] == "centre.bad_request"
    assert centre.repo.stations() == []


def test_a_code_with_a_wrong_fingerprint_pins_nothing(centre_app, staff_headers, tmp_path):
    _, client = centre_app
    station = new_station(tmp_path, "V001")
    application(station)
    code = issue_code(client, staff_headers, "V001")
    url, token, fp = parse_code(code)
    other = "AAAA-AAAA-AAAA-AAAA" if fp != "AAAA-AAAA-AAAA-AAAA" else "BBBB-BBBB-BBBB-BBBB"
    with pytest.raises(FingerprintMismatch) as caught:
        enroll(station, f"{url}#{token}/{other}", client=anonymous(client))
    assert other in caught.value.message("en") and fp in caught.value.message("en")
    assert not station.sync.enrolled()
    assert station.sync.unsent() == 0  # nothing was sealed to a centre nobody vouched for
    station.close()


class LookAlike(CentreClient):
    """A server in the middle answering enrollment with its own keys."""

    def __init__(self, client) -> None:
        super().__init__(URL, client=client)
        self.signer, self.seal = Signer.generate(), SealKey.generate()

    def request(self, method, path, **kwargs):
        reply = super().request(method, path, **kwargs)
        if path != "/v1/enroll":
            return reply
        data = reply.json()
        data["centre"]["sign_public"] = self.signer.public_bytes().hex()
        data["centre"]["seal_public"] = self.seal.public_bytes().hex()
        data["centre"]["fingerprint"] = fingerprint(self.signer.public_bytes(),
                                                    self.seal.public_bytes())
        return httpx.Response(200, content=json.dumps(data).encode(), request=reply.request)


def test_a_tampered_reply_raises_fingerprint_mismatch_and_pins_nothing(centre_app,
                                                                       staff_headers, tmp_path):
    _, client = centre_app
    station = new_station(tmp_path, "V001")
    application(station)
    with pytest.raises(FingerprintMismatch):
        enroll(station, issue_code(client, staff_headers, "V001"), client=LookAlike(client))
    assert not station.sync.enrolled()
    assert station.sync.unsent() == 0
    station.close()


def test_reenrolling_a_reinstalled_laptop_revokes_its_old_transport_key(centre_app,
                                                                         staff_headers, tmp_path):
    centre, client = centre_app
    old = enrolled(client, staff_headers, tmp_path, "V001")
    application(old)
    old_signer = old.sync.transport()
    assert push(old.sync, link(client, old)).pushed == 1

    new = new_station(tmp_path, "V001", home="reinstalled")
    assert new.sync.transport().public_bytes() != old_signer.public_bytes()
    enroll(new, issue_code(client, staff_headers, "V001"), client=anonymous(client))

    # The old laptop (or a thief holding its key file) is now refused as revoked, by name.
    with pytest.raises(Refused) as caught:
        link(client, old, old_signer).request("GET", "/v1/pull", params={"after": 0})
    assert caught.value.params["status"] == 403
    assert caught.value.params["centre_code"] == "centre.revoked"
    target = "/v1/pull?after=0&limit=10"
    reply = client.get(target, headers=signed_headers(old_signer, "V001", "GET", target,
                                                      time_ms=centre.now_ms()))
    error = error_of(reply, 403)
    assert error["code"] == "centre.revoked" and "V001" in error["en"] and "V001" in error["zh"]

    # The reinstalled one works, and the centre lists one V001: the new device.
    assert link(client, new).request("GET", "/v1/pull", params={"after": 0}).status_code == 200
    listed = client.get("/v1/staff/stations", headers=staff_headers).json()
    assert [(s["station"], s["device"], s["revoked_ms"]) for s in listed] == [
        ("V001", new.device, None)]
    old.close()
    new.close()


def test_a_code_for_a_bus_gives_it_every_village_it_serves(centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    bus = new_station(tmp_path, "BUS01")
    pin = enroll(bus, issue_code(client, staff_headers, "BUS01", ("v001", "V002")),
                 client=anonymous(client))
    assert pin.scope == ("BUS01", "V001", "V002")
    assert centre.repo.station("BUS01").scope == ("BUS01", "V001", "V002")
    # its own records (filed under BUS01) are accepted, not refused as out of its scope
    application(bus)
    report = push(bus.sync, link(client, bus))
    assert report.pushed == 1 and not report.refused
    bus.close()


def test_a_bus_enrolled_before_keeps_its_own_id_in_its_scope(centre_app, staff_headers,
                                                             tmp_path):
    """A centre that stored a bus's scope without the bus's own id (as it once did) still
    takes the bus's own work, with no new code needed."""
    centre, client = centre_app
    bus = enrolled(client, staff_headers, tmp_path, "BUS01")
    row = centre.repo.station("BUS01")
    with centre.repo.d.writing() as conn:
        conn.execute(centre.repo.d.sql("UPDATE stations SET scope=? WHERE id=?"),
                     ("V001,V002", "BUS01"))
    assert centre.repo.station("BUS01").scope == ("BUS01", "V001", "V002") != row.scope
    application(bus)
    assert not push(bus.sync, link(client, bus)).refused
    bus.close()


@pytest.mark.parametrize("bad_seal", ["", "05" + "11" * 32, "01" + "00" * 32])
def test_an_unusable_sealing_key_is_refused_before_the_code_is_used(centre_app, staff_headers,
                                                                    tmp_path, bad_seal):
    centre, client = centre_app
    code = issue_code(client, staff_headers, "V001")
    _, token, _ = parse_code(code)
    station = new_station(tmp_path, "V001")
    body = {**enroll_body(station, token), "seal_public": bad_seal}
    error_of(client.post("/v1/enroll", json=body), 400)
    assert centre.repo.station("V001") is None
    enroll(station, code, client=anonymous(client))  # the code still works with good keys
    assert centre.repo.station("V001") is not None
    station.close()


def test_an_oversized_json_body_is_413_before_it_is_read(centre_app):
    _, client = centre_app
    body = json.dumps({"token": "A" * 400_000}).encode()
    error = error_of(client.post("/v1/enroll", content=body,
                                 headers={"Content-Type": "application/json"}), 413)
    assert "too large" in error["en"]
