"""Two stores edit the same record apart, exchange changesets, see the conflict, settle it.

This is the station side of DESIGN §6 end to end, without a network: the sync client later
carries exactly these changesets between stores."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from station.cli import cli
from station.cli.common import run
from station.domain import merge
from station.domain.changeset import CENTRE, Changeset, Op
from station.domain.errors import ValidationError
from station.domain.hlc import HLC
from station.store.errors import CentreSettles, ConflictChanged, NoSuchConflict, SettleChoice
from station.store.projection import Record
from station.store.service import Station
from station.store.vault import FAST_KDF
from tests.conftest import PASSPHRASE, FakeNow

YEAR = dt.timedelta(days=365)


def make(tmp_path, name, now):
    st, _ = Station.init(tmp_path / name, station_id=name, name=name, agent=f"agent-{name}",
                         passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    return st


def exchange(*stations: Station) -> None:
    """Everyone gets every changeset everyone has (what sync will do)."""
    everything = {}
    for st in stations:
        for (rid,) in st.db.execute("SELECT id FROM records"):
            for cs in st.ledger.changesets_of(rid):
                everything[cs.id] = cs
    for st in stations:
        st.ledger.receive(everything.values(), today=st.today())


def conflicting(village: Station, bus: Station, field: str, ours: str, theirs: str, *,
                name: str) -> Record:
    """A resident the village made and both stations then changed at once, ``field`` to
    ``ours`` at the village and ``theirs`` on the bus, exchanged: one open conflict."""
    record = village.create("resident", {"resident.name": name})
    exchange(village, bus)
    village.update(record.id, {field: ours})
    bus.update(record.id, {field: theirs})
    exchange(village, bus)
    return record


def states(*stations: Station) -> list[bytes]:
    out = []
    for st in stations:
        ids = sorted(r[0] for r in st.db.execute("SELECT id FROM records"))
        out.append(b"|".join(merge.dump(st.ledger.state(i)) for i in ids))
    return out


@pytest.fixture
def pair(tmp_path):
    village = make(tmp_path, "V001", FakeNow())
    bus = make(tmp_path, "BUS01", FakeNow())
    yield village, bus
    village.close()
    bus.close()


def test_concurrent_edits_conflict_at_both_and_settling_converges(pair):
    village, bus = pair
    record = village.create("resident", {"resident.name": "王桂英",
                                         "resident.phone": "13900000000"})
    exchange(village, bus)
    village.update(record.id, {"resident.phone": "13900000001"})
    bus.update(record.id, {"resident.phone": "13900000002"})
    exchange(village, bus)
    for st in (village, bus):
        (conflict,) = st.conflicts()
        assert conflict.field == "resident.phone"
        assert {h.value for h in conflict.heads} == {"13900000001", "13900000002"}
        assert {h.author for h in conflict.heads} == {"agent-V001", "agent-BUS01"}
    assert states(village, bus)[0] == states(village, bus)[1]
    shown = village.get(record.id).fields["resident.phone"]
    settled = village.settle(village.conflicts()[0].id, pick=2)
    assert settled.fields["resident.phone"] != shown
    exchange(village, bus)
    assert village.conflicts() == bus.conflicts() == []
    assert bus.get(record.id).fields["resident.phone"] == settled.fields["resident.phone"]
    a, b = states(village, bus)
    assert a == b


def test_settling_with_a_new_value(pair):
    village, bus = pair
    record = conflicting(village, bus, "resident.address", "青石村一组 1 号", "青石村二组 2 号",
                         name="赵秀兰")
    cid = bus.conflicts()[0].id
    with pytest.raises(SettleChoice):
        bus.settle(cid)
    with pytest.raises(SettleChoice):
        bus.settle(cid, pick=3)
    bus.settle(cid, value="青石村三组 3 号")
    exchange(village, bus)
    assert village.get(record.id).fields["resident.address"] == "青石村三组 3 号"
    with pytest.raises(NoSuchConflict):
        village.settle(cid, pick=1)


def three_addresses(tmp_path):
    """The village and the bus changed an address apart and exchanged; a third place (five
    minutes later by its clock) changed it too, and its change has not reached them yet."""
    village, bus = make(tmp_path, "V001", FakeNow()), make(tmp_path, "BUS01", FakeNow())
    third = make(tmp_path, "V002", FakeNow(FakeNow().value + dt.timedelta(minutes=5)))
    record = village.create("resident", {"resident.name": "赵秀兰"})
    exchange(village, bus, third)
    village.update(record.id, {"resident.address": "青石村一组 1 号"})
    bus.update(record.id, {"resident.address": "青石村二组 2 号"})
    third.update(record.id, {"resident.address": "青石村三组 3 号"})
    exchange(village, bus)
    return village, bus, third, record.id


def test_a_value_that_arrives_while_a_person_chooses_is_never_settled_unseen(tmp_path):
    village, bus, third, record_id = three_addresses(tmp_path)
    (looked_at,) = village.conflicts()
    seen = [h.op_id for h in looked_at.heads]
    exchange(village, third)  # a sync lands while the person reads the two values
    for choice in ({"pick": 1}, {"value": "青石村四组 4 号"}):
        with pytest.raises(ConflictChanged) as exc:
            village.settle(looked_at.id, seen=seen, **choice)
        assert "nothing was saved" in exc.value.message("en")
        assert "没有保存" in exc.value.message("zh")
    assert village.get(record_id).fields["resident.address"] == "青石村三组 3 号"  # as shown
    (now,) = village.conflicts()
    assert {h.value for h in now.heads} == {"青石村一组 1 号", "青石村二组 2 号",
                                           "青石村三组 3 号"}
    settled = village.settle(now.id, pick=2, seen=[h.op_id for h in now.heads])
    assert settled.fields["resident.address"] == now.heads[1].value
    exchange(village, bus, third)
    assert village.conflicts() == bus.conflicts() == third.conflicts() == []
    for st in (village, bus, third):
        st.close()


def test_a_settled_value_is_checked_like_a_form_and_never_clears_the_name(pair):
    village, bus = pair
    record = village.create("resident", {"resident.name": "王桂英",
                                         "resident.id_number": "11010519491231002X"})
    exchange(village, bus)
    village.update(record.id, {"resident.name": "王桂芳",
                               "resident.id_number": "110101199003077758"})
    bus.update(record.id, {"resident.name": "王贵英",
                           "resident.id_number": "110101199003070011"})
    exchange(village, bus)
    ids = {c.field: c.id for c in village.conflicts()}
    with pytest.raises(ValidationError) as exc:
        village.settle(ids["resident.name"], value="   ")
    assert "Resident name is required" in exc.value.message("en")
    assert "居民姓名不能为空" in exc.value.message("zh")
    with pytest.raises(ValidationError) as exc:
        village.settle(ids["resident.id_number"], value="110101199003077777")
    assert "check character" in exc.value.message("en")
    with pytest.raises(ValidationError):
        village.update(record.id, {"resident.name": ""})  # nor an edit (station edit --set)
    kept = village.get(record.id)
    assert kept.fields["resident.name"] in ("王桂芳", "王贵英")
    assert {c.field for c in village.conflicts()} == {"resident.name", "resident.id_number"}
    assert village.search("王") and village.search("wang")


def test_a_status_conflict_settles_on_the_outcome_typed_in_chinese_with_its_own_reason(
        pair, tmp_path, capsys, passphrase_file):
    village, bus = pair
    matter = next(m for m in village.catalogue if m.decided_at == "station" and not m.is_bundle)
    record = village.create("application", {
        "matter": matter.code, "applicant.name": "王桂英",
        "materials.received": [m.code for m in matter.materials]})
    exchange(village, bus)
    village.change_status(record.id, "completed")
    bus.change_status(record.id, "returned", reason="申请人已迁出本村")
    exchange(village, bus)
    (conflict,) = bus.conflicts()
    assert conflict.heads[0].value["to"] == "returned"  # the bus's later write shows for now
    bus.close()
    common = ["--home", str(tmp_path / "BUS01"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["conflicts", "settle", conflict.id, "--value", "办结", *common]) == 0
    capsys.readouterr()
    assert run(cli, ["show", record.id, "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == {"to": "completed", "round": 0}


def two_outcomes(village: Station, bus: Station) -> str:
    """A case the station decides, completed at the village and returned on the bus apart,
    then exchanged: an open conflict on its outcome (the bus's, later, shows for now), and a
    second case beside it with no conflict. Returns the conflicted case's id."""
    matter = next(m for m in village.catalogue if m.decided_at == "station" and not m.is_bundle)
    every = [m.code for m in matter.materials]
    record = village.create("application", {"matter": matter.code, "applicant.name": "王桂英",
                                            "materials.received": every})
    village.create("application", {"matter": matter.code, "applicant.name": "赵建国",
                                   "materials.received": every})
    exchange(village, bus)
    village.change_status(record.id, "completed")
    bus.change_status(record.id, "returned", reason="申请人已迁出本村")
    exchange(village, bus)
    return record.id


def test_the_months_figures_say_how_many_counted_cases_are_provisional(
        pair, tmp_path, capsys, passphrase_file):
    """The month report counted a case in conflict (completed here, returned on the bus) by
    the value shown for now, with no word that its figures may change: the count of such
    cases is in the figures, the JSON, the export, and a sentence under the table."""
    village, bus = pair
    two_outcomes(village, bus)
    figures = bus.report()["all"]
    assert (figures.active, figures.completed, figures.conflicted) == (2, 0, 1)  # counted as before
    (conflict,) = bus.conflicts()
    bus.close()
    common = ["--home", str(tmp_path / "BUS01"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["report", "--json", *common]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conflicted"] == 1 and data["figures"]["all"]["conflicted"] == 1
    assert run(cli, ["report", "--by", "matter", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["conflicted"] == 1
    assert run(cli, ["report", "--lang", "zh", *common]) == 0
    assert ("其中 1 件有待处理的冲突，按目前显示的值统计；冲突处理后，这些数字可能会变"
            "（station conflicts）") in capsys.readouterr().out
    assert run(cli, ["report", *common]) == 0
    assert ("1 of the cases counted has open conflicts and is counted by the value shown "
            "for now: these figures may change once the conflicts are settled "
            "(station conflicts)") in " ".join(capsys.readouterr().out.split())
    out = tmp_path / "report.json"
    assert run(cli, ["export", "json", str(out), "--what", "report", *common]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))[0]["conflicted"] == 1
    assert "1 of the cases counted has open conflicts" in capsys.readouterr().err
    # settled: the figures are final, and nothing more is said
    assert run(cli, ["conflicts", "settle", conflict.id, "--value", "completed", *common]) == 0
    capsys.readouterr()
    assert run(cli, ["report", "--json", *common]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conflicted"] == 0 and data["figures"]["all"]["completed"] == 1
    assert run(cli, ["report", *common]) == 0
    assert "conflict" not in capsys.readouterr().out


def test_causality_beats_clocks_five_years_ahead_and_two_days_behind(tmp_path):
    ahead = make(tmp_path, "V001", FakeNow(FakeNow().value + 5 * YEAR))
    behind = make(tmp_path, "V002", FakeNow(FakeNow().value - dt.timedelta(days=2)))
    record = ahead.create("resident", {"resident.name": "钱多多",
                                       "resident.phone": "13900000000"})
    exchange(ahead, behind)
    # The laptop two days behind edits after seeing the value from the one 5 years ahead:
    behind.update(record.id, {"resident.phone": "13911111111"})
    exchange(ahead, behind)
    for st in (ahead, behind):
        assert st.get(record.id).fields["resident.phone"] == "13911111111"
        assert st.conflicts() == []
    # and the wrong clock was noticed, not adopted
    skew = behind.db.execute("SELECT device, ahead_ms FROM clock_skew").fetchall()
    assert skew and skew[0][0] == ahead.device and skew[0][1] > 4 * 365 * 24 * 3600 * 1000
    behind.update(record.id, {"resident.phone": "13922222222"})
    latest = next(h for h in behind.history(record.id)
                  if any(op.get("v") == "13922222222" for op in h["ops"]))
    assert latest["wall"] < int(record.updated.split(".")[0])  # its own clock, not year+5
    ahead.close()
    behind.close()


def test_applying_the_same_changesets_twice_changes_nothing(pair):
    village, bus = pair
    village.create("resident", {"resident.name": "孙悟空"})
    exchange(village, bus)
    before = states(bus)
    exchange(village, bus)
    report = bus.ledger.receive([cs for (rid,) in village.db.execute("SELECT id FROM records")
                                 for cs in village.ledger.changesets_of(rid)],
                                today=bus.today())
    assert report.new == 0 and report.duplicates == 1
    assert states(bus) == before


def test_the_cli_shows_and_settles_a_conflict(pair, tmp_path, capsys, passphrase_file):
    village, bus = pair
    conflicting(village, bus, "resident.village_group", "一组", "二组", name="周秀英")
    village.close()
    common = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["conflicts", "--json", *common]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["field"] for c in listed] == ["resident.village_group"]
    assert {h["value"] for h in listed[0]["heads"]} == {"一组", "二组"}
    assert run(cli, ["conflicts", *common]) == 0
    assert "--pick 2" in capsys.readouterr().out
    assert run(cli, ["conflicts", "settle", listed[0]["id"], "--pick", "1", *common]) == 0
    assert run(cli, ["conflicts", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_the_cli_words_each_competing_value_as_the_app_does(pair, tmp_path, capsys,
                                                            passphrase_file):
    village, bus = pair
    matter = next(m for m in village.catalogue if m.decided_at == "station" and not m.is_bundle)
    record = village.create("application", {
        "matter": matter.code, "applicant.name": "王桂英",
        "materials.received": [m.code for m in matter.materials]})
    exchange(village, bus)
    village.change_status(record.id, "completed")
    village.update(record.id, {"channel": "bus"})
    bus.change_status(record.id, "returned", reason="申请人已迁出本村")
    bus.update(record.id, {"channel": "home_visit"})
    exchange(village, bus)
    village.close()
    common = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["conflicts", "--lang", "zh", *common]) == 0
    zh = capsys.readouterr().out
    assert "--pick 1: 退回（申请人已迁出本村）  agent-BUS01 @ BUS01-" in zh
    assert "--pick 2: 办结  agent-V001 @ V001-" in zh
    assert "上门" in zh and "直通车" in zh and "{" not in zh
    assert run(cli, ["conflicts", "--lang", "en", *common]) == 0
    en = capsys.readouterr().out
    assert "--pick 2: completed  agent-V001" in en and "service bus" in en
    assert "2026-11-23 " in en and "(shown for now)" in en
    assert run(cli, ["show", record.id, "--lang", "zh", *common]) == 0
    shown = capsys.readouterr().out
    assert "退回（申请人已迁出本村） (agent-BUS01" in shown and "{" not in shown


def test_a_reinstalled_laptop_never_reuses_its_own_receipt_numbers(tmp_path):
    old = make(tmp_path, "V001", FakeNow())
    made = [old.create("resident", {"resident.name": f"居民{i}"}) for i in range(3)]
    reinstalled, _ = Station.init(tmp_path / "new", station_id="V001", name="V001",
                                  agent="agent-V001", passphrase=PASSPHRASE, kdf=FAST_KDF,
                                  now=FakeNow())
    exchange(old, reinstalled)  # its records come back from the centre
    fresh = reinstalled.create("resident", {"resident.name": "新居民"})
    assert fresh.receipt == "V001-20261123-0004"
    assert reinstalled.get(made[0].receipt).name == "居民0"
    old.close()
    reinstalled.close()


def test_a_receipt_number_used_twice_is_reported_not_guessed(tmp_path):
    first = make(tmp_path, "V001", FakeNow())
    twin, _ = Station.init(tmp_path / "twin", station_id="V001", name="V001", agent="甲",
                           passphrase=PASSPHRASE, kdf=FAST_KDF, now=FakeNow())
    a = first.create("resident", {"resident.name": "甲"})
    b = twin.create("resident", {"resident.name": "乙"})
    assert a.receipt == b.receipt
    exchange(first, twin)
    with pytest.raises(Exception) as exc:
        twin.get(a.receipt)
    assert a.id in exc.value.message("en") and b.id in exc.value.message("en")
    assert twin.get(a.id).name == "甲"


def test_a_pick_by_number_is_refused_when_a_sync_changed_the_list_since_it_was_shown(
        tmp_path, capsys, passphrase_file):
    village, bus, third = (make(tmp_path, name, FakeNow()) for name in ("V001", "BUS01", "V002"))
    record = village.create("resident", {"resident.name": "周秀英"})
    exchange(village, bus, third)
    village.update(record.id, {"resident.village_group": "一组"})
    bus.update(record.id, {"resident.village_group": "二组"})
    third.update(record.id, {"resident.village_group": "三组"})
    exchange(village, bus)
    common = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    village.close()
    assert run(cli, ["conflicts", "--json", *common]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert [h["value"] for h in listed["heads"]] == ["二组", "一组"]
    # a sync between listing and settling brings a third value, listed first now
    village = Station.open(tmp_path / "V001", PASSPHRASE, now=FakeNow())
    exchange(village, third)
    assert village.conflicts()[0].heads[0].value == "三组"
    village.close()
    assert run(cli, ["conflicts", "settle", listed["id"], "--pick", "1", "--lang", "en",
                     *common]) == 1
    assert "changed after you looked at it" in capsys.readouterr().err
    # nothing was settled, and a mark refers to the value itself, never to a place in a list
    assert run(cli, ["conflicts", *common]) == 0
    out = capsys.readouterr().out
    assert "三组" in out and f"[--pick {listed['heads'][1]['tag']}]" in out
    assert run(cli, ["conflicts", "settle", listed["id"], "--pick",
                     listed["heads"][1]["tag"], "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["fields"]["resident.village_group"] == "一组"
    bus.close()
    third.close()


def test_a_mark_made_only_of_digits_is_picked_as_a_mark(pair, tmp_path, capsys, monkeypatch,
                                                       passphrase_file):
    """One mark in about forty is eight digits (hex that happens to have no letter): it
    must still name its value, not be read as a list number far past the end."""
    from station.domain import merge

    monkeypatch.setattr(merge.Head, "tag", property(
        lambda head: str(int(hashlib.sha256(head.op_id.encode()).hexdigest(), 16))[:8]))
    village, bus = pair
    conflicting(village, bus, "resident.village_group", "一组", "二组", name="周秀英")
    common = ["--home", str(village.home), "--passphrase-file", str(passphrase_file)]
    (conflict,) = village.conflicts()
    village.close()
    wanted = next(h for h in conflict.heads if h.value == "一组")
    assert wanted.tag.isdigit()
    assert run(cli, ["conflicts", "settle", conflict.id, "--pick", wanted.tag, "--json",
                     *common]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["fields"]["resident.village_group"] == "一组"


def test_a_pick_by_number_needs_the_values_listed_first(pair, tmp_path, capsys, passphrase_file):
    village, bus = pair
    record = conflicting(village, bus, "resident.village_group", "一组", "二组",
                         name="周秀英")
    (conflict,) = village.conflicts()
    village.close()
    common = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["conflicts", "settle", conflict.id, "--pick", "2", "--lang", "zh",
                     *common]) == 1
    assert "请先运行 station conflicts" in capsys.readouterr().err
    assert run(cli, ["conflicts", *common]) == 0
    capsys.readouterr()
    assert run(cli, ["conflicts", "settle", f"{record.id}:{conflict.field}", "--pick", "2",
                     "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["fields"]["resident.village_group"] == "一组"


def racing_decisions(state: merge.State, wall_ms: int) -> list[Changeset]:
    """Two centre staff decide one case at the same moment (two centre processes): each names
    what it saw, and neither saw the other's decision."""
    def prev(name):
        return tuple(h.op_id for h in merge.register_heads(state, name))

    out = []
    decisions = (("completed", "准予办理", "镇中心 王科长"),
                 ("returned", "户口簿信息不符", "镇中心 李干事"))
    for n, (outcome, reason, staff) in enumerate(decisions):
        ops = (Op("set", "outcome", outcome, prev=prev("outcome")),
               Op("set", "outcome_reason", reason, prev=prev("outcome_reason")),
               Op("status", "status", {"to": outcome, "round": 0, "reason": reason}))
        out.append(Changeset(f"0190a000-0000-7000-8000-00000000000{n}", state["id"],
                             "application", state["scope"], CENTRE, staff,
                             HLC(wall_ms + n, 0, "centre"), ops))
    return out


def test_disagreeing_centre_decisions_are_said_in_words_and_left_to_the_centre(
        tmp_path, capsys, passphrase_file):
    village = make(tmp_path, "V001", FakeNow())
    record = village.create("application", {
        "matter": "HJ-001", "applicant.name": "王桂英", "materials.received": ["M01", "M02"],
        "materials.due": {"M03": "2026-12-04", "M04": "2026-12-04"}})
    wall = int(village.now().timestamp() * 1000)
    village.ledger.receive(racing_decisions(village.ledger.state(record.id), wall),
                           today=village.today())
    found = {c.field: c for c in village.conflicts()}
    assert set(found) == {"outcome", "outcome_reason", "status"}
    assert all(c.centre_settles for c in found.values())
    with pytest.raises(CentreSettles) as exc:
        village.settle(found["outcome"].id, pick=1)
    assert "办理结果" in exc.value.message("zh") and "镇便民服务中心" in exc.value.message("zh")
    assert "“Outcome”" in exc.value.message("en") and "town centre" in exc.value.message("en")
    with pytest.raises(CentreSettles):  # the station may not complete or return HJ-001
        village.settle(found["status"].id, value="办结")
    village.close()
    common = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["conflicts", "--lang", "zh", *common]) == 0
    out = capsys.readouterr().out
    assert "--pick" not in out and "只能由镇中心重新决定" in out and "“结果说明”" in out
    assert "办结" in out and "退回" in out and "镇中心 李干事" in out
    assert run(cli, ["conflicts", "settle", found["outcome"].id, "--value", "completed",
                     "--lang", "en", *common]) == 1
    err = capsys.readouterr().err
    assert "only the town centre settles it" in err and "Traceback" not in err


def test_an_edit_made_elsewhere_before_the_void_still_merges(pair):
    village, bus = pair
    record = village.create("application", {
        "matter": "HJ-001", "applicant.name": "王桂英", "applicant.id_number": "11010519491231002X",
        "channel": "station", "materials.received": ["M01", "M02", "M03", "M04"]})
    exchange(village, bus)
    bus.update(record.id, {"applicant.phone": "13800001111"})
    village.void(record.id, "重复登记")
    exchange(village, bus)
    assert village.get(record.id).fields["applicant.phone"] == "13800001111"
    assert village.get(record.id).status["to"] == "voided"
    assert states(village, bus)[0] == states(village, bus)[1]
