"""A changeset from the centre that this version cannot read is kept aside, sealed, and the
rest of what came merges: in an ordinary pull and in a big one prepared on other cores."""

from __future__ import annotations

from pathlib import Path

from station.store.check import check
from station.store.prepare import SLICE, prepare_slice
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.wire.codec import compress, decode_changeset, encode_changeset, to_json_bytes
from tests.conftest import PASSPHRASE
from tests.e2e.test_sync import APPLICATION


def receiver(tmp_path: Path) -> Station:
    station, _ = Station.init(tmp_path / "BUS01", station_id="BUS01", name="直通车",
                              agent="张伟", passphrase=PASSPHRASE, kdf=FAST_KDF)
    return station


def made_at(station: Station, count: int) -> tuple[list[str], list[bytes]]:
    """Records made at a village, and their changesets as the centre relays them."""
    ids = [station.create("application", APPLICATION).id for _ in range(count)]
    return ids, [encode_changeset(cs) for rid in ids for cs in station.ledger.changesets_of(rid)]


def from_a_newer_station(encoded: bytes) -> bytes:
    """The changeset again, with an op kind a newer station has and this version has not."""
    data = decode_changeset(encoded).to_dict()
    data["ops"].append({"op": "move", "f": "applicant.address", "v": "elsewhere"})
    return compress(to_json_bytes(data))


def test_a_big_pull_merges_all_but_what_this_version_cannot_read(station, tmp_path):
    ids, encoded = made_at(station, SLICE + 5)
    newer = from_a_newer_station(encoded[3])
    bus = receiver(tmp_path)
    slice_ = [*encoded[:3], newer, *encoded[4:SLICE]]
    slices = [(slice_, prepare_slice(slice_, bus.today(), bus.ledger.rows)),
              (encoded[SLICE:], prepare_slice(encoded[SLICE:], bus.today(), bus.ledger.rows))]
    assert slices[0][1] is None and slices[1][1] is not None  # the bad slice: the ledger's
    report = bus.ledger.receive_prepared(slices, today=bus.today())
    assert report.held == 1 and bus.ledger.held() == 1
    assert bus.count() == SLICE + 4
    assert {s.id for s in bus.list(limit=1000)} == set(ids) - {ids[3]}
    assert check(bus.ledger).clean  # kept aside is not damage


def test_a_batch_only_of_unreadable_changesets_merges_nothing_and_keeps_each_once(station,
                                                                                  tmp_path):
    _, encoded = made_at(station, 2)
    newer = [from_a_newer_station(blob) for blob in encoded]
    bus = receiver(tmp_path)
    first = bus.ledger.receive_encoded(newer, today=bus.today())
    again = bus.ledger.receive_encoded(newer, today=bus.today())  # the same range re-pulled
    assert first.held == again.held == 2 and first.new == 0
    assert bus.ledger.held() == 2  # each kept once
    assert bus.count() == 0
    assert bus.ledger.retry_held(today=bus.today()) == 0 and bus.ledger.held() == 2
    assert check(bus.ledger).clean


def test_what_is_kept_aside_is_listed_with_since_why_and_receipt_and_nothing_personal(
        station, tmp_path):
    ids, encoded = made_at(station, 2)
    known, unseen = (station.get(rid).receipt for rid in ids)
    first_of_second = len(station.ledger.changesets_of(ids[0]))
    bus = receiver(tmp_path)
    bus.ledger.receive_encoded(encoded[:first_of_second], today=bus.today())  # the 1st record
    edit = station.update(ids[0], {"applicant.address": "青石村四组 3 号"})
    newer_edit = from_a_newer_station(encode_changeset(
        station.ledger.changesets_of(edit.id)[-1]))
    bus.ledger.receive_encoded([newer_edit, from_a_newer_station(encoded[first_of_second])],
                               today=bus.today())
    held = bus.ledger.held_changes()
    assert held.count == 2 and held.since is not None
    assert sorted(held.receipts()) == sorted([known, unseen])  # here, and one never seen
    for lang in ("zh", "en"):
        text = "\n".join(held.lines(lang))
        assert known in text and unseen in text
        assert "王桂英" not in text and "青石村" not in text and "elsewhere" not in text
    assert "本版本不认识的字段或操作（2 条）" in "\n".join(held.lines("zh"))
    assert "Update station to the newest version" in "\n".join(held.lines("en"))
