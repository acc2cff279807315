"""End to end: a change relayed by the centre that this station's version refuses (a value
a newer station accepts) is kept aside, encrypted; everything else still comes down, the
sync says so, and once the station reads it (an upgrade) the next sync merges it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from station.centre.keys import CentreKeys, Protector
from station.centre.repo import open_repository
from station.centre.serve import KEYS
from station.centre.service import Centre
from station.cli import cli
from station.cli.common import run
from station.domain import merge, validate
from station.domain.changeset import Changeset, Op
from station.domain.hlc import HLC
from station.store.backup import backup, restore
from station.store.db import db_path
from station.store.importer import import_file
from station.store.ledger import new_id
from station.store.service import Station
from station.sync.engine import SyncReport, sync_once
from station.wire.codec import encode_changeset
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, link
from tests.e2e.test_sync import APPLICATION

NEWER_PHONE = "10412345678"  # a number series this version's rule (1[3-9]…) refuses


def sync(station: Station) -> SyncReport:
    with link(station) as lk:
        return sync_once(station.sync, lk, station=station)


@contextmanager
def centre_writer(tmp_path: Path, centre: LiveCentre, db_url: str) -> Iterator[Centre]:
    """The centre's own write path, in this process, on the live centre's database: as a
    second centre process would append to the log."""
    keys = CentreKeys.load(centre.home / KEYS, Protector(key_file=tmp_path / "centre.keyfile"))
    writer = Centre(open_repository(db_url), keys, public_url=centre.url, check_processes=0)
    try:
        yield writer
    finally:
        writer.close()


def relay_newer_phone(writer: Centre, state: merge.State) -> Changeset:
    """A phone change made by a newer station, in the centre's log as it relays it."""
    heads = tuple(h.op_id for h in merge.register_heads(state, "applicant.phone"))
    cs = Changeset(new_id(), state["id"], "application", state["scope"], "V001", "李春梅",
                   HLC(writer.now_ms(), 0, "newer-laptop"),
                   (Op("set", "applicant.phone", NEWER_PHONE, prev=heads),))
    with writer.repo.writing(writer.now_ms()) as tx:
        tx.append_many([writer._entry(tx, cs, encode_changeset(cs))])
    return cs


def test_a_change_this_version_refuses_is_kept_aside_and_merges_after_an_upgrade(
        tmp_path, live_centre, db_url, capsys, passphrase_file, monkeypatch):
    village = enrolled(tmp_path, live_centre, "V001")
    record = village.create("application", APPLICATION)
    sync(village)
    with centre_writer(tmp_path, live_centre, db_url) as writer:
        refused = relay_newer_phone(writer, village.ledger.state(record.id))
    village.update(record.id, {"applicant.address": "青石村四组 3 号"})  # after it, same record
    other = village.create("application", {**APPLICATION, "applicant.name": "李建国"})
    sync(village)

    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    first = sync(bus)
    again = sync(bus)  # it does not stop every later pull either
    assert bus.get(other.id).fields["applicant.name"] == "李建国"
    got = bus.get(record.id).fields
    assert got["applicant.address"] == "青石村四组 3 号"
    assert got["applicant.phone"] == APPLICATION["applicant.phone"]
    assert first.held == again.held == 1
    assert "1 changes from the centre cannot be read by this version" in first.summary("en")
    assert "update station" in first.summary("en")
    assert "1 条更新本版本无法读取" in first.summary("zh")
    assert "请升级 station" in first.summary("zh")
    raw = db_path(bus.home).read_bytes() + Path(f"{db_path(bus.home)}-wal").read_bytes()
    assert NEWER_PHONE.encode() not in raw  # kept aside sealed, as every changeset (G2)

    bus.close()
    code = run(cli, ["sync", "--json", "--home", str(bus.home), "--passphrase-file",
                     str(passphrase_file)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["held"] == 1

    monkeypatch.setattr(validate, "_MOBILE", re.compile(r"^1[0-9]{10}$"))  # the upgrade
    bus = Station.open(bus.home, PASSPHRASE)
    upgraded = sync(bus)
    assert upgraded.held == 0 and upgraded.held_merged == 1
    assert "1 changes kept aside earlier have now merged" in upgraded.summary("en")
    assert bus.get(record.id).fields["applicant.phone"] == NEWER_PHONE
    assert bus.get(record.id).fields["applicant.address"] == "青石村四组 3 号"
    assert bus.ledger.held() == 0
    assert refused.id in {h["changeset"] for h in bus.history(record.id)}
    assert bus.ledger.state(record.id) == village_after(village, record.id)


def village_after(village: Station, record_id: str) -> merge.State:
    """The record as the village, upgraded too, merges it: the same state (G3)."""
    sync(village)
    return village.ledger.state(record_id)


def test_a_restored_station_brings_back_held_set_aside_import_marks_and_drafts_working(
        tmp_path, live_centre, db_url, monkeypatch):
    """A schema-v5 station is backed up and restored onto a new disk: what waits beside its
    records comes back, and each still does its work there."""
    village = enrolled(tmp_path, live_centre, "V001")
    record = village.create("application", APPLICATION)
    sync(village)
    with centre_writer(tmp_path, live_centre, db_url) as writer:
        relay_newer_phone(writer, village.ledger.state(record.id))
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    rows = tmp_path / "cases.jsonl"
    rows.write_text(json.dumps({"kind": "application", **APPLICATION,
                                "applicant.name": "周桂兰"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    assert import_file(bus, rows).imported == 1
    bus.save_draft("draft-1", "application", {"applicant.name": "吴建华"})
    assert sync(bus).held == 1
    bus.db.execute("INSERT INTO inbox_set_aside(batch, sealed, received, set_aside, reason) "
                   "VALUES ('0-3', x'00', '2026-11-23', '2026-11-23', 'tampered')")
    bus.db.conn.commit()
    beside = [bus.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
              for t in ("changesets_held", "inbox_set_aside", "import_rows", "drafts")]
    made = backup(bus.home, tmp_path)
    bus.close()

    assert restore(made, tmp_path / "new").station == "BUS01"
    restored = Station.open(tmp_path / "new", PASSPHRASE)
    assert [restored.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("changesets_held", "inbox_set_aside", "import_rows", "drafts")] == beside
    (draft,) = restored.drafts()
    assert draft.values["applicant.name"] == "吴建华"
    assert import_file(restored, rows).imported == 0  # the marks still know the row
    monkeypatch.setattr(validate, "_MOBILE", re.compile(r"^1[0-9]{10}$"))  # the upgrade
    upgraded = sync(restored)
    assert upgraded.held_merged == 1 and restored.ledger.held() == 0
    assert restored.get(record.id).fields["applicant.phone"] == NEWER_PHONE
    restored.close()
