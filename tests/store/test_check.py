"""`station check`: what lists, reports and look-ups read without decrypting is compared with
the changesets it was derived from; damage and edits made outside the app are found, named by
receipt number, and mended with --repair — and a change itself is never rewritten."""

from __future__ import annotations

import json
import sqlite3

import pytest

from station.cli import cli
from station.cli.common import run
from station.store.check import check
from station.store.db import db_path
from station.store.errors import Tampered
from station.store.service import Station
from tests.conftest import PASSPHRASE
from tests.store.test_conflicts import exchange, make
from tests.store.test_held import from_a_newer_station, made_at

APPLICATION = {
    "matter": "HJ-001", "applicant.name": "王桂英", "applicant.id_number": "11010519491231002X",
    "applicant.phone": "13912345678", "applicant.address": "青石村三组 12 号",
    "materials.received": ["M01", "M02", "M03", "M04"],
}


@pytest.fixture
def village(tmp_path, now):
    """A station with an application, residents, and an open conflict (from the bus)."""
    st = make(tmp_path, "V001", now)
    bus = make(tmp_path, "BUS01", now)
    st.create("application", APPLICATION)
    for name in ("赵秀兰", "钱学军"):
        st.create("resident", {"resident.name": name})
    exchange(st, bus)
    resident = st.list(kind="resident", limit=1)[0].id
    st.update(resident, {"resident.phone": "13900000001"})
    bus.update(resident, {"resident.phone": "13900000002"})
    exchange(st, bus)
    bus.close()
    assert st.conflicts()
    yield st
    st.close()


def _sql(station: Station, sql: str, *args: object) -> None:
    """What someone with the file and no passphrase can do: plain SQL, outside the app."""
    with sqlite3.connect(db_path(station.home)) as conn:
        conn.execute(sql, args)
    conn.close()


def _flip(station: Station, table: str, column: str, key: str, value: str) -> None:
    """One byte of a stored ciphertext changed (a bad sector, a hand with a hex editor)."""
    with sqlite3.connect(db_path(station.home)) as conn:
        row_id, blob = conn.execute(f"SELECT id, {column} FROM {table} WHERE {key}=? "
                                    "LIMIT 1", [value]).fetchone()
        blob = bytearray(blob)
        blob[20] ^= 0xFF
        conn.execute(f"UPDATE {table} SET {column}=? WHERE id=?", [bytes(blob), row_id])
    conn.close()


def _application(station: Station) -> str:
    return station.list(kind="application")[0].id


def test_a_station_used_as_intended_checks_clean(village):
    report = check(village.ledger)
    assert report.clean and report.findings == []
    assert report.records == 3 and report.changesets == village.db.execute(
        "SELECT count(*) FROM changesets").fetchone()[0]


def test_a_status_and_a_date_altered_with_sql_are_found_and_put_back(village):
    """The plaintext columns carry no authentication of their own: lists show what SQL
    wrote until the check finds it; the repair brings back what the changes say."""
    rid = _application(village)
    receipt, promised = village.db.execute(
        "SELECT receipt, promised_date FROM records WHERE id=?", [rid]).fetchone()
    _sql(village, "UPDATE records SET status='completed', closed_on='2026-01-01', "
                  "promised_date='2099-12-31' WHERE id=?", rid)
    assert village.list(kind="application")[0].status == "completed"  # what a list shows
    report = check(village.ledger)
    assert [(f.record, f.problems) for f in report.findings] == [(receipt, ("columns",))]
    assert not report.clean
    before = village.db.execute("SELECT count(*), group_concat(id) FROM changesets").fetchone()
    report = check(village.ledger, repair=True)
    assert report.clean and report.findings[0].repaired
    assert village.list(kind="application")[0].status == "received"
    assert village.db.execute("SELECT promised_date FROM records WHERE id=?",
                              [rid]).fetchone()[0] == promised
    # a change is never rewritten: only what is derived from them
    assert village.db.execute("SELECT count(*), group_concat(id) FROM changesets"
                              ).fetchone() == before
    assert check(village.ledger).findings == []


def test_a_lost_row_damaged_state_moved_label_and_lost_lookups_are_each_mended(village):
    app = _application(village)
    resident, other = [r.id for r in village.list(kind="resident")]
    _sql(village, "DELETE FROM records WHERE id=?", app)
    _flip(village, "records", "state", "id", resident)
    _sql(village, "UPDATE records SET label = (SELECT label FROM records WHERE id=?) "
                  "WHERE id=?", resident, other)
    _sql(village, "DELETE FROM conflicts")
    report = check(village.ledger, repair=True)
    found = {f.problems for f in report.findings}
    assert found == {("missing",), ("state", "conflicts"), ("label",)}
    assert report.clean
    assert village.get(app).fields["applicant.name"] == "王桂英"
    assert [r.id for r in village.search("11010519491231002X")] == [app]  # look-up back
    assert village.conflicts()
    assert check(village.ledger).findings == []


def test_a_change_that_does_not_open_is_named_and_never_mended_here(village):
    resident = village.list(kind="resident")[0]
    _flip(village, "changesets", "body", "record", resident.id)
    report = check(village.ledger, repair=True)
    assert [(f.record, f.problems, f.repaired) for f in report.findings] == [
        (resident.receipt or resident.id, ("changesets",), False)]
    assert not report.clean


def test_a_record_whose_changes_are_all_gone_is_named_and_never_called_sound(
        village, capsys, passphrase_file):
    """Nothing deletes a changeset, so a record row standing on none has lost the changes
    it was made from (they would have gone to the centre, and its row can no longer be
    checked or rebuilt). The check said nothing of it and called the station clean."""
    app = village.get(_application(village))
    _sql(village, "DELETE FROM changesets WHERE record=?", app.id)
    report = check(village.ledger, repair=True)
    assert [(f.record, f.problems, f.repaired) for f in report.findings] == [
        (app.receipt, ("unfounded",), False)]
    assert not report.clean
    code = run(cli, ["check", "--repair", "--home", str(village.home), "--passphrase-file",
                     str(passphrase_file), "--lang", "zh"])
    err = capsys.readouterr().err
    assert code == 1 and f"{app.receipt}：有记录行但它的变更全部缺失" in err
    assert "部分变更无法解密或已缺失" in err and "Traceback" not in err
    assert village.list(kind="application")[0].id == app.id  # the row is left as it is


def test_ciphertexts_overwritten_with_text_read_as_damaged_not_as_an_internal_error(village):
    """SQL's || makes text: a body or label so overwritten is damage like any other."""
    resident = village.list(kind="resident")[0]
    _sql(village, "UPDATE changesets SET body = 'x' || substr(body, 2) WHERE record=?",
         resident.id)
    _sql(village, "UPDATE records SET label = 'x' || substr(label, 2), "
                  "state = 'x' || substr(state, 2) WHERE id=?", resident.id)
    report = check(village.ledger)
    assert [f.problems for f in report.findings] == [("changesets",)]
    with Station.open(village.home, PASSPHRASE) as again:
        assert {s.name for s in again.list(kind="resident")} >= {"⚠"}
        with pytest.raises(Tampered):
            again.get(resident.id)


def test_the_command_says_what_it_found_by_receipt_only_and_exits_1_until_mended(
        village, capsys, passphrase_file):
    rid = _application(village)
    receipt = village.get(rid).receipt
    _sql(village, "UPDATE records SET status='completed' WHERE id=?", rid)
    args = ["--home", str(village.home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["check", *args, "--lang", "zh"]) == 1
    err = capsys.readouterr().err
    assert f"{receipt}：列表和报表读取的明文列与变更不一致" in err
    assert "station check --repair" in err
    for personal in ("王桂英", "11010519491231002X", "13912345678", "赵秀兰"):
        assert personal not in err
    assert run(cli, ["check", "--repair", "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] and out["findings"][0]["record"] == receipt
    assert out["findings"][0]["repaired"]
    assert run(cli, ["check", *args]) == 0
    assert "0 with problems" in capsys.readouterr().err


def test_the_command_refuses_to_call_a_station_with_an_unopenable_change_mended(
        village, capsys, passphrase_file):
    _flip(village, "changesets", "body", "record", _application(village))
    code = run(cli, ["check", "--repair", "--home", str(village.home), "--passphrase-file",
                     str(passphrase_file)])
    err = capsys.readouterr().err
    assert code == 1 and "cannot be mended here" in err and "Traceback" not in err
    with Station.open(village.home, PASSPHRASE) as again:  # still opens, others all fine
        assert len(again.list()) == 3


def _beside(station: Station) -> list[list[tuple[object, ...]]]:
    """Every row of the tables beside the records, as they are on disk."""
    return [station.db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("changesets_held", "inbox_set_aside", "import_rows")]


def _hold_two_from_a_newer_station(village: Station, tmp_path, now) -> None:
    """Two changesets a newer station wrote, relayed by the centre, kept aside unread."""
    other = make(tmp_path, "V009", now)
    _, encoded = made_at(other, 2)
    other.close()
    village.ledger.receive_encoded([from_a_newer_station(b) for b in encoded],
                                   today=village.today())
    assert village.ledger.held() == 2


def test_a_held_change_that_no_longer_opens_is_named_and_never_dropped(village, tmp_path, now,
                                                                       capsys, passphrase_file):
    """It would wait for good, each sync saying it waits for an update that cannot help."""
    _hold_two_from_a_newer_station(village, tmp_path, now)
    with sqlite3.connect(db_path(village.home)) as conn:
        mark, blob = conn.execute("SELECT mark, body FROM changesets_held LIMIT 1").fetchone()
        conn.execute("UPDATE changesets_held SET body=? WHERE mark=?",
                     [blob[:20] + bytes([blob[20] ^ 0xFF]) + blob[21:], mark])
    conn.close()
    before = _beside(village)
    report = check(village.ledger, repair=True)
    assert [(f.record, f.problems, f.repaired) for f in report.findings] == [
        (f"held:{mark.hex()[:12]}", ("held",), False)]
    assert not report.clean and report.notes == {"held": 1}
    assert _beside(village) == before  # kept: the repair drops nothing from beside
    code = run(cli, ["check", "--repair", "--home", str(village.home), "--passphrase-file",
                     str(passphrase_file), "--lang", "zh"])
    err = capsys.readouterr().err
    assert code == 1 and "无法修复" in err and "Traceback" not in err
    assert f"held:{mark.hex()[:12]}：一项从镇中心收到" in err
    assert _beside(village) == before


def test_what_waits_beside_the_records_is_counted_for_a_technician_and_left_as_it_is(
        village, tmp_path, now, capsys, passphrase_file):
    _hold_two_from_a_newer_station(village, tmp_path, now)
    _sql(village, "INSERT INTO inbox_set_aside(batch, sealed, received, set_aside, reason) "
                  "VALUES ('0-5', x'00', '2026-11-23', '2026-11-23', 'tampered')")
    _sql(village, "INSERT INTO import_rows(mark, record) VALUES (x'01', "
                  "'0190a0a0-0000-7000-8000-000000000000')")
    _sql(village, "INSERT INTO import_rows(mark, record) VALUES (x'02', ?)",
         _application(village))  # one whose record is here: not counted
    before = _beside(village)
    args = ["--home", str(village.home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["check", "--repair", "--json", *args]) == 0  # nothing is damaged
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] and out["findings"] == []
    assert {n["code"]: n["count"] for n in out["notes"]} == {
        "held": 2, "set_aside": 1, "import_marks": 1}
    assert _beside(village) == before
    assert run(cli, ["check", *args, "--lang", "en"]) == 0
    err = capsys.readouterr().err
    assert "2 changes from the town centre wait for a newer version" in err
    assert "1 import mark names records that are not here" in err
    assert "1 damaged downlink batch is kept aside" in err
    for personal in ("王桂英", "11010519491231002X", "13912345678", "赵秀兰"):
        assert personal not in err


def test_a_repair_stopped_with_ctrl_c_says_what_stays_mended_and_finishes_when_run_again(
        village, capsys, passphrase_file, monkeypatch):
    import station.store.check as checking

    for record in village.list():
        _sql(village, "UPDATE records SET updated='2000-01-01' WHERE id=?", record.id)
    real, calls = checking._check_one, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the technician presses Ctrl+C during the second record
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(checking, "_check_one", interrupted)
    args = ["--home", str(village.home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["check", "--repair", *args, "--lang", "zh"]) == 1
    err = capsys.readouterr().err
    assert "修复已中止" in err and "已修复的记录保持修复" in err and "Traceback" not in err
    monkeypatch.setattr(checking, "_check_one", real)
    assert run(cli, ["check", "--json", *args]) == 1  # the rest still to mend: said so
    left = json.loads(capsys.readouterr().out)["findings"]
    assert 0 < len(left) < len(village.list())  # the first one stayed mended
    assert run(cli, ["check", "--repair", *args]) == 0
    capsys.readouterr()
    assert run(cli, ["check", *args]) == 0
