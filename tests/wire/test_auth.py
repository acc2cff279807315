"""The centre's signature on its push replies (station/wire/auth.py): valid only for the
reply's exact bytes, the request it answers and the centre's key."""

import pytest

from station.wire.auth import H_CENTRE_SIGNATURE, check_reply, sign_reply
from station.wire.keys import Signer

BODY = b'{"accepted": ["01a209df-02e3-72f3-b997-30d9b5131c47"], "duplicates": [], "refused": []}'
NONCE = "5f0c2a8e9d1b4c7a8e6f3d2c1b0a9e8f"


@pytest.fixture(scope="module")
def centre():
    return Signer.generate()


def test_a_signed_reply_checks_against_the_centre_key(centre):
    signature = sign_reply(centre, nonce=NONCE, body=BODY)[H_CENTRE_SIGNATURE]
    assert check_reply(centre.public_bytes(), nonce=NONCE, body=BODY, signature=signature)


@pytest.mark.parametrize("change", ["body", "nonce", "key", "garbage", "empty", "non-ascii"])
def test_any_other_reply_request_key_or_signature_is_refused(centre, change):
    signature = sign_reply(centre, nonce=NONCE, body=BODY)[H_CENTRE_SIGNATURE]
    public, nonce, body = centre.public_bytes(), NONCE, BODY
    if change == "body":
        body = BODY.replace(b'"duplicates": []', b'"duplicates": ["x"]')
    elif change == "nonce":  # a genuine reply to another request, replayed
        nonce = NONCE[::-1]
    elif change == "key":
        public = Signer.generate().public_bytes()
    else:
        signature = {"garbage": "not base64!", "empty": "", "non-ascii": "签名"}[change]
    assert not check_reply(public, nonce=nonce, body=body, signature=signature)
