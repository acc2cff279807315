"""What a station meets when the centre refuses a request it could not read: a whole
sentence in Chinese as well as in English, never an English fragment under a Chinese
prefix ("请求有误：the cursor is out of range"). Real centre, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest

from station.sync.bundle import signed_pull

from .helpers import enrolled, error_of, signed_headers

# a word of English in the Chinese sentence; the header and format names stay as they are
ENGLISH = re.compile(r"[A-Za-z]{3,}")
NAMES = ("Content-Length", "JSON")


def said_in_chinese(error: dict[str, str], *words: str) -> None:
    assert error["code"] == "centre.bad_request"
    bare = error["zh"]
    for name in NAMES:
        bare = bare.replace(name, "")
    assert not ENGLISH.search(bare), error["zh"]
    assert all(word in error["zh"] for word in words), error["zh"]


@pytest.mark.parametrize("body", [
    {},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001"},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001", "sign_public": "zz",
     "seal_public": "01" + "00" * 32, "transport_public": "00" * 32},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001", "sign_public": "00" * 31,
     "seal_public": "01" + "00" * 32, "transport_public": "00" * 32},
    {"token": "AAAA-BBBB-CCCC-DDDD", "station": "V001", "sign_public": "00" * 32,
     "seal_public": "00", "transport_public": "00" * 32},
])
def test_a_malformed_enrollment_is_said_in_chinese(centre_app, body):
    _, client = centre_app
    error = error_of(client.post("/v1/enroll", json=body), 400)
    said_in_chinese(error, "公钥")


def test_a_cursor_out_of_range_is_said_in_chinese(centre_app, staff_headers, tmp_path):
    centre, client = centre_app
    station = enrolled(client, staff_headers, tmp_path, "V001")
    transport = station.sync.transport()
    target = f"/v1/pull?after={2**63}"
    error = error_of(client.get(target, headers=signed_headers(
        transport, "V001", "GET", target, time_ms=centre.now_ms())), 400)
    said_in_chinese(error, "游标", "超出范围")
    carried = signed_pull(transport, station="V001", after=2**63, time_ms=centre.now_ms())
    error = error_of(client.post("/v1/bundle/pull", content=json.dumps(carried)), 400)
    said_in_chinese(error, "游标")
    station.close()


def test_a_bad_content_length_is_said_in_chinese(centre_app):
    _, client = centre_app
    error = error_of(client.post("/v1/bundle", content=b"abc",
                                 headers={"Content-Length": "abc"}), 400)
    said_in_chinese(error, "Content-Length")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2", b'{"after": NaN}'])
def test_a_carried_pull_that_is_not_json_is_said_in_chinese(centre_app, body):
    _, client = centre_app
    error = error_of(client.post("/v1/bundle/pull", content=body), 400)
    said_in_chinese(error, "同步请求", "JSON")
