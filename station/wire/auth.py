"""Signed sync requests: how the centre knows a request comes from an enrolled station.

The station signs, with its transport key, one canonical string per request::

    STATION-REQUEST-v1 \\n method \\n path?query \\n sha256(body) \\n time \\n nonce \\n station

sent in the ``X-Station-*`` headers. The centre checks the signature with the station's
registered transport key, refuses a time more than ``WINDOW_MS`` from its own clock, and
remembers every nonce for longer than that window, so a captured request cannot be replayed.
Time is the *centre's* time as the station estimates it (village laptops' clocks drift; the
station learns the offset from every reply).

The centre signs its answer to a push the same way, with its own key, over the request's
nonce and the reply's bytes (``X-Centre-Signature``)::

    CENTRE-REPLY-v1 \\n nonce \\n sha256(reply body)

The station lets work leave its outbox only on a reply that checks against the centre key
it pinned at enrollment: a captive portal, proxy or look-alike server on a plain-HTTP link
cannot make it drop unsent work by answering "accepted".
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from station.wire.keys import Signer, verify

WINDOW_MS = 5 * 60 * 1000
H_STATION = "X-Station-Id"
H_TIME = "X-Station-Time"
H_NONCE = "X-Station-Nonce"
H_SIGNATURE = "X-Station-Signature"
H_CENTRE_TIME = "X-Centre-Time"
H_CENTRE_SIGNATURE = "X-Centre-Signature"


def canonical(method: str, target: str, body: bytes, time_ms: int, nonce: str,
              station: str) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(("STATION-REQUEST-v1", method.upper(), target, digest, str(time_ms),
                      nonce, station)).encode()


def sign_request(signer: Signer, *, method: str, target: str, body: bytes, time_ms: int,
                 station: str) -> dict[str, str]:
    """The headers that authenticate one request."""
    nonce = secrets.token_hex(16)
    signature = signer.sign(canonical(method, target, body, time_ms, nonce, station))
    return {H_STATION: station, H_TIME: str(time_ms), H_NONCE: nonce,
            H_SIGNATURE: base64.b64encode(signature).decode()}


@dataclass(frozen=True)
class SignedRequest:
    station: str
    time_ms: int
    nonce: str
    signature: bytes


def read_headers(headers: dict[str, str]) -> SignedRequest | None:
    """The signed-request headers, or None when any is missing or malformed."""
    try:
        station = headers[H_STATION]
        time_ms = int(headers[H_TIME])
        nonce = headers[H_NONCE]
        signature = base64.b64decode(headers[H_SIGNATURE], validate=True)
    except (KeyError, ValueError):
        return None
    if not (0 < len(station) <= 32 and 16 <= len(nonce) <= 64 and len(signature) == 64):
        return None
    return SignedRequest(station, time_ms, nonce, signature)


def check_signature(request: SignedRequest, transport_public: bytes, *, method: str,
                    target: str, body: bytes) -> bool:
    return verify(transport_public, request.signature,
                  canonical(method, target, body, request.time_ms, request.nonce,
                            request.station))


def _reply_canonical(nonce: str, body: bytes) -> bytes:
    return "\n".join(("CENTRE-REPLY-v1", nonce, hashlib.sha256(body).hexdigest())).encode()


def sign_reply(signer: Signer, *, nonce: str, body: bytes) -> dict[str, str]:
    """The header that proves a reply to the request with ``nonce`` is the centre's."""
    signature = signer.sign(_reply_canonical(nonce, body))
    return {H_CENTRE_SIGNATURE: base64.b64encode(signature).decode()}


def check_reply(centre_public: bytes, *, nonce: str, body: bytes, signature: str) -> bool:
    """True when ``signature`` (the header's text) is the centre's over this reply."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except ValueError:
        return False
    return verify(centre_public, raw, _reply_canonical(nonce, body))
