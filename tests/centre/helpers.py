"""Building blocks for the centre tests: real station stores enrolled with a centre under a
TestClient, signed requests made by hand, and changesets forged the way an attacker (or a
corrupted laptop) would make them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uuid_utils

from station.domain.catalogue import shipped_catalogue
from station.domain.changeset import Changeset, Op
from station.domain.hlc import HLC
from station.store.rows import INSERT_OUTBOX
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.engine import PUSH_MAGIC
from station.sync.transport import CentreClient
from station.wire import auth
from station.wire.codec import decode_changeset, encode_changeset
from station.wire.downlink import ENTRY_CHANGESET, open_batch, verify_batch
from station.wire.envelope import seal_changeset
from station.wire.framing import pack
from station.wire.keys import SealKey, Signer

URL = "http://127.0.0.1:8700"
PASSPHRASE = "correct horse battery"
NAME = "王桂英"
ID_NUMBER = "11010519491231002X"
PHONE = "13912345678"


def new_station(tmp_path: Path, station_id: str, *, home: str | None = None,
                now: Callable[[], dt.datetime] | None = None) -> Station:
    extra: dict[str, Any] = {"now": now} if now is not None else {}
    station, _ = Station.init(tmp_path / (home or station_id), station_id=station_id,
                              name=f"{station_id} 便民服务站", agent="李春梅",
                              passphrase=PASSPHRASE, kdf=FAST_KDF, **extra)
    return station


def issue_code(client: Any, staff: dict[str, str], station: str, scope: tuple[str, ...] = (),
               expires_s: int | None = None) -> str:
    body: dict[str, Any] = {"station": station, "scope": list(scope)}
    if expires_s is not None:
        body["expires_s"] = expires_s
    reply = client.post("/v1/staff/enroll-code", json=body, headers=staff)
    assert reply.status_code == 200, reply.text
    return reply.json()["code"]


def anonymous(client: Any) -> CentreClient:
    return CentreClient(URL, client=client)


def link(client: Any, station: Station, signer: Signer | None = None) -> CentreClient:
    """The station's signed link to the centre, through the TestClient."""
    return CentreClient(URL, station=station.station_id,
                        signer=signer or station.sync.transport(), client=client)


def enrolled(client: Any, staff: dict[str, str], tmp_path: Path, station_id: str,
             scope: tuple[str, ...] = (), **kwargs: Any) -> Station:
    station = new_station(tmp_path, station_id, **kwargs)
    enroll(station, issue_code(client, staff, station_id, scope), client=anonymous(client))
    return station


def application(station: Station, *, name: str = NAME, id_number: str = ID_NUMBER,
                scope: str | None = None, matter: str = "HJ-001") -> Any:
    """A residence-permit application with every material in: status received."""
    return station.create("application", {
        "matter": matter, "applicant.name": name, "applicant.id_number": id_number,
        "applicant.phone": PHONE, "applicant.address": "青石村三组 12 号",
        "materials.received": ["M01", "M02", "M03", "M04"]}, scope=scope)


def signed_headers(signer: Signer, station: str, method: str, target: str, body: bytes = b"",
                   *, time_ms: int) -> dict[str, str]:
    return auth.sign_request(signer, method=method, target=target, body=body,
                             time_ms=time_ms, station=station)


def new_id() -> str:
    return str(uuid_utils.uuid7())


def changeset(station: Station, ops: list[Op], *, record: str | None = None,
              scope: str | None = None, origin: str | None = None,
              kind: str = "application", wall: int | None = None) -> Changeset:
    """A changeset as a (possibly hostile) station would write it, bypassing the store."""
    wall = wall if wall is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    return Changeset(new_id(), record or new_id(), kind, scope or station.station_id,
                     origin or station.station_id, "李春梅", HLC(wall, 0, station.device),
                     tuple(ops))


def seal(cs: Changeset, *, signer: Signer, centre_public: bytes, station: str) -> bytes:
    return seal_changeset(encode_changeset(cs), changeset_id=cs.id, station=station,
                          signer=signer, centre_public=centre_public)


def put_in_outbox(station: Station, cs_id: str, sealed: bytes) -> None:
    """Queue a sealed item as if the store had written it (a hostile or corrupted laptop)."""
    station.db.execute(INSERT_OUTBOX, (cs_id, sealed, "2026-11-23T01:30:00+00:00"))


def push_body(blobs: list[bytes]) -> bytes:
    return pack(PUSH_MAGIC, blobs)


def outbox_blobs(station: Station) -> list[bytes]:
    return [item.sealed for item in station.sync.outbox(10_000, 1 << 30)]


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    """The JSON error of a refusal, checked for its status and both languages."""
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"]
    assert error["zh"] and error["en"] and error["zh"] != error["en"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["zh"])  # a sentence in Chinese
    return error


def pulled_changesets(blob: bytes, centre_public: bytes, key: SealKey) -> list[Changeset]:
    head = verify_batch(blob, centre_public)
    return [decode_changeset(e.data) for e in open_batch(blob, head, key)
            if e.kind == ENTRY_CHANGESET]


def catalogue_json(version: str = "2026.12.1", **changes: Any) -> bytes:
    """The shipped catalogue as a new version, ready to publish."""
    data = shipped_catalogue().to_dict()
    data.update(version=version, **changes)
    return json.dumps(data, ensure_ascii=False).encode()


def publish(client: Any, staff: dict[str, str], raw: bytes) -> httpx.Response:
    return client.post("/v1/staff/catalogue", content=raw, headers={
        **staff, "Content-Type": "application/json"})
