"""Enroll with a centre, push the outbox, pull the downlink: the station's side of DESIGN §7.

``enroll`` pins the centre's keys only if their fingerprint is the one the code carries, so a
code typed from paper still protects against a look-alike server. ``push`` sends the sealed
outbox in batches and removes exactly what the centre acknowledged (accepted or already
had: G4); a changeset the centre refuses is quarantined with its reason and the queue moves
on. ``pull`` asks for everything after the cursor and applies it — or, while the vault is
locked, keeps the signed batch in the inbox; either way the cursor moves only once the batch
is durable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from station.store.service import Downlink, Station
from station.store.syncstate import CentrePin, SyncState
from station.sync.errors import BadEnrollCode, FingerprintMismatch
from station.sync.transport import CentreClient
from station.wire.downlink import BatchHeader
from station.wire.framing import pack
from station.wire.keys import fingerprint

PUSH_MAGIC = b"SCB1"
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


def enroll(station: Station, code: str, client: CentreClient | None = None) -> CentrePin:
    url, token, expected = parse_code(code)
    link = client or CentreClient(url)
    try:
        body = json.dumps({
            "token": token, "station": station.station_id, "device": station.device,
            "sign_public": station.signer.public_bytes().hex(),
            "seal_public": station.seal_key.public_bytes().hex(),
            "transport_public": station.sync.transport().public_bytes().hex()}).encode()
        reply = link.request("POST", "/v1/enroll", body=body, signed=False,
                             content_type="application/json").json()
    finally:
        if client is None:
            link.close()
    sign, seal = bytes.fromhex(reply["centre"]["sign_public"]), bytes.fromhex(
        reply["centre"]["seal_public"])
    got = fingerprint(sign, seal)
    if got != expected:
        raise FingerprintMismatch(got=got, expected=expected)
    pin = CentrePin(url, sign, seal, got, tuple(reply["scope"]))
    station.pin_centre(pin)
    return pin


def link_for(sync: SyncState, client: CentreClient | None = None) -> CentreClient:
    """A client for this station's pinned centre, signing as this station."""
    if client is not None:
        return client
    return CentreClient(sync.centre().url, station=sync.station, signer=sync.transport())


@dataclass
class PushReport:
    accepted: int = 0
    duplicates: int = 0
    refused: list[dict[str, object]] = field(default_factory=list)
    batches: int = 0
    bytes: int = 0


def push(sync: SyncState, link: CentreClient, *, batch: int = 200,
         max_bytes: int = 1 << 20) -> PushReport:
    """Send the whole outbox, batch by batch; each batch is acknowledged on its own."""
    report = PushReport()
    while True:
        items = sync.outbox(batch, max_bytes)
        if not items:
            return report
        body = pack(PUSH_MAGIC, [i.sealed for i in items])
        reply = link.request("POST", "/v1/push", body=body).json()
        done = list(reply["accepted"]) + list(reply["duplicates"])
        sync.ack(done)
        for refusal in reply["refused"]:
            if refusal.get("id"):
                sync.quarantine(str(refusal["id"]), refusal)
                report.refused.append(refusal)
        report.accepted += len(reply["accepted"])
        report.duplicates += len(reply["duplicates"])
        report.batches += 1
        report.bytes += len(body)
        if not done and not reply["refused"]:
            return report  # nothing moved: never loop for ever


def pull(sync: SyncState, link: CentreClient, *, station: Station | None = None,
         limit: int = 500) -> list[Downlink | BatchHeader]:
    """Pull everything after the cursor: applied if ``station`` (unlocked) is given, else kept
    sealed in the inbox. Returns one report (or batch header) per batch."""
    out: list[Downlink | BatchHeader] = []
    while True:
        after = sync.cursor()
        blob = link.request("GET", "/v1/pull", params={"after": after, "limit": limit}).content
        batch = station.apply_downlink(blob) if station is not None else sync.keep_in_inbox(blob)
        out.append(batch)
        if batch.complete or batch.upto <= after:
            return out
