"""Conflicts end to end: a real centre on 127.0.0.1, real stations in temp dirs, no mock.

Each scenario checks what a person relies on: no one's work is lost (the value that did not
win is still in the record's history), every station and the centre end in the same state
(a laptop enrolled afterwards, which pulls everything the centre holds, included), and what
the agent is shown is in words."""

from __future__ import annotations

from pathlib import Path

from station.cli import cli
from station.cli.common import run
from station.domain import merge
from station.domain.catalogue import shipped_catalogue
from station.store.service import Station
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled
from tests.e2e.test_sync import sync

MATTER = next(m for m in shipped_catalogue() if m.decided_at == "station" and not m.is_bundle
              and any(not x.essential for x in m.materials))
OPTIONAL = next(x.code for x in MATTER.materials if not x.essential)
ESSENTIAL = [x.code for x in MATTER.materials if x.essential]
DUE = {x.code: "2026-12-04" for x in MATTER.materials if not x.essential}


def converge(*stations: Station) -> None:
    """Sync every station until each has everything (twice round is enough)."""
    for _ in range(2):
        for st in stations:
            sync(st)


def assert_same(record_id: str, tmp_path: Path, centre: LiveCentre, *stations: Station
                ) -> None:
    """Byte-identical state at every station and at a laptop enrolled now, which can only
    have it from the centre."""
    late = enrolled(tmp_path, centre, f"LATE{len(list(tmp_path.glob('LATE*'))) + 1}",
                    ["V001"])
    sync(late)
    try:
        states = {merge.dump(st.ledger.state(record_id)) for st in (*stations, late)}
        assert len(states) == 1
        assert len({tuple(c.id for c in st.conflicts()) for st in (*stations, late)}) == 1
    finally:
        late.close()


def values_in_history(station: Station, record_id: str, field: str) -> set[object]:
    return {op.get("v") for h in station.history(record_id) for op in h["ops"]
            if op.get("f") == field}


def case(station: Station) -> str:
    return station.create("application", {
        "matter": MATTER.code, "applicant.name": "王桂英", "materials.received": ESSENTIAL,
        "materials.due": DUE}).id


def test_fields_and_promised_dates_edited_at_two_stations(tmp_path, live_centre, capsys):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    rid = case(village)
    converge(village, bus)
    village.update(rid, {"applicant.phone": "13900000001",
                         f"materials.due.{OPTIONAL}": "2026-12-08"}, reason="居民来电改期")
    bus.update(rid, {"applicant.phone": "13900000002",
                     f"materials.due.{OPTIONAL}": "2026-12-10"}, reason="居民外出")
    converge(village, bus)
    fields = {c.field for c in village.conflicts()}
    assert fields == {"applicant.phone", f"materials.due.{OPTIONAL}"}
    assert_same(rid, tmp_path, live_centre, village, bus)
    # the listing says which material's promised date disagrees, as the app does
    village.close()
    secret = tmp_path / "p.txt"
    secret.write_text(PASSPHRASE, encoding="utf-8")
    assert run(cli, ["conflicts", "--lang", "zh", "--home", str(tmp_path / "V001"),
                     "--passphrase-file", str(secret)]) == 0
    assert f"容缺承诺日期 {OPTIONAL}\n" in capsys.readouterr().out
    village = Station.open(tmp_path / "V001", PASSPHRASE)
    village.settle(f"{village.get(rid).receipt}:applicant.phone", pick=2)
    bus.settle(f"{bus.get(rid).receipt}:materials.due.{OPTIONAL}", value="2026-12-09")
    converge(village, bus)
    assert village.conflicts() == bus.conflicts() == []
    assert_same(rid, tmp_path, live_centre, village, bus)
    assert {"13900000001", "13900000002"} <= values_in_history(bus, rid, "applicant.phone")


def test_a_settlement_and_a_new_edit_made_apart_leave_a_conflict_not_a_lost_edit(
        tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    rid = case(village)
    converge(village, bus)
    village.update(rid, {"applicant.address": "青石村一组 8 号"})
    bus.update(rid, {"applicant.address": "青石村三组 12 号"})
    converge(village, bus)
    (conflict,) = village.conflicts()
    village.settle(conflict.id, pick=1)  # settled at the village while…
    bus.update(rid, {"applicant.address": "青石村三组 14 号"})  # …the bus edits again
    converge(village, bus)
    assert_same(rid, tmp_path, live_centre, village, bus)
    (again,) = village.conflicts()  # the bus's new edit is not buried by the settlement
    assert "青石村三组 14 号" in {h.value for h in again.heads}
    history = values_in_history(village, rid, "applicant.address")
    assert {"青石村一组 8 号", "青石村三组 12 号", "青石村三组 14 号"} <= history


def test_materials_received_at_one_station_and_removed_at_the_other(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    rid = case(village)
    converge(village, bus)
    village.update(rid, {"materials.received": [*ESSENTIAL, OPTIONAL]})
    bus.update(rid, {"materials.received": ESSENTIAL[:-1]} if len(ESSENTIAL) > 1
               else {"channel": "bus"})
    converge(village, bus)
    assert_same(rid, tmp_path, live_centre, village, bus)
    received = village.get(rid).fields["materials.received"]
    assert OPTIONAL in received  # a document handed in is never lost to a concurrent edit


def test_completed_at_one_station_returned_at_the_other(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    rid = case(village)
    village.update(rid, {"materials.received": [x.code for x in MATTER.materials]})
    converge(village, bus)
    village.change_status(rid, "completed")
    bus.change_status(rid, "returned", reason="申请人已迁出本村")
    converge(village, bus)
    (conflict,) = village.conflicts()
    assert conflict.field == "status" and not conflict.centre_settles
    assert_same(rid, tmp_path, live_centre, village, bus)
    bus.settle(bus.conflicts()[0].id, value="办结")
    converge(village, bus)
    assert village.conflicts() == bus.conflicts() == []
    assert village.get(rid).status["to"] == bus.get(rid).status["to"] == "completed"
    assert_same(rid, tmp_path, live_centre, village, bus)


def test_voided_at_one_station_while_edited_at_the_other(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    rid = case(village)
    converge(village, bus)
    village.void(rid, "重复受理")
    bus.update(rid, {"applicant.phone": "13900000003"})
    converge(village, bus)
    for st in (village, bus):
        record = st.get(rid)
        assert record.status["to"] == "voided"  # voiding wins, with its reason
        assert record.fields["applicant.phone"] == "13900000003"  # the edit is kept too
    assert_same(rid, tmp_path, live_centre, village, bus)
