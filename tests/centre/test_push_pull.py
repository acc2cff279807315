"""Push, bundles and pull between real station stores and the centre (DESIGN §7): exactly-once
storage (G4), one bad changeset refused by itself, nothing personal in plaintext at rest (G2),
pulls scoped, paged, sealed to the station and signed by the centre."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from station.centre import service as centre_service
from station.domain.changeset import CENTRE, Op
from station.domain.validate import id_check_char
from station.store import ledger, prepare, service
from station.store.errors import NoSuchRecord
from station.store.importer import import_file
from station.store.service import Station
from station.store.syncstate import SyncState
from station.sync.engine import pull, push
from station.sync.transport import CentreClient
from station.wire.bundle import MAX_NAMED, signed_pull
from station.wire.codec import decode_changeset
from station.wire.downlink import (
    ENTRY_ACK,
    ENTRY_CATALOGUE,
    Entry,
    ack_entry,
    acked,
    open_batch,
    read_batch_header,
    seal_batch,
    verify_batch,
)
from station.wire.errors import BadSignature, CannotOpen
from station.wire.framing import unpack
from station.wire.keys import SealKey

from .helpers import (
    ID_NUMBER,
    NAME,
    PASSPHRASE,
    PHONE,
    URL,
    application,
    catalogue_json,
    changeset,
    enrolled,
    error_of,
    link,
    new_id,
    outbox_blobs,
    publish,
    pulled_changesets,
    push_body,
    put_in_outbox,
    seal,
    signed_headers,
)


@pytest.fixture
def world(centre_app, staff_headers, tmp_path):
    """Two village stations and a bus serving both, enrolled with one centre."""
    _, client = centre_app
    made = {sid: enrolled(client, staff_headers, tmp_path, sid, scope)
            for sid, scope in (("V001", ()), ("V002", ()), ("BUS01", ("V001", "V002")))}
    yield made
    for station in made.values():
        station.close()


def raw_pull(client, station: Station, after: int = 0, limit: int = 500) -> bytes:
    return link(client, station).request("GET", "/v1/pull",
                                         params={"after": after, "limit": limit}).content


# --- push --------------------------------------------------------------------------------

def test_push_is_idempotent_by_changeset_id(centre_app, world):
    centre, client = centre_app
    v1 = world["V001"]
    records = [application(v1, name=n) for n in ("王桂英", "张建国", "李秀兰")]
    body = push_body(outbox_blobs(v1))
    first = link(client, v1).request("POST", "/v1/push", body=body).json()
    assert sorted(first["accepted"]) == sorted(outbox_ids(v1)) and first["refused"] == []
    # The reply was lost: the station sends the same batch again. Nothing is stored twice.
    second = link(client, v1).request("POST", "/v1/push", body=body).json()
    assert second["accepted"] == [] and sorted(second["duplicates"]) == sorted(first["accepted"])
    assert centre.repo.count() == 3
    # The station's own retry: the centre already has them, so they are acknowledged.
    report = push(v1.sync, link(client, v1))
    assert (report.pushed, report.duplicates, report.refused) == (0, 3, [])
    assert v1.sync.unsent() == 0
    assert centre.repo.count() == 3
    for record in records:
        assert [r.id for r in centre.find_receipt(record.receipt)] == [record.id]


def test_the_same_changeset_twice_in_one_batch_is_stored_once(centre_app, world):
    centre, client = centre_app
    v1 = world["V001"]
    application(v1)
    (blob,) = outbox_blobs(v1)
    reply = link(client, v1).request("POST", "/v1/push", body=push_body([blob, blob])).json()
    assert len(reply["accepted"]) == 1 and reply["duplicates"] == reply["accepted"]
    assert centre.repo.count() == 1


def test_one_bad_changeset_is_refused_by_itself_and_the_rest_stored(centre_app, world):
    centre, client = centre_app
    v1, v2 = world["V001"], world["V002"]
    good = [application(v1, name=n) for n in ("王桂英", "张建国")]
    centre_public = centre.keys.seal.public_bytes()
    edit = [Op("set", "applicant.name", "赵六")]
    bad = {
        # signed with another station's key, claiming to be V001
        "wire.bad_signature": seal(changeset(v1, edit), signer=v2.signer,
                                   centre_public=centre_public, station="V001"),
        # sealed to a centre key that is not this centre's
        "wire.cannot_open": seal(changeset(v1, edit), signer=v1.signer,
                                 centre_public=SealKey.generate().public_bytes(),
                                 station="V001"),
        # V001's signature on a changeset whose origin claims to be V002
        "centre.origin_mismatch": seal(changeset(v1, edit, origin="V002"), signer=v1.signer,
                                       centre_public=centre_public, station="V001"),
        # a village station writing a field only the centre may write
        "domain.centre_authority": seal(changeset(v1, [Op("set", "outcome", "completed")]),
                                        signer=v1.signer, centre_public=centre_public,
                                        station="V001"),
        # a record of a village this station does not serve
        "centre.out_of_scope": seal(changeset(v1, edit, scope="V003"), signer=v1.signer,
                                    centre_public=centre_public, station="V001"),
    }
    ids = {}
    for code, blob in bad.items():
        ids[code] = read_header_id(blob)
        put_in_outbox(v1, ids[code], blob)
    assert v1.sync.unsent() == 7

    report = push(v1.sync, link(client, v1))

    assert report.pushed == 2
    refused = {r["code"]: r for r in report.refused}
    assert set(refused) == set(bad)
    for code, refusal in refused.items():
        assert refusal["id"] == ids[code] and refusal["station"] == "V001", refusal
        assert refusal["zh"] and refusal["en"] and refusal["zh"] != refusal["en"]
    for code in ("wire.bad_signature", "wire.cannot_open", "centre.origin_mismatch"):
        assert ids[code] in refused[code]["en"]  # the sentence names the changeset
    assert "another centre key" in refused["wire.cannot_open"]["en"]
    assert "V003" in refused["centre.out_of_scope"]["en"]
    assert "“Outcome”" in refused["domain.centre_authority"]["en"]
    # The station quarantines each refused one with its reason; the queue moved on.
    quarantined = dict(v1.sync.quarantined())
    assert set(quarantined) == set(ids.values())
    assert quarantined[ids["wire.cannot_open"]]["code"] == "wire.cannot_open"
    assert v1.sync.unsent() == 0
    assert centre.repo.count() == 2
    with centre.repo.writing(centre.now_ms()) as tx:
        assert tx.known(list(ids.values())) == set()
    assert {r.id for g in good for r in centre.find_receipt(g.receipt)} == {
        g.id for g in good}


def test_garbage_in_a_batch_is_refused_and_the_good_item_stored(centre_app, world):
    centre, client = centre_app
    v1 = world["V001"]
    application(v1)
    (blob,) = outbox_blobs(v1)
    truncated = blob[:-10]
    body = push_body([b"garbage, not a changeset", blob, truncated])
    reply = link(client, v1).request("POST", "/v1/push", body=body).json()
    assert len(reply["accepted"]) == 1
    codes = [(r["id"], r["code"]) for r in reply["refused"]]
    assert codes == [(None, "wire.malformed"), (None, "wire.malformed")]
    assert read_header_id(blob) in reply["refused"][1]["en"]  # the clear header names it
    assert centre.repo.count() == 1


def test_a_station_cannot_write_into_another_villages_record_by_claiming_its_own_scope(
        centre_app, world):
    """V001 knows the id of a V002 record (say, a bus once served both): it must not be able
    to alter it by labelling its changeset with its own village."""
    centre, client = centre_app
    v1, v2 = world["V001"], world["V002"]
    theirs = application(v2, name="张建国")
    push(v2.sync, link(client, v2))
    before = centre.find_receipt(theirs.receipt)[0]
    centre_public = centre.keys.seal.public_bytes()
    hostile = [changeset(v1, [Op("set", "applicant.name", "冒名顶替")], record=theirs.id),
               changeset(v1, [Op("set", "resident.name", "冒名顶替")], record=theirs.id,
                         kind="resident")]
    body = push_body([seal(cs, signer=v1.signer, centre_public=centre_public, station="V001")
                      for cs in hostile])
    reply = link(client, v1).request("POST", "/v1/push", body=body).json()
    assert reply["accepted"] == []
    assert sorted(r["id"] for r in reply["refused"]) == sorted(cs.id for cs in hostile)
    for refusal in reply["refused"]:
        assert refusal["code"] == "centre.record_mismatch" and "V002" in refusal["en"]
        assert refusal["id"] in refusal["en"] and refusal["id"] in refusal["zh"]
    after = centre.find_receipt(theirs.receipt)[0]
    assert (after.version, after.scope, after.kind) == (before.version, "V002", "application")
    assert centre.projector.state(after) == centre.projector.state(before)
    # And nothing reaches the bus that serves V002 either.
    bus = world["BUS01"]
    pull(bus.sync, link(client, bus), station=bus)
    assert bus.get(theirs.id).fields["applicant.name"] == "张建国"


def test_a_bundle_needs_no_transport_key_but_is_refused_from_a_revoked_station(
        centre_app, staff_headers, world):
    centre, client = centre_app
    v1 = world["V001"]
    application(v1)
    # Anyone carrying the USB stick can upload it: no X-Station headers at all.
    reply = client.post("/v1/bundle", content=push_body(outbox_blobs(v1)))
    assert reply.status_code == 200 and len(reply.json()["accepted"]) == 1
    assert centre.repo.count() == 1

    application(v1, name="张建国")
    client.post("/v1/staff/revoke", json={"station": "V001"}, headers=staff_headers)
    late = outbox_blobs(v1)[-1]
    reply = client.post("/v1/bundle", content=push_body([late]))
    assert reply.status_code == 200
    (refusal,) = reply.json()["refused"]
    assert refusal["code"] == "centre.revoked" and "V001" in refusal["en"]
    assert refusal["id"] == read_header_id(late)
    assert centre.repo.count() == 1
    error = error_of(client.post("/v1/bundle", content=b"not a bundle"), 400)
    assert error["code"] == "wire.malformed"


def test_a_carried_pull_request_with_a_malformed_field_is_refused_naming_it(centre_app, world):
    """The signed request on a USB stick is JSON anyone can edit: each field is checked before
    the station is looked up, and a bad one is a 400 that names it, never a 500."""
    centre, client = centre_app
    good = signed_pull(world["V001"].sync.transport(), station="V001", after=0,
                       time_ms=centre.now_ms())
    assert client.post("/v1/bundle/pull", content=json.dumps(good)).status_code == 200
    raw = json.dumps(good)
    cases = {
        # a lone surrogate reached the station lookup: UnicodeEncodeError, a 500
        "station": [raw.replace('"V001"', '"\\ud800"'), {**good, "station": "V 001"},
                    {**good, "station": "V" * 33}, {**good, "station": 1}],
        "after": [{**good, "after": True}, {**good, "after": "0"}, {**good, "after": [0]},
                  {**good, "after": 0.5}, {**good, "after": -1}, {**good, "after": 2**62}],
        "time_ms": [{**good, "time_ms": str(good["time_ms"])}, {**good, "time_ms": 2**63}],
        "nonce": [{**good, "nonce": 5}, {**good, "nonce": "\u00e9" * 32}],
        "signature": [{**good, "signature": ["x"]}, {**good, "signature": "%" * 88}],
        "changesets": [{**good, "changesets": new_id()}, {**good, "changesets": ["V001"]},
                       {**good, "changesets": [new_id().upper()]}, {**good, "changesets": [5]},
                       {**good, "changesets": [new_id() for _ in range(MAX_NAMED + 1)]}],
    }
    for name, bodies in cases.items():
        for body in bodies:
            content = body if isinstance(body, str) else json.dumps(body)
            error = error_of(client.post("/v1/bundle/pull", content=content), 400)
            assert error["code"] == "centre.bad_request" and name in error["en"], (body, error)


def acknowledged(client, centre, station: Station, named: list[str]) -> list[str]:
    """What the downlink for a carried pull naming ``named`` acknowledges, read as the
    station reads it: centre signature checked, opened with its own key."""
    request = signed_pull(station.sync.transport(), station=station.station_id, after=0,
                          time_ms=centre.now_ms(), changesets=named)
    reply = client.post("/v1/bundle/pull", content=json.dumps(request))
    assert reply.status_code == 200, reply.text
    ids: list[str] = []
    for blob in unpack(b"DLB1", reply.content, what="downlink", max_items=100,
                       max_item=64 << 20):
        head = verify_batch(blob, centre.keys.signer.public_bytes())
        ids += [i for e in open_batch(blob, head, station.seal_key) if e.kind == ENTRY_ACK
                for i in acked(e)]
    return ids


def test_a_carried_pull_acknowledges_only_what_the_centre_holds_from_that_station(
        centre_app, world):
    """Named changesets are acknowledged only when the log holds them with that station as
    origin: never one not uploaded, one unknown, or another station's; and the names are
    under the station's signature, so a carrier cannot swap them."""
    centre, client = centre_app
    v1, v2 = world["V001"], world["V002"]
    application(v1, name="王桂英")
    application(v2, name="张建国")
    held, theirs = outbox_ids(v1), outbox_ids(v2)
    assert client.post("/v1/bundle", content=push_body(outbox_blobs(v1))).status_code == 200
    push(v2.sync, link(client, v2))
    application(v1, name="李秀兰")  # saved after the bundle was made: never uploaded
    not_sent = [cid for cid in outbox_ids(v1) if cid not in held]
    named = [new_id(), *theirs, *not_sent, *held]
    assert acknowledged(client, centre, v1, named) == held
    assert acknowledged(client, centre, v2, named) == theirs
    assert acknowledged(client, centre, v1, not_sent) == []
    request = signed_pull(v1.sync.transport(), station="V001", after=0,
                          time_ms=centre.now_ms(), changesets=not_sent)
    swapped = client.post("/v1/bundle/pull", content=json.dumps({**request,
                                                                 "changesets": held}))
    assert error_of(swapped, 401)["code"] == "centre.unauthenticated"
    # signed by another key (another station's, a forger's): never called an earlier install
    forged = signed_pull(v2.sync.transport(), station="V001", after=0,
                         time_ms=centre.now_ms())
    error = error_of(client.post("/v1/bundle/pull", content=json.dumps(forged)), 401)
    assert error["code"] == "centre.unauthenticated" and "signature" in error["en"]


def test_a_station_takes_acknowledgements_only_for_its_outbox_and_skips_unknown_entries(
        centre_app, world):
    """An acknowledgement naming a changeset the station received (not one it sent) or one
    it never saw changes nothing there; an entry kind from a newer centre is skipped."""
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    application(v1, name="王桂英")
    application(v1, name="张建国")
    from_bus = bus.create("resident", {"resident.name": "周大山"}, scope="V001")
    push(bus.sync, link(client, bus))
    pull(v1.sync, link(client, v1), station=v1)
    (received,) = [cs.id for cs in v1.ledger.changesets_of(from_bus.id)]
    mine = outbox_ids(v1)
    cursor = v1.sync.cursor()
    blob = seal_batch([Entry(200, 0, b"from a newer centre"),
                       ack_entry([mine[0], received, new_id()])],
                      station="V001", after=cursor, upto=cursor, complete=True,
                      centre_time_ms=centre.now_ms(), station_public=v1.seal_key.public_bytes(),
                      signer=centre.keys.signer)
    assert v1.apply_downlink(blob).acked == 1
    assert outbox_ids(v1) == mine[1:]
    assert v1.db.execute("SELECT acked FROM changesets WHERE id=?",
                         [received]).fetchone()[0] == 0


def test_bodies_at_rest_hold_no_personal_data_in_plaintext(centre_app, staff_headers, world,
                                                          db_url):
    centre, client = centre_app
    v1 = world["V001"]
    record = application(v1)
    v1.update(record.id, {"applicant.address": "青石村五组 8 号"})
    push(v1.sync, link(client, v1))
    client.post("/v1/staff/decide", json={"receipt": record.receipt, "outcome": "returned",
                                          "reason": f"{NAME}材料不全"}, headers=staff_headers)
    needles = [NAME.encode(), ID_NUMBER.encode(), PHONE.encode(),
               "青石村五组".encode(), NAME.encode("utf-16-le")]
    stored = b""
    with centre.repo.d.reading() as conn:
        for table in ("log", "records", "settings", "stations", "codes", "clock_flags"):
            for row in conn.execute(f"SELECT * FROM {table}").fetchall():
                stored += b"|".join(bytes(v) if isinstance(v, bytes | memoryview)
                                    else str(v).encode() for v in row)
    assert record.receipt.encode() in stored  # the rows were read (receipts are not personal)
    assert [n for n in needles if n in stored] == []
    if db_url.startswith("sqlite:///"):
        base = Path(db_url[len("sqlite:///"):])
        files = [p for p in base.parent.glob(base.name + "*") if p.is_file()]
        raw = b"".join(p.read_bytes() for p in files)
        assert record.receipt.encode() in raw
        assert [n for n in needles if n in raw] == []
    # ...yet the centre can read them: the bodies are encrypted, not lost.
    entry = centre.repo.read_log(0, ["V001"], exclude_own=None, limit=10)[0]
    opened = decode_changeset(centre.storage.open("log", entry.body, f"log|{entry.id}"))
    assert dict((op.field, op.value) for op in opened.ops)["applicant.name"] == NAME


# --- pull --------------------------------------------------------------------------------

def test_a_village_pulls_its_own_village_and_the_bus_both(centre_app, staff_headers, world):
    centre, client = centre_app
    v1, v2, bus = world["V001"], world["V002"], world["BUS01"]
    r1 = application(v1, name="王桂英")
    r2 = application(v2, name="张建国")
    for station in (v1, v2):
        push(station.sync, link(client, station))
    assert publish(client, staff_headers, catalogue_json("2026.12.1")).status_code == 200

    blob = raw_pull(client, v1)
    head = verify_batch(blob, centre.keys.signer.public_bytes())
    entries = open_batch(blob, head, v1.seal_key)
    scopes = {decode_changeset(e.data).scope for e in entries if e.kind != ENTRY_CATALOGUE}
    assert scopes == {"V001"}
    assert [e.kind for e in entries].count(ENTRY_CATALOGUE) == 1

    pull(v1.sync, link(client, v1), station=v1)
    assert v1.catalogue.version == "2026.12.1"
    with pytest.raises(NoSuchRecord):
        v1.get(r2.id)

    pull(bus.sync, link(client, bus), station=bus)
    assert bus.get(r1.id).fields["applicant.name"] == "王桂英"
    assert bus.get(r2.id).fields["applicant.name"] == "张建国"
    assert bus.catalogue.version == "2026.12.1"
    assert bus.sync.cursor() == centre.repo.head()


def test_a_station_does_not_get_its_own_changesets_back_after_its_first_pull(
        centre_app, staff_headers, world):
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    first = application(v1)
    push(v1.sync, link(client, v1))
    pull(v1.sync, link(client, v1), station=v1)
    cursor = v1.sync.cursor()
    assert cursor == centre.repo.head() > 0

    mine = application(v1, name="张建国")
    push(v1.sync, link(client, v1))
    visit = application(bus, name="李秀兰", scope="V001")  # the bus, in V001
    push(bus.sync, link(client, bus))
    decided = client.post("/v1/staff/decide", json={"receipt": first.receipt,
                                                    "outcome": "completed"},
                          headers=staff_headers).json()

    got = pulled_changesets(raw_pull(client, v1, after=cursor),
                            centre.keys.signer.public_bytes(), v1.seal_key)
    assert [(cs.record, cs.origin) for cs in got] == [(visit.id, "BUS01"),
                                                      (first.id, CENTRE)]
    assert decided["changeset"] in {cs.id for cs in got}
    assert mine.id not in {cs.record for cs in got}


def test_pulls_are_paged_and_the_cursor_advances(centre_app, world):
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    records = [application(v1, name=n) for n in ("王桂英", "张建国", "李秀兰", "赵六", "钱七")]
    push(v1.sync, link(client, v1))

    blob = raw_pull(client, bus, after=0, limit=2)
    head = read_batch_header(blob)
    seqs = [e.seq for e in open_batch(blob, head, bus.seal_key)]
    assert len(seqs) == 2 and not head.complete and head.upto == seqs[-1]

    batches = pull(bus.sync, link(client, bus), station=bus, limit=2)
    assert [b.new for b in batches] == [2, 2, 1]
    assert [b.complete for b in batches] == [False, False, True]
    assert [b.upto for b in batches] == sorted(b.upto for b in batches)
    assert bus.sync.cursor() == centre.repo.head()
    for record in records:
        assert bus.get(record.id).receipt == record.receipt
    # Up to date: the next pull brings nothing and leaves the cursor where it is.
    (again,) = pull(bus.sync, link(client, bus), station=bus, limit=2)
    assert (again.new, again.complete, bus.sync.cursor()) == (0, True, centre.repo.head())


def test_a_pull_batch_ends_at_its_byte_budget_and_the_rest_follows(centre_app, world,
                                                                    monkeypatch):
    """Big changesets (a long note, many contacts) must not add up to a reply the station
    refuses as too large, which would leave it stuck at its cursor: a batch stops once it
    passes the byte budget, says it is incomplete, and the next one carries on."""
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    records = [application(v1, name=n) for n in ("王桂英", "张建国", "李秀兰", "赵六", "钱七")]
    push(v1.sync, link(client, v1))
    blob = raw_pull(client, bus)
    biggest = max(len(e.data) for e in open_batch(blob, read_batch_header(blob), bus.seal_key))
    monkeypatch.setattr(centre_service, "MAX_PULL_BYTES", 2 * biggest)  # two fit, not three
    batches = pull(bus.sync, link(client, bus), station=bus, limit=500)
    assert [b.new for b in batches] == [2, 2, 1]
    assert [b.complete for b in batches] == [False, False, True]
    assert bus.sync.cursor() == centre.repo.head()
    for record in records:
        assert bus.get(record.id).receipt == record.receipt


def test_a_batch_that_starts_past_the_cursor_leaves_a_gap_to_pull_not_to_skip(centre_app,
                                                                              world):
    """A reply bundle made for a later state of the station (imported after a restore from
    backup) is applied, but the cursor stays: what lies between is pulled, never skipped."""
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    records = [application(v1, name=n) for n in ("王桂英", "张建国", "李秀兰")]
    push(v1.sync, link(client, v1))
    first = read_batch_header(raw_pull(client, bus, after=0, limit=1)).upto
    later = raw_pull(client, bus, after=first)
    assert bus.apply_downlink(later).new == 2
    assert bus.sync.cursor() == 0
    pull(bus.sync, link(client, bus), station=bus)
    assert bus.sync.cursor() == centre.repo.head()
    for record in records:
        assert bus.get(record.id).receipt == record.receipt


@pytest.mark.parametrize("bulk_from", [2, 10_000], ids=["rebuilt", "one-by-one"])
def test_pulled_names_are_found_by_a_search_that_was_already_warm(centre_app, world,
                                                                  monkeypatch, bulk_from):
    """The bus's app has its name index built; what a pull brings is found by name whether
    the index takes the names one by one or (a big batch) is rebuilt once."""
    monkeypatch.setattr(service, "BULK_NAMES", bulk_from)
    _, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    assert bus.search("欧阳") == []  # builds the index
    records = [application(v1, name=n) for n in ("欧阳秀兰", "欧阳建国", "王桂英")]
    push(v1.sync, link(client, v1))
    pull(bus.sync, link(client, bus), station=bus)
    assert {r.id for r in bus.search("oy")} == {records[0].id, records[1].id}
    assert [r.id for r in bus.search("王桂英")] == [records[2].id]


def test_a_pulled_rename_that_rolls_back_is_not_found_by_its_new_name(centre_app, world,
                                                                     monkeypatch):
    """A pull's chunk announces each record to the name index before it commits: when the
    chunk fails and rolls back, the record is not found under a name it does not have."""
    _, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    first = application(v1, name="欧阳秀兰")
    push(v1.sync, link(client, v1))
    pull(bus.sync, link(client, bus), station=bus)
    assert [r.id for r in bus.search("oyxl")] == [first.id]  # the index is warm
    v1.update(first.id, {"applicant.name": "王桂英"})
    application(v1, name="张建国")
    push(v1.sync, link(client, v1))
    calls = []

    def fail_on_the_second_record(self, receipt):
        calls.append(receipt)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger.Ledger, "_keep_receipts_ahead", fail_on_the_second_record)
    with pytest.raises(OSError):
        pull(bus.sync, link(client, bus), station=bus)
    assert bus.get(first.id).name == "欧阳秀兰"
    assert bus.search("王桂英") == []
    assert [r.id for r in bus.search("oyxl")] == [first.id]
    monkeypatch.undo()  # the disk has room again: the next pull brings the rename
    pull(bus.sync, link(client, bus), station=bus)
    assert [r.id for r in bus.search("王桂英")] == [first.id]


def ouyangs(count: int, *, born: str) -> list[tuple[str, str]]:
    """Names that all match "oy", each with its own valid ID number (born in the decade
    ``born``, e.g. "195")."""
    return [(f"欧阳{'一二三四五六七八九十'[n % 10]}{n + 10}",
             (first17 := f"110105{born}{n % 10}0{1 + n % 9}1{n % 10}12{n % 10}")
             + id_check_char(first17)) for n in range(count)]


@pytest.mark.parametrize("preparing", [True, False], ids=["other-core", "this-core"])
def test_a_big_pull_merges_the_same_on_another_core(centre_app, world, monkeypatch,
                                                     preparing):
    """A bus's big first pull is prepared by another process, in slices that split a
    record's changesets apart; what it stores is what the village has, found by name and ID
    number, and a second big batch of edits to those records merges into them."""
    monkeypatch.setattr(service, "BULK_NAMES", 2)
    monkeypatch.setattr(prepare, "SLICE", 3)
    _, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    bus._preparing = preparing
    people = ouyangs(12, born="196")
    records = [application(v1, name=name, id_number=idn) for name, idn in people]
    for record in records[::3]:  # later changesets of some records, in other slices
        v1.update(record.id, {"applicant.address": "青石村五组 8 号"})
    push(v1.sync, link(client, v1))
    first = pull(bus.sync, link(client, bus), station=bus)
    assert sum(b.new for b in first) == 12 + 4
    assert bus._preparer is None  # its processes, which hold the data key, end with the pull
    for record, (name, idn) in zip(records, people, strict=True):
        assert bus.get(record.id).fields == v1.get(record.id).fields
        assert [r.id for r in bus.search(idn)] == [record.id]
        assert [r.id for r in bus.search(name)] == [record.id]
    # Edits to records the bus now has: merged into them, not written over them.
    for record in records:
        v1.update(record.id, {"applicant.phone": "13800138000"})
    push(v1.sync, link(client, v1))
    second = pull(bus.sync, link(client, bus), station=bus)
    assert sum(b.new for b in second) == 12
    for record in records:
        mine = bus.get(record.id)
        assert mine.fields == v1.get(record.id).fields
        assert mine.fields["applicant.phone"] == "13800138000"
    # The same batches again change nothing.
    bus.sync.set_cursor(0)
    again = pull(bus.sync, link(client, bus), station=bus)
    assert sum(b.new for b in again) == 0
    assert sum(b.duplicates for b in again) == 12 + 4 + 12
    assert bus.db.execute("SELECT count(*) FROM changesets").fetchone()[0] == 28


@pytest.mark.parametrize("preparing", [True, False], ids=["other-core", "this-core"])
def test_a_big_import_by_an_enrolled_station_reaches_the_bus(centre_app, world, monkeypatch,
                                                             tmp_path, preparing):
    """A village imports its list of residents after enrolling: on other cores, the rows
    and the sealed, signed outbox copies are made in small chunks (some taken back by the
    station's own core); every record reaches the centre and the bus, found there by name
    and by ID number, with receipt numbers in the order of the file."""
    monkeypatch.setattr(service, "BULK_IMPORT", 2)
    monkeypatch.setattr(ledger, "BULK_CHUNK", 3)
    monkeypatch.setattr(service, "RECEIPT_BLOCK", 4)
    _, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    v1._preparing = preparing
    people = ouyangs(14, born="195")
    path = tmp_path / "residents.csv"
    path.write_text("姓名,身份证号,住址\n" + "".join(f"{name},{idn},青石村一组\n"
                                                 for name, idn in people), encoding="utf-8")
    report = import_file(v1, path)
    assert report.imported == 14
    assert [int(r.rsplit("-", 1)[1]) for r in report.receipts] == list(range(1, 15))
    assert v1.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 14
    pushed = push(v1.sync, link(client, v1))
    assert (pushed.pushed, pushed.refused) == (14, [])
    assert sum(b.new for b in pull(bus.sync, link(client, bus), station=bus)) == 14
    for (name, idn), receipt in zip(people, report.receipts, strict=True):
        (found,) = bus.search(idn)
        assert (found.name, found.receipt) == (name, receipt)
        assert [r.id for r in bus.search(name)] == [found.id]
        assert bus.get(found.id).fields == v1.get(found.id).fields


def test_a_slice_with_a_malformed_changeset_is_left_to_the_ordinary_merge(world):
    bus = world["BUS01"]
    assert prepare.prepare_slice([b"\x02not a changeset"], bus.today(), bus.ledger.rows) is None


def test_a_pull_is_sealed_to_the_station_and_signed_by_the_centre(centre_app, world):
    centre, client = centre_app
    v1, v2 = world["V001"], world["V002"]
    application(v1)
    push(v1.sync, link(client, v1))
    blob = raw_pull(client, v1)
    centre_public = centre.keys.signer.public_bytes()
    head = verify_batch(blob, centre_public)
    assert head.station == "V001" and len(open_batch(blob, head, v1.seal_key)) == 1
    with pytest.raises(CannotOpen):
        open_batch(blob, head, v2.seal_key)  # another station's key cannot open it
    with pytest.raises(BadSignature):
        verify_batch(blob, v2.signer.public_bytes())  # nor does anyone else's key verify it
    for position in (len(blob) // 2, 10, len(blob) - 1):
        flipped = bytearray(blob)
        flipped[position] ^= 0x01
        with pytest.raises(BadSignature):
            verify_batch(bytes(flipped), centre_public)
    # The station refuses the altered batch and its cursor does not move.
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x01
    with pytest.raises(BadSignature):
        v1.apply_downlink(bytes(flipped))
    assert v1.sync.cursor() == 0


def test_a_locked_station_keeps_the_pull_in_its_inbox_until_unlocked(centre_app, world):
    centre, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    record = application(v1)
    push(v1.sync, link(client, v1))
    home = bus.home
    bus.close()

    sync = SyncState.open_locked(home)  # unattended: no passphrase
    locked = CentreClient(URL, station=sync.station, signer=sync.transport(), client=client)
    (head,) = pull(sync, locked)
    assert head.complete and sync.cursor() == centre.repo.head()
    assert len(sync.kept_batches()) == 1
    sync.close()

    reopened = Station.open(home, PASSPHRASE)
    world["BUS01"] = reopened
    with pytest.raises(NoSuchRecord):
        reopened.get(record.id)
    (report,) = reopened.drain_inbox().merged
    assert report.new == 1
    assert reopened.get(record.id).fields["applicant.name"] == NAME
    assert reopened.sync.kept_batches() == []


def test_a_damaged_kept_batch_the_store_cannot_set_aside_now_stays_kept(centre_app, world,
                                                                        monkeypatch):
    """Another program holds the database while the agent unlocks: the damaged batch can
    be neither merged nor set aside right now. It stays kept and the unlock says so, rather
    than failing; once the database is free, the next unlock sets it aside and the pull
    brings the record again."""
    import sqlite3

    from station.store import db as dbmod

    _, client = centre_app
    v1, bus = world["V001"], world["BUS01"]
    record = application(v1)
    push(v1.sync, link(client, v1))
    home = bus.home
    bus.close()
    sync = SyncState.open_locked(home)
    pull(sync, CentreClient(URL, station=sync.station, signer=sync.transport(), client=client))
    (kept,) = sync.kept_batches()
    blob = kept.sealed
    with sync.db.conn:
        sync.db.execute("UPDATE inbox SET sealed=? WHERE seq=?",  # one bit flipped
                        [blob[:-1] + bytes([blob[-1] ^ 1]), kept.seq])
    sync.close()
    reopened = Station.open(home, PASSPHRASE)
    world["BUS01"] = reopened
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 100)
    other = sqlite3.connect(dbmod.db_path(home), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        busy = Station.open(home, PASSPHRASE)
        drained = busy.drain_inbox()
        busy.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert (drained.unmerged, drained.set_aside) == (1, 0)
    assert "in use by another program" in drained.reason[1]
    assert len(reopened.sync.kept_batches()) == 1
    assert reopened.drain_inbox().set_aside == 1 and reopened.sync.cursor() == 0
    pull(reopened.sync, link(client, reopened), station=reopened)
    assert reopened.get(record.id).fields["applicant.name"] == NAME


def outbox_ids(station: Station) -> list[str]:
    return [item.changeset for item in station.sync.outbox(10_000, 1 << 30)]


def read_header_id(blob: bytes) -> str:
    from station.wire.envelope import read_header

    return read_header(blob).changeset_id


def test_a_big_batch_is_checked_on_every_core_and_refusals_keep_their_place(
        centre_app, staff_headers, tmp_path):
    """Batches past the pool threshold are checked in worker processes; the answer is the
    same as checking them here, item by item, with each refusal at its own index."""
    from station.centre.opening import POOL_FROM
    from station.wire.framing import pack

    centre, client = centre_app
    v1 = enrolled(client, staff_headers, tmp_path, "V001")
    for i in range(POOL_FROM + 10):
        v1.create("resident", {"resident.name": f"居民{i}"})
    items = [i.sealed for i in v1.sync.outbox(10**6, 1 << 40)]
    items.insert(7, b"not a sealed changeset")
    items.insert(40, items[3][:-1] + bytes([items[3][-1] ^ 1]))
    body = pack(b"SCB1", items)
    reply = client.post("/v1/push", content=body, headers=signed_headers(
        v1.sync.transport(), "V001", "POST", "/v1/push", body,
        time_ms=centre.now_ms())).json()
    assert len(reply["accepted"]) == POOL_FROM + 10
    assert [r["index"] for r in reply["refused"]] == [7, 40]
    assert centre.opener.processes >= 1
    v1.close()
