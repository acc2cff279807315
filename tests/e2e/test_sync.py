"""End to end: a real centre on 127.0.0.1 (SQLite and PostgreSQL), real stations in temp dirs,
and a proxy on the wire. No mocked server anywhere in this file."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import random
import re
import sqlite3
import stat
from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run
from station.domain import sample
from station.store.backup import backup, restore
from station.store.db import db_path
from station.store.errors import NoSuchRecord, NotAFile
from station.store.projection import Record
from station.store.service import Station
from station.store.syncstate import SyncState
from station.store.vault import FAST_KDF
from station.sync import bundle as bundle_module
from station.sync import transport
from station.sync.bundle import export_bundle, import_bundle, upload_bundle
from station.sync.client import enroll
from station.sync.engine import merge_kept, pull, sync_once
from station.sync.errors import Refused, UnsignedReply
from station.sync.transport import CentreClient
from station.wire.bundle import MAX_NAMED
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import Proxy, enrolled, link, new_station

APPLICATION = {
    "matter": "HJ-001", "applicant.name": "王桂英", "applicant.id_number": "11010519491231002X",
    "applicant.phone": "13912345678", "applicant.address": "青石村三组 12 号",
    "materials.received": ["M01", "M02"],
    "materials.due": {"M03": "2026-12-04", "M04": "2026-12-04"},
}


def sync(station: Station) -> None:
    with link(station) as lk:
        sync_once(station.sync, lk, station=station)


def test_offline_edits_conflict_at_both_settle_at_one_and_converge(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001", "V002"])
    record = village.create("application", APPLICATION)
    sync(village)
    sync(bus)
    assert bus.get(record.id).fields["applicant.name"] == "王桂英"
    # both offline, both edit the same field
    village.update(record.id, {"applicant.phone": "13900000001"})
    bus.update(record.id, {"applicant.phone": "13900000002"})
    for st in (village, bus, village):
        sync(st)
    for st in (village, bus):
        (conflict,) = st.conflicts()
        assert conflict.field == "applicant.phone"
        assert {h.value for h in conflict.heads} == {"13900000001", "13900000002"}
    village.settle(village.conflicts()[0].id, pick=2)
    for st in (village, bus):
        sync(st)
    assert village.conflicts() == bus.conflicts() == []
    assert village.get(record.id).fields == bus.get(record.id).fields
    assert village.ledger.state(record.id) == bus.ledger.state(record.id)


def test_a_centre_decision_reaches_the_station(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    values = {**APPLICATION, "materials.received": ["M01", "M02", "M03", "M04"]}
    values.pop("materials.due")
    record = village.create("application", values)
    sync(village)
    live_centre.staff("/v1/staff/decide", {"receipt": record.receipt, "outcome": "returned",
                                           "reason": "户籍地址与身份证不符，请核实"})
    sync(village)
    got = village.get(record.id)
    assert got.status["to"] == "returned"
    assert got.fields["outcome"] == "returned"
    assert got.fields["outcome_reason"] == "户籍地址与身份证不符，请核实"


def test_a_revoked_station_is_refused_with_a_clear_sentence(tmp_path, live_centre, capsys,
                                                           passphrase_file):
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("resident", {"resident.name": "赵秀兰"})
    live_centre.staff("/v1/staff/revoke", {"station": "V001"})
    with pytest.raises(Refused) as exc, link(village) as lk:
        sync_once(village.sync, lk, station=village)
    assert "revoked" in exc.value.message("en") and "吊销" in exc.value.message("zh")
    assert village.sync.unsent() == 1  # nothing lost: it stays in the outbox
    village.close()
    code = run(cli, ["sync", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file), "--lang", "zh"])
    err = capsys.readouterr().err
    assert code == 1 and "吊销" in err and "Traceback" not in err


def _kept_while_locked(tmp_path: Path, live_centre) -> tuple[Record, Record]:
    """A village record pushed and a bus record pulled by an unattended sync (no passphrase
    anywhere), which can only keep the pulled batches sealed in the inbox."""
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    mine = village.create("resident", {"resident.name": "钱秀英"})
    village.close()
    theirs = bus.create("resident", {"resident.name": "孙建国"}, scope="V001")
    sync(bus)
    locked = SyncState.open_locked(tmp_path / "V001")
    with CentreClient(live_centre.url, station="V001", signer=locked.transport()) as lk:
        report = sync_once(locked, lk)
    assert report.pushed == 1 and report.kept_locked >= 1 and locked.unsent() == 0
    assert "waiting for unlock" in report.summary("en")
    assert len(locked.kept_batches()) >= 1
    with CentreClient(live_centre.url, station="V001", signer=locked.transport()) as lk:
        for _ in range(2):  # nothing new: nothing more kept, nothing said to wait
            again = sync_once(locked, lk)
            assert again.kept_locked == 0 and "waiting" not in again.summary("en")
    assert locked.kept() == report.kept_locked
    locked.close()
    return mine, theirs


def test_unattended_sync_while_locked_is_applied_at_unlock(tmp_path, live_centre, capsys,
                                                           passphrase_file):
    """The unattended sync's report says "waiting for unlock": the next command that
    unlocks the station (any of them, here `station list`) merges it and says so."""
    mine, theirs = _kept_while_locked(tmp_path, live_centre)
    code = run(cli, ["list", "--json", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert {r["name"] for r in json.loads(out)} == {"钱秀英", "孙建国"}
    assert "Merged what arrived while the station was locked: pulled 1" in err
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        assert st.get(theirs.id).name == "孙建国" and st.get(mine.id).name == "钱秀英"
        assert st.sync.kept_batches() == []


def _damage(home: Path, which: int = 0) -> None:
    """Flip bits in the ``which``-th kept batch, as bit rot on the disk would."""
    with sqlite3.connect(db_path(home)) as conn:
        seq, blob = conn.execute("SELECT seq, sealed FROM inbox ORDER BY seq").fetchall()[which]
        conn.execute("UPDATE inbox SET sealed=? WHERE seq=?",
                     [blob[:-40] + bytes(b ^ 1 for b in blob[-40:]), seq])
    conn.close()


def test_a_damaged_kept_batch_never_stops_the_agent_and_comes_again(tmp_path, live_centre,
                                                                    capsys, passphrase_file):
    """A damaged kept batch is said in a sentence and the command the agent ran still runs;
    the cursor had moved past it when it was kept, so it is set aside and the cursor put
    back: the next sync brings the bus's record after all, instead of never."""
    mine, theirs = _kept_while_locked(tmp_path, live_centre)
    _damage(tmp_path / "V001")
    code = run(cli, ["show", mine.id, "--json", "--home", str(tmp_path / "V001"),
                     "--passphrase-file", str(passphrase_file), "--lang", "zh"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["fields"]["resident.name"] == "钱秀英"
    assert "1 批更新已损坏，已搁置，其内容会从镇中心重新接收" in err and "Traceback" not in err
    code = run(cli, ["sync", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file)])
    assert code == 0, capsys.readouterr().err
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        assert st.get(theirs.id).name == "孙建国"
        assert st.sync.kept_batches() == []


def test_only_the_damaged_one_of_several_kept_batches_is_pulled_again(tmp_path, live_centre):
    """Three kept batches, the middle one damaged: the first and last merge at unlock, and
    the sync that follows brings the middle one's record; nothing is missing at the end."""
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    village.close()
    theirs = [bus.create("resident", {"resident.name": name}, scope="V001")
              for name in ("孙建国", "周大山", "吴小花")]
    sync(bus)
    locked = SyncState.open_locked(tmp_path / "V001")
    with CentreClient(live_centre.url, station="V001", signer=locked.transport()) as lk:
        pull(locked, lk, limit=1)
    assert len(locked.kept_batches()) >= 3
    locked.close()
    _damage(tmp_path / "V001", 1)
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        report = merge_kept(st)
        assert (report.pulled, report.set_aside, report.unmerged) == (2, 1, 0)
        assert "1 batches kept while locked were damaged and set aside" in report.summary()
        assert sum(1 for r in theirs if _has(st, r.id)) == 2
        sync(st)
        assert [st.get(r.id).name for r in theirs] == ["孙建国", "周大山", "吴小花"]
        assert st.sync.kept_batches() == []
        assert st.db.execute("SELECT count(*) FROM inbox_set_aside").fetchone()[0] == 1


def _has(station: Station, record: str) -> bool:
    try:
        station.get(record)
    except NoSuchRecord:
        return False
    return True


def test_a_kept_batch_whose_merge_fails_otherwise_stays_kept_and_comes_again(
        tmp_path, live_centre, monkeypatch):
    """A kept batch that is sound but whose merge fails for another reason (here a fault in
    this program, once) is not thrown away: it stays kept for the next unlock, the sync
    still pushes, and the cursor is put back so that sync brings the record too."""
    mine, theirs = _kept_while_locked(tmp_path, live_centre)
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        sound = Station._receive

        def fails_once(self: Station, *args: object, **kwargs: object) -> object:
            monkeypatch.setattr(Station, "_receive", sound)
            raise RuntimeError("王桂英")  # its text may hold a value: never shown

        monkeypatch.setattr(Station, "_receive", fails_once)
        later = st.create("resident", {"resident.name": "郑春花"})
        with link(st) as lk:
            report = sync_once(st.sync, lk, station=st)
        assert report.unmerged == 1 and report.pushed == 1
        said = report.summary("en")
        assert "could not be merged yet (an internal error (RuntimeError))" in said
        assert "王桂英" not in said + report.summary("zh")
        assert st.get(theirs.id).name == "孙建国"  # pulled again by the same sync
        assert len(st.sync.kept_batches()) >= 1  # and still kept
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        again = merge_kept(st)
        assert (again.unmerged, again.set_aside) == (0, 0) and st.sync.kept_batches() == []
        assert st.get(mine.id).name == "钱秀英" and st.get(later.id).name == "郑春花"


def test_a_bundle_travels_to_town_and_the_downlink_comes_back(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    from_bus = bus.create("resident", {"resident.name": "周大山"}, scope="V001")
    sync(bus)
    made = [village.create("resident", {"resident.name": f"村民{i}"}) for i in range(5)]
    stick = tmp_path / "usb" / "V001.stb"
    stick.parent.mkdir()
    assert export_bundle(village.sync, stick) == 5
    with CentreClient(live_centre.url) as anyone:  # no keys at all
        first = upload_bundle(stick, anyone)
        again = upload_bundle(stick, anyone, reply=tmp_path / "usb" / "again.stb")
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (0, 5)
    assert first.reply is not None and first.reply.exists()
    import_bundle(village.sync, first.reply, station=village)
    import_bundle(village.sync, first.reply, station=village)  # re-import changes nothing
    assert village.get(from_bus.id).name == "周大山"
    assert village.counts()["residents"] == 6
    sync(bus)
    assert {bus.get(r.id).name for r in made} == {f"村民{i}" for i in range(5)}


def test_a_truncated_or_altered_bundle_is_refused_whole(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("resident", {"resident.name": "吴小花"})
    stick = tmp_path / "V001.stb"
    export_bundle(village.sync, stick)
    data = stick.read_bytes()
    for name, bad in (("cut.stb", data[:-40]), ("flip.stb", data[:60] + b"\x00" + data[61:])):
        (tmp_path / name).write_bytes(bad)
        with CentreClient(live_centre.url) as anyone, pytest.raises(Exception) as exc:
            upload_bundle(tmp_path / name, anyone)
        assert "nothing in it was used" in exc.value.message("en")
    with CentreClient(live_centre.url) as anyone:  # nothing of the damaged copies was kept
        intact = upload_bundle(stick, anyone)
    assert (intact.accepted, intact.duplicates) == (1, 0)


def test_a_bundle_is_never_written_over_a_device_or_a_link(tmp_path, live_centre):
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("resident", {"resident.name": "吴小花"})
    pipe, linked = tmp_path / "stick.stb", tmp_path / "link.stb"
    os.mkfifo(pipe)
    linked.symlink_to(tmp_path / "elsewhere.stb")
    for target in (pipe, linked):
        with pytest.raises(NotAFile) as exc:
            export_bundle(village.sync, target)
        assert "不是普通文件" in exc.value.message("zh")
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and linked.is_symlink()
    assert not (tmp_path / "elsewhere.stb").exists() and village.sync.unsent() == 1


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "The centre has the bundle {stick} (took 1, already had 0), but its reply could "
           "not be written to {reply}: the disk or USB stick is read-only. Upload it again "
           "with --reply"),
    ("zh", "镇中心已收到数据包 {stick}（收下 1 条，已有 0 条），但回传包无法写入 {reply}："
           "磁盘或 U 盘是只读的（写保护）。请换一个能写入的位置")])
def test_a_reply_that_cannot_be_written_says_the_upload_itself_went_through(
        tmp_path, live_centre, capsys, monkeypatch, lang, words):
    """A write-protected stick: the centre took the bundle, only its reply could not be
    saved. Saying just "cannot write the bundle" had people think nothing was sent; the
    upload again, with --reply elsewhere, stores nothing twice and brings the reply."""
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("resident", {"resident.name": "吴小花"})
    stick = tmp_path / "V001.stb"
    export_bundle(village.sync, stick)
    reply = tmp_path / "V001.reply.stb"
    real = bundle_module.write_atomic

    def write_protected(path: Path, data: bytes) -> None:
        if path == reply:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real(path, data)

    monkeypatch.setattr(bundle_module, "write_atomic", write_protected)
    argv = ["bundle", "upload", str(stick), "--url", live_centre.url, "--lang", lang]
    assert run(cli, argv) == 1
    err = capsys.readouterr().err
    assert words.format(stick=stick, reply=reply) in err and "Traceback" not in err
    elsewhere = tmp_path / "elsewhere.stb"
    assert run(cli, [*argv, "--reply", str(elsewhere), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["accepted"], out["duplicates"]) == (0, 1) and elsewhere.exists()


def test_g4_a_reply_lost_after_the_centre_committed_duplicates_nothing(tmp_path, live_centre,
                                                                      proxy: Proxy):
    village = enrolled(tmp_path, live_centre, "V001", url=proxy.url)
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    made = [village.create("resident", {"resident.name": f"居民{i}"}) for i in range(20)]
    proxy.cut = lambda request: request.startswith(b"POST /v1/push") and proxy.cuts < 2
    sync(village)  # the first two push replies are lost after the centre committed them
    assert proxy.cuts == 2
    assert village.sync.unsent() == 0
    sync(bus)
    names = sorted(bus.get(r.id).name for r in made)
    assert names == sorted(f"居民{i}" for i in range(20))
    assert bus.counts()["residents"] == 20  # each exactly once


def _http_reply(body: bytes, headers: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_a_forged_push_reply_drops_no_unsent_work(tmp_path, live_centre, proxy: Proxy,
                                                 capsys, passphrase_file):
    """A man in the middle (or a Wi-Fi login page) that answers "all accepted" to a push,
    unsigned or with a signed reply captured earlier, leaves the outbox as it was."""
    village = enrolled(tmp_path, live_centre, "V001", url=proxy.url)
    village.create("resident", {"resident.name": "冯大伯"})
    sync(village)  # a genuine, signed reply to capture
    (genuine,) = [reply for reply in re.split(rb"(?=HTTP/1\.1 )", bytes(proxy.downstream))
                  if b'"accepted"' in reply]
    assert b"x-centre-signature" in genuine.lower()
    made = [village.create("resident", {"resident.name": f"居民{i}"}) for i in range(3)]
    ids = sorted(village.ledger.changesets_of(r.id)[0].id for r in made)

    def all_accepted(request: bytes) -> bytes | None:
        if not request.startswith(b"POST /v1/push"):
            return None
        return _http_reply(json.dumps({"accepted": ids, "duplicates": [], "refused": [],
                                       "time": 1}).encode())

    for forge in (all_accepted, lambda r: genuine if r.startswith(b"POST /v1/push") else None):
        proxy.forge = forge
        with pytest.raises(UnsignedReply) as exc, link(village) as lk:
            sync_once(village.sync, lk, station=village)
        assert "signature" in exc.value.message("en") and "签名" in exc.value.message("zh")
        assert village.sync.unsent() == 3
    village.close()
    code = run(cli, ["sync", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file)])
    err = capsys.readouterr().err
    assert code == 3 and "no work was marked as sent" in err and "Traceback" not in err
    proxy.forge = lambda request: None
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        sync(st)
        assert st.sync.unsent() == 0
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    sync(bus)
    assert sorted(bus.get(r.id).name for r in made) == [f"居民{i}" for i in range(3)]


def test_g2_no_personal_data_crosses_the_wire(tmp_path, live_centre, proxy: Proxy):
    village = enrolled(tmp_path, live_centre, "V001", url=proxy.url)
    people = list(sample.residents(30, seed=5, today=dt.date(2026, 11, 23)))
    for row in people:
        village.create("resident", {k: v for k, v in row.items() if k != "kind"})
    record = village.create("application", APPLICATION)
    sync(village)
    live_centre.staff("/v1/staff/decide", {"receipt": record.receipt, "outcome": "returned",
                                           "reason": "请补充材料"})
    sync(village)
    assert village.get(record.id).fields["outcome"] == "returned"
    wire = bytes(proxy.upstream) + bytes(proxy.downstream)
    assert len(wire) > 10_000
    secrets = {APPLICATION["applicant.name"], APPLICATION["applicant.id_number"],
               APPLICATION["applicant.phone"], APPLICATION["applicant.address"]}
    for row in people:
        secrets.update(v for k, v in row.items() if k.startswith("resident.")
                       and k != "resident.village_group")
    hits = [s for s in secrets if s.encode() in wire]
    assert hits == []


def test_sync_cli_exit_3_when_the_centre_is_down_and_nothing_is_lost(tmp_path, live_centre,
                                                                    capsys, passphrase_file):
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("resident", {"resident.name": "郑大爷"})
    village.close()
    live_centre.process.terminate()
    live_centre.process.wait(timeout=10)
    code = run(cli, ["sync", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file)])
    err = capsys.readouterr().err
    # as the Chinese says it: the first thing to look at may be the centre, not the cable
    assert code == 3 and "Cannot reach the town centre" in err
    assert "or the town centre is not running" in err
    with Station.open(Path(tmp_path / "V001"), PASSPHRASE) as st:
        assert st.sync.unsent() == 1


def reinstalled_with_a_stick(tmp_path, live_centre) -> tuple[Station, Record, Path]:
    """A station whose unsent work went onto a stick before it was reinstalled (init --force)
    and enrolled again: the new install, the record on the stick, and the stick."""
    old = enrolled(tmp_path, live_centre, "V001")
    made = old.create("resident", {"resident.name": "冯桂芝"})
    stick = tmp_path / "before-reinstall.stb"
    assert export_bundle(old.sync, stick) == 1
    old.close()
    fresh, _ = Station.init(tmp_path / "V001", station_id="V001", name="V001 站",
                            agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF, force=True)
    enroll(fresh, live_centre.code("V001"))
    return fresh, made, stick

def test_work_exported_before_a_reinstall_is_accepted_after_it(tmp_path, live_centre):
    """Export the unsent work, reinstall (init --force), enroll again, upload the old bundle:
    the old laptop's key still vouches for it (it was superseded, not revoked)."""
    fresh, made, stick = reinstalled_with_a_stick(tmp_path, live_centre)
    with CentreClient(live_centre.url) as anyone:
        result = upload_bundle(stick, anyone)
    assert (result.accepted, result.refused) == (1, [])
    assert result.no_reply is not None  # the old install's way back is closed
    sync(fresh)
    assert fresh.get(made.id).name == "冯桂芝"


def test_a_station_restored_from_an_older_backup_gets_back_its_own_later_work(tmp_path,
                                                                             live_centre):
    """The laptop's disk dies and yesterday's `station backup` goes onto a new one: what it
    saved and sent since then is at the centre, and comes back down — while in ordinary
    syncs the centre never sends a station its own work again. The backup was taken with
    the station open, its newest save still in the -wal file, and the new laptop syncs with
    no new enrollment."""
    st = enrolled(tmp_path, live_centre, "V001")
    st.create("resident", {"resident.name": "备份前的记录"})
    sync(st)
    in_wal = st.create("resident", {"resident.name": "只在预写日志里的记录"})
    made = backup(st.home, tmp_path)  # the USB stick
    later = st.create("resident", {"resident.name": "备份后的记录"})
    sync(st)
    with link(st) as lk:  # ordinary: nothing of its own comes back, not even as a duplicate
        batches = pull(st.sync, lk, station=st)
    assert sum(b.new + b.duplicates for b in batches) == 0
    st.close()
    home = tmp_path / "new-laptop"
    assert restore(made, home).station == "V001"
    restored = Station.open(home, PASSPHRASE)
    assert restored.get(in_wal.id).name == "只在预写日志里的记录"
    with pytest.raises(NoSuchRecord):
        restored.get(later.id)
    sync(restored)
    assert restored.get(later.id).name == "备份后的记录"
    assert [s.id for s in restored.search("备份后的记录")] == [later.id]
    restored.create("resident", {"resident.name": "恢复后的记录"})
    sync(restored)  # its next change acknowledged: what it got back is not sent again
    with link(restored) as lk:
        batches = pull(restored.sync, lk, station=restored)
    assert sum(b.new + b.duplicates for b in batches) == 0
    restored.close()


def test_a_revoked_stations_old_bundles_are_refused(tmp_path, live_centre):
    old = enrolled(tmp_path, live_centre, "V001")
    old.create("resident", {"resident.name": "被盗电脑上的记录"})
    stick = tmp_path / "stolen.stb"
    export_bundle(old.sync, stick)
    live_centre.staff("/v1/staff/revoke", {"station": "V001"})  # the laptop was stolen
    with CentreClient(live_centre.url) as anyone:
        result = upload_bundle(stick, anyone)
    assert result.accepted == 0 and result.refused[0]["code"] == "centre.revoked"


@pytest.mark.parametrize(("years", "warning"), [
    (-3, "clock is 1095 days behind the centre's"),
    (3, "clock is 1095 days ahead of the centre's")])
def test_a_laptop_clock_years_off_still_syncs_on_its_first_try(tmp_path, live_centre, capsys,
                                                             passphrase_file, monkeypatch,
                                                             years, warning):
    """A flat CMOS battery puts a village laptop years back (or a bad NTP years ahead): its
    first signed request of a `station sync` is outside the centre's window. The refusal
    tells the station the centre's time, so it signs again in that time and the work goes;
    the warning says which way the clock is off, in a unit a person can act on."""
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    made = village.create("resident", {"resident.name": "韩大娘"})
    village.close()
    skew_ms = years * 365 * 86_400_000
    real = transport.wall_ms
    monkeypatch.setattr(transport, "wall_ms", lambda: real() + skew_ms)
    code = run(cli, ["sync", "--home", str(tmp_path / "V001"), "--passphrase-file",
                     str(passphrase_file)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "pushed 1" in err and warning in err
    monkeypatch.setattr(transport, "wall_ms", real)
    sync(bus)
    assert bus.get(made.id).name == "韩大娘"


def test_a_fingerprint_mistyped_from_paper_does_not_use_the_code_up(tmp_path, live_centre,
                                                                   capsys, passphrase_file):
    """The agent copies the code from paper and gets one character of the fingerprint wrong:
    told so, and the same code, typed right, still enrolls (no trip to town for a new one)."""
    new_station(tmp_path, "V001").close()
    code = live_centre.code("V001")
    head, fp = code.rsplit("/", 1)
    typo = f"{head}/{'B' if fp[0] != 'B' else 'C'}{fp[1:]}"
    args = ["--home", str(tmp_path / "V001"), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["enroll", typo, *args]) == 1
    err = capsys.readouterr().err
    assert "typing mistake" in err and "nothing was enrolled" in err and "Traceback" not in err
    assert run(cli, ["enroll", code, *args]) == 0, capsys.readouterr().err
    with Station.open(tmp_path / "V001", PASSPHRASE) as st:
        assert st.sync.centre().fingerprint == fp


def test_work_carried_to_town_after_a_reinstall_synced_comes_back_to_it(tmp_path,
                                                                        live_centre):
    """Export, reinstall, enroll and sync at once (the laptop is back in the office), and only
    then is the stick uploaded: the old install's work must still come down to the new one,
    although it carries this station's own name."""
    fresh, made, stick = reinstalled_with_a_stick(tmp_path, live_centre)
    fresh.create("resident", {"resident.name": "新电脑上的记录"})
    sync(fresh)
    assert fresh.sync.cursor() > 0
    with CentreClient(live_centre.url) as anyone:
        assert upload_bundle(stick, anyone).accepted == 1
    sync(fresh)
    assert fresh.get(made.id).name == "冯桂芝"


def test_the_staff_see_which_laptop_has_its_clock_far_ahead(tmp_path, live_centre, capsys):
    """DESIGN §4: the centre flags a device whose changesets are dated far ahead (a bad NTP,
    a CMOS set a year on). The flag was kept but no staff command showed it, so nobody
    could go and set that laptop's clock right."""
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    station, _ = Station.init(tmp_path / "V001", station_id="V001", name="V001 站",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF,
                              now=lambda: ahead)
    enroll(station, live_centre.code("V001"))
    station.create("resident", {"resident.name": "韩大娘"})
    sync(station)
    station.close()
    staff = ["--home", str(live_centre.home), "--url", live_centre.url]
    assert run(cli, ["centre", "stations", "--json", *staff]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert 399 * 86_400_000 < row["clock_ahead_ms"] < 401 * 86_400_000
    assert run(cli, ["centre", "stations", "--lang", "zh", *staff]) == 0
    table = capsys.readouterr().out
    assert "时钟" in table and re.search(r"快 (399|400) 天（\d{4}-\d\d-\d\d \d\d:\d\d 发现）",
                                         table)


def test_a_bundle_bigger_than_one_request_reaches_the_centre_whole(tmp_path, live_centre):
    """Weeks offline (or a village's residents list imported with notes) make a bundle
    bigger than the centre takes in one request (8 MiB): the upload carries it over in
    several, so everything on the stick arrives once, and a second upload doubles nothing."""
    village = enrolled(tmp_path, live_centre, "V001")
    rnd = random.Random(7)  # notes that do not compress, as sealed data does not

    def note() -> str:
        return "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(2000))

    many = 2000
    village.create_many((village.prepare("resident", {"resident.name": f"村民{i}",
                                                      "notes": note()})
                         for i in range(many)), count=many)
    stick = tmp_path / "V001.stb"
    assert export_bundle(village.sync, stick) == many
    assert stick.stat().st_size > 8 << 20
    with CentreClient(live_centre.url) as anyone:
        first = upload_bundle(stick, anyone)
        again = upload_bundle(stick, anyone, reply=tmp_path / "again.stb")
    assert (first.accepted, first.duplicates, first.refused) == (many, 0, [])
    assert (again.accepted, again.duplicates) == (0, many)
    assert first.reply is not None
    import_bundle(village.sync, first.reply, station=village)
    assert village.sync.unsent() == many - MAX_NAMED  # acknowledged a thousand per trip
