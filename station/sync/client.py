"""Enroll with a centre (DESIGN §7), and the link a station syncs over.

``enroll`` pins the centre's keys only if their fingerprint is the one the code carries, so a
code typed from paper still protects against a look-alike server. The code is one-time, so
the enrollment request is retried only when it never reached the centre: a retry after a lost
reply would find the code used and refuse an enrollment that in fact succeeded.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from station.store.service import Station
from station.store.syncstate import CentrePin, SyncState
from station.sync.errors import (
    BadEnrollCode,
    BadReply,
    CentreUnreachable,
    FingerprintMismatch,
    not_enrolled,
)
from station.sync.replies import json_object, strings
from station.sync.transport import CentreClient
from station.wire.keys import fingerprint

_CODE = re.compile(r"^(https?://[^#\s]+)#([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})/"
                   r"([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})$")


def parse_code(code: str) -> tuple[str, str, str]:
    """(centre URL, one-time token, fingerprint of the centre's keys)."""
    text = code.strip()
    url, _, rest = text.partition("#")
    match = _CODE.match(f"{url}#{rest.upper().replace(' ', '')}")
    if not match:
        raise BadEnrollCode()
    return match.group(1).rstrip("/"), match.group(2), match.group(3)


def _never_connected(exc: BaseException) -> bool:
    """The request never reached the centre, so sending it again cannot use the code twice."""
    return isinstance(exc, CentreUnreachable) and isinstance(
        exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)


def enroll_link(url: str) -> CentreClient:
    return CentreClient(url, retry=Retrying(retry=retry_if_exception(_never_connected),
                                            wait=wait_exponential(multiplier=0.5, max=2),
                                            stop=stop_after_attempt(3), reraise=True))


def enroll(station: Station, code: str, client: CentreClient | None = None) -> CentrePin:
    """Register new public keys of this station's and pin the centre's; seals earlier work
    (``Station.next_keys`` says why the keys are new)."""
    url, token, expected = parse_code(code)
    link = client or enroll_link(url)
    try:
        _check_fingerprint_first(link, expected)
        mark = hashlib.sha256(token.encode()).hexdigest()  # the code, not kept in clear
        keys = station.next_keys(mark)
        body = json.dumps({
            "token": token, "station": station.station_id, "device": station.device,
            "sign_public": keys.sign.public_bytes().hex(),
            "seal_public": keys.seal.public_bytes().hex(),
            "transport_public": keys.transport.public_bytes().hex()}).encode()
        reply = json_object(link.request("POST", "/v1/enroll", body=body, signed=False,
                                         content_type="application/json"))
        pin = _pin_from(reply, url, expected)
    except (CentreUnreachable, BadReply) as exc:
        raise not_enrolled(exc) from None
    finally:
        if client is None:
            link.close()
    station.pin_centre(pin, keys, mark)
    return pin


def _pin_from(reply: dict[str, Any], url: str, expected: str) -> CentrePin:
    """The centre's keys from an enrollment reply, if they are the ones the code promised."""
    keys = reply.get("centre")
    try:
        sign, seal = bytes.fromhex(keys["sign_public"]), bytes.fromhex(keys["seal_public"])
    except (KeyError, TypeError, ValueError):
        raise BadReply(detail="it holds no centre keys", detail_zh="其中没有镇中心的密钥") from None
    got = fingerprint(sign, seal)
    if got != expected:
        raise FingerprintMismatch(got=got, expected=expected)
    return CentrePin(url, sign, seal, got, tuple(strings(reply.get("scope"), "scope")))


def _check_fingerprint_first(link: CentreClient, expected: str) -> None:
    """Compare the fingerprint the centre announces with the code's before the one-time code
    is sent: a fingerprint mistyped from paper would otherwise use the code up (the centre
    registers the station) and leave the agent needing a new code from town. Only a fast
    path for mistakes; the keys in the enrollment reply are still checked against the code."""
    announced = json_object(link.request("GET", "/v1/health", signed=False)).get("fingerprint")
    if isinstance(announced, str) and announced != expected:
        raise FingerprintMismatch(got=announced, expected=expected)


def link_for(sync: SyncState, client: CentreClient | None = None) -> CentreClient:
    """A client for this station's pinned centre, signing as this station."""
    if client is not None:
        return client
    return CentreClient(sync.centre().url, station=sync.station, signer=sync.transport())
