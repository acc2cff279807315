"""Replies read as untrusted input (station/sync/replies.py): anything but a signed push
reply in the expected shape, naming only what the batch sent, is a BadReply (exit 3)."""

import json

import httpx
import pytest

from station.sync.errors import BadReply, UnsignedReply
from station.sync.replies import json_object, push_reply
from station.wire.auth import H_NONCE, sign_reply
from station.wire.keys import Signer

NONCE = "0123456789abcdef0123456789abcdef"
SENT = ["id-1", "id-2"]


@pytest.fixture(scope="module")
def centre():
    return Signer.generate()


def reply(body: bytes, signer: Signer | None) -> httpx.Response:
    request = httpx.Request("POST", "http://centre/v1/push", headers={H_NONCE: NONCE})
    headers = sign_reply(signer, nonce=NONCE, body=body) if signer else {}
    return httpx.Response(200, content=body, headers=headers, request=request)


def good(**changes: object) -> bytes:
    return json.dumps({"accepted": ["id-1"], "duplicates": ["id-2"], "refused": [],
                       "time": 1, **changes}).encode()


def test_a_signed_reply_in_shape_is_read(centre):
    got = push_reply(reply(good(), centre), centre_public=centre.public_bytes(), sent=SENT)
    assert (got.accepted, got.duplicates, got.refused) == (["id-1"], ["id-2"], [])


def test_an_unsigned_or_wrongly_signed_reply_is_refused(centre):
    for signer in (None, Signer.generate()):
        with pytest.raises(UnsignedReply) as exc:
            push_reply(reply(good(), signer), centre_public=centre.public_bytes(), sent=SENT)
        assert exc.value.exit_code == 3


@pytest.mark.parametrize("body,why", [
    (b"\x89PNG\r\n\x1a\n\x00\xff", "not JSON"),
    (b"<html><body>Wi-Fi login</body></html>", "not JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (good(accepted=5), "accepted is not a list of texts"),
    (good(duplicates=[1]), "duplicates is not a list of texts"),
    (good(refused="x"), "refused is not a list of refusals"),
    (good(accepted=["id-1", "id-9"]), "did not send"),
])
def test_a_signed_reply_out_of_shape_is_a_clear_bad_reply(centre, body, why):
    with pytest.raises(BadReply) as exc:
        push_reply(reply(body, centre), centre_public=centre.public_bytes(), sent=SENT)
    assert why in exc.value.message("en") and "工作已保存" in exc.value.message("zh")


def test_json_object_refuses_what_is_not_an_object():
    for body in (b"", b"null", b'"text"', b"[" * 100_000):
        with pytest.raises(BadReply):
            json_object(httpx.Response(200, content=body))
