"""Request authentication on /v1/push and /v1/pull: signed with the station's transport key
over method, path?query, body digest, time and nonce. Every failure is a JSON 4xx in both
languages, never a 500 (the TestClient re-raises any server error, so a 500 fails the test)."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from station.centre.serve import build
from station.wire import auth
from station.wire.keys import Signer

from .helpers import application, enrolled, error_of, outbox_blobs, push_body, signed_headers

PULL = "/v1/pull?after=0&limit=10"
MINUTE = 60_000


@pytest.fixture
def v1(centre_app, staff_headers, tmp_path):
    _, client = centre_app
    station = enrolled(client, staff_headers, tmp_path, "V001")
    yield station
    station.close()


def sign(centre, station, method: str, target: str, body: bytes = b"", *,
         signer: Signer | None = None, station_id: str | None = None, skew_ms: int = 0):
    return signed_headers(signer or station.sync.transport(), station_id or station.station_id,
                          method, target, body, time_ms=centre.now_ms() + skew_ms)


def test_a_signed_push_and_pull_are_accepted(centre_app, v1):
    centre, client = centre_app
    application(v1)
    body = push_body(outbox_blobs(v1))
    reply = client.post("/v1/push", content=body, headers=sign(centre, v1, "POST", "/v1/push",
                                                                body))
    assert reply.status_code == 200 and len(reply.json()["accepted"]) == 1
    reply = client.get(PULL, headers=sign(centre, v1, "GET", PULL))
    assert reply.status_code == 200 and reply.content[:2] == b"DL"
    assert int(reply.headers[auth.H_CENTRE_TIME]) > 0


@pytest.mark.parametrize("method,path", [("POST", "/v1/push"), ("GET", PULL)])
def test_no_signature_headers_is_401(centre_app, v1, method, path):
    _, client = centre_app
    error = error_of(client.request(method, path, content=b""), 401)
    assert error["code"] == "centre.unauthenticated" and "X-Station" in error["en"]


SPOILT = [
    {auth.H_SIGNATURE: "not base64!"},
    {auth.H_SIGNATURE: base64.b64encode(b"short").decode()},
    {auth.H_TIME: "yesterday"},
    {auth.H_NONCE: "short"},
    {auth.H_STATION: ""},
    {auth.H_STATION: "V" * 33},
]


def test_malformed_signature_headers_are_401(centre_app, v1):
    centre, client = centre_app
    for spoil in SPOILT:
        headers = {**sign(centre, v1, "GET", PULL), **spoil}
        error = error_of(client.get(PULL, headers=headers), 401)
        assert error["code"] == "centre.unauthenticated", spoil


def test_an_unknown_station_is_401_naming_it(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL, signer=Signer.generate(), station_id="V404")
    error = error_of(client.get(PULL, headers=headers), 401)
    assert error["code"] == "centre.unauthenticated"
    assert "V404" in error["en"] and "V404" in error["zh"]


def test_a_station_id_with_a_nul_byte_is_a_4xx_not_a_crash(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL, station_id="V00\x001")
    reply = client.get(PULL, headers=headers)
    assert 400 <= reply.status_code < 500
    assert reply.json()["error"]["code"].startswith("centre.")


def test_a_signature_by_another_key_is_401(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL, signer=Signer.generate())
    error = error_of(client.get(PULL, headers=headers), 401)
    assert error["code"] == "centre.unauthenticated" and "signature" in error["en"]


def test_a_body_altered_after_signing_is_401(centre_app, v1):
    centre, client = centre_app
    application(v1)
    body = push_body(outbox_blobs(v1))
    headers = sign(centre, v1, "POST", "/v1/push", body)
    altered = body[:-1] + bytes([body[-1] ^ 1])
    error = error_of(client.post("/v1/push", content=altered, headers=headers), 401)
    assert error["code"] == "centre.unauthenticated"
    assert centre.repo.count() == 0


def test_an_altered_query_or_path_is_401(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL)
    error = error_of(client.get("/v1/pull?after=5&limit=10", headers=headers), 401)
    assert error["code"] == "centre.unauthenticated"
    headers = sign(centre, v1, "POST", "/v1/bundle", b"")
    error = error_of(client.post("/v1/push", content=b"", headers=headers), 401)
    assert error["code"] == "centre.unauthenticated"
    headers = sign(centre, v1, "POST", PULL)  # the right target, the wrong method
    error = error_of(client.get(PULL, headers=headers), 401)
    assert error["code"] == "centre.unauthenticated"


def test_a_revoked_station_is_403_naming_it(centre_app, staff_headers, v1):
    centre, client = centre_app
    reply = client.post("/v1/staff/revoke", json={"station": "v001"}, headers=staff_headers)
    assert reply.json() == {"station": "V001", "revoked": True}
    again = client.post("/v1/staff/revoke", json={"station": "V001"}, headers=staff_headers)
    assert again.json()["revoked"] is False
    for method, path in (("GET", PULL), ("POST", "/v1/push")):
        error = error_of(client.request(method, path, content=b"",
                                        headers=sign(centre, v1, method, path)), 403)
        assert error["code"] == "centre.revoked"
        assert "V001" in error["en"] and "V001" in error["zh"] and "revoked" in error["en"]


def test_a_replayed_request_is_401(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL)
    assert client.get(PULL, headers=headers).status_code == 200
    error = error_of(client.get(PULL, headers=headers), 401)
    assert error["code"] == "centre.replayed" and "already received" in error["en"]


def test_a_replay_is_caught_by_another_centre_process_on_the_same_database(
        centre_app, centre_config, v1):
    centre, client = centre_app
    other_centre, other_app = build(centre_config)  # a second process behind the balancer
    with TestClient(other_app, base_url="http://127.0.0.1:8700") as other:
        headers = sign(centre, v1, "GET", PULL)
        assert client.get(PULL, headers=headers).status_code == 200
        error = error_of(other.get(PULL, headers=headers), 401)
        assert error["code"] == "centre.replayed"
        assert other.get(PULL, headers=sign(centre, v1, "GET", PULL)).status_code == 200
    other_centre.repo.close()


def test_a_request_time_outside_five_minutes_is_401_about_the_clock(centre_app, v1):
    centre, client = centre_app
    for skew in (-6 * MINUTE, 6 * MINUTE, -3 * 365 * 24 * 60 * MINUTE):
        reply = client.get(PULL, headers=sign(centre, v1, "GET", PULL, skew_ms=skew))
        error = error_of(reply, 401)
        assert error["code"] == "centre.replayed"
        assert "clock" in error["en"] and "时钟" in error["zh"]
        # The refusal still tells the station the centre's time, so it can correct itself.
        assert abs(int(reply.headers[auth.H_CENTRE_TIME]) - centre.now_ms()) < MINUTE
    for skew in (-4 * MINUTE, 4 * MINUTE):  # a few minutes off still syncs
        assert client.get(PULL, headers=sign(centre, v1, "GET", PULL, skew_ms=skew)
                          ).status_code == 200


@pytest.mark.parametrize("path", ["/v1/push", "/v1/bundle"])
def test_a_declared_oversized_body_is_413_before_it_is_read(centre_app, v1, path):
    centre, client = centre_app
    headers = {"Content-Length": str(9 * 1024 * 1024)}
    # Only one byte follows: the centre answers from the declared length, without waiting.
    error = error_of(client.post(path, content=b"x", headers=headers), 413)
    assert error["code"] == "centre.too_large" and "8388608" in error["en"]
    assert centre.repo.count() == 0


def test_an_oversized_body_without_a_length_is_413(centre_app, v1):
    _, client = centre_app

    def chunks():
        for _ in range(9):
            yield b"\0" * (1024 * 1024)

    error = error_of(client.post("/v1/bundle", content=chunks()), 413)
    assert error["code"] == "centre.too_large"


def test_a_pull_with_a_body_is_413(centre_app, v1):
    centre, client = centre_app
    headers = sign(centre, v1, "GET", PULL, b"x")
    error = error_of(client.request("GET", PULL, content=b"x", headers=headers), 413)
    assert error["code"] == "centre.too_large"


MALFORMED = [b"", b"junk", b"SCB1", b"SCB1\x00\x00\x00\x05", b"SCB2" + b"\0" * 4,
             b"SCB1\x00\x00\x00\x01\xff\xff\xff\xff", b"SCB1\x00\x00\x00\x00trailing"]


def test_a_malformed_push_body_is_400(centre_app, v1):
    centre, client = centre_app
    for body in MALFORMED:
        reply = client.post("/v1/push", content=body,
                            headers=sign(centre, v1, "POST", "/v1/push", body))
        error = error_of(reply, 400)
        assert error["code"] == "wire.malformed" and "push" in error["en"], body
    assert centre.repo.count() == 0


BAD_QUERIES = ["after=-1", "limit=0", "limit=100001", "after=abc", "limit=",
               "after=99999999999999999999", "after=18446744073709551615",
               "own=x", "own=1764000000000.00000", "own=%27%20OR%201=1--",
               "own=1764000000000.00000.V001-" + "a" * 100]


def test_bad_pull_parameters_are_400(centre_app, v1):
    centre, client = centre_app
    for query in BAD_QUERIES:
        target = f"/v1/pull?{query}"
        error = error_of(client.get(target, headers=sign(centre, v1, "GET", target)), 400)
        assert error["code"] == "centre.bad_request", query
