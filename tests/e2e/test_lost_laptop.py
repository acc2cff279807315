"""The lost laptop and its replacement, end to end: a real centre on 127.0.0.1, real stations
in temp dirs. A laptop with work on it is stolen; last week's backup goes onto a new one,
the town clerk revokes the old one and gives the new one a code."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run
from station.store.backup import backup, restore
from station.store.home import TRANSPORT_KEY
from station.store.service import Station
from station.sync.bundle import export_bundle, upload_bundle
from station.sync.client import enroll
from station.sync.engine import SyncReport, sync_once
from station.sync.errors import Refused
from station.sync.transport import CentreClient
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, link


def sync(station: Station) -> SyncReport:
    with link(station) as lk:
        return sync_once(station.sync, lk, station=station)


def replacement(tmp_path: Path, centre: LiveCentre, made: Path, *,
                revoke: bool = True) -> Station:
    """The new laptop: ``made`` restored onto it and enrolled with a new code, after the
    clerk revoked the lost one (unless ``revoke`` is False: the clerk forgot)."""
    if revoke:
        centre.staff("/v1/staff/revoke", {"station": "V001"})
    assert restore(made, tmp_path / "new-laptop").station == "V001"
    new = Station.open(tmp_path / "new-laptop", PASSPHRASE)
    enroll(new, centre.code("V001"))
    return new


def stolen_and_replaced(tmp_path: Path, centre: LiveCentre) -> tuple[Station, Station]:
    """The old laptop (still in the thief's hands, unlocked) and its replacement: restored
    from a backup taken before its last synced work, revoked at the centre, enrolled anew."""
    old = enrolled(tmp_path, centre, "V001")
    old.create("resident", {"resident.name": "备份前已同步"})
    sync(old)
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    old.create("resident", {"resident.name": "备份后已同步"})
    sync(old)
    return old, replacement(tmp_path, centre, made)


def test_the_stolen_laptop_stays_revoked_once_its_backup_is_enrolled_again(tmp_path,
                                                                          live_centre):
    """The backup holds the stolen laptop's keys. Enrolled as they were, they would make the
    revoked laptop the station again: the thief could push and pull as before."""
    old, new = stolen_and_replaced(tmp_path, live_centre)
    sync(new)
    thief = old.create("resident", {"resident.name": "被盗后写的"})
    with pytest.raises(Refused) as exc:
        sync(old)
    assert "revoked" in exc.value.message("en") and "吊销" in exc.value.message("zh")
    stick = tmp_path / "thief.stb"
    export_bundle(old.sync, stick)
    with CentreClient(live_centre.url) as anyone:
        assert upload_bundle(stick, anyone).accepted == 0
    sync(new)
    assert thief.id not in {s.id for s in new.search("被盗后写的")}
    old.close()
    new.close()


def test_a_replacement_never_gives_out_a_receipt_number_the_stolen_laptop_gave_out(
        tmp_path, live_centre):
    """Stolen at noon after a morning's work was synced; last week's backup goes onto the
    new laptop that afternoon and the agent receives residents before the town's code comes.
    The backup's counter for today is behind: the new laptop handed out the morning's
    numbers again, and two residents held the same 受理编号."""
    old = enrolled(tmp_path, live_centre, "V001")
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    morning = [old.create("resident", {"resident.name": f"上午{i}"}) for i in range(2)]
    sync(old)
    live_centre.staff("/v1/staff/revoke", {"station": "V001"})
    old.close()
    restore(made, tmp_path / "new-laptop")
    new = Station.open(tmp_path / "new-laptop", PASSPHRASE)
    before_enrolling = new.create("resident", {"resident.name": "下午"})
    enroll(new, live_centre.code("V001"))
    sync(new)
    after_syncing = new.create("resident", {"resident.name": "傍晚"})
    receipts = [new.get(r.id).receipt for r in (*morning, before_enrolling, after_syncing)]
    assert len(set(receipts)) == 4, receipts
    new.close()


def test_a_backup_copied_without_its_key_file_says_how_to_sync_again(tmp_path, live_centre,
                                                                     capsys, passphrase_file):
    """The agent copied only station.db off the stick: the restore works, and the first sync
    said 'Internal error: FileNotFoundError'. It says which file is missing and the two ways
    back, and a new code then enrolls and syncs with no record lost."""
    old = enrolled(tmp_path, live_centre, "V001")
    kept = old.create("resident", {"resident.name": "备份里的记录"})
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    old.close()
    (made / TRANSPORT_KEY).unlink()  # half copied
    home = tmp_path / "new-laptop"
    restore(made, home)
    args = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    for lang, words in (("en", "transport.key"), ("zh", "登记码")):
        assert run(cli, ["sync", *args, "--lang", lang]) == 1
        err = capsys.readouterr().err
        assert words in err and "station enroll" in err and "Internal error" not in err, err
    live_centre.staff("/v1/staff/revoke", {"station": "V001"})
    assert run(cli, ["enroll", live_centre.code("V001"), *args]) == 0
    assert run(cli, ["sync", *args]) == 0, capsys.readouterr().err
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    sync(bus)
    assert bus.get(kept.id).name == "备份里的记录"
    bus.close()


def test_the_replacement_keeps_every_record_once_and_the_others_get_them(tmp_path,
                                                                         live_centre):
    """The backup holds one change not yet sent, which the old laptop sent after the backup
    with a record made later: the replacement sends it again and the centre counts it once,
    the replacement gets the later record back, and the bus sees every record."""
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    old = enrolled(tmp_path, live_centre, "V001")
    synced = old.create("resident", {"resident.name": "备份前已同步"})
    sync(old)
    in_backup = old.create("resident", {"resident.name": "备份时未发送"})
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    later = old.create("resident", {"resident.name": "备份后已同步"})
    assert sync(old).pushed == 2
    old.close()
    new = replacement(tmp_path, live_centre, made)
    report = sync(new)
    assert (report.pushed, report.duplicates, report.refused) == (0, 1, [])
    assert new.sync.unsent() == 0
    assert new.get(later.id).name == "备份后已同步"
    sync(bus)
    assert {bus.get(r.id).name for r in (synced, in_backup, later)} == {
        "备份前已同步", "备份时未发送", "备份后已同步"}
    new.close()
    bus.close()


def test_work_only_in_the_backup_reaches_the_centre_from_the_replacement(tmp_path,
                                                                          live_centre):
    """Stolen before it synced again: what the backup holds unsent is sent by the new
    laptop, signed with its new keys, although the old laptop's keys are revoked."""
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    old = enrolled(tmp_path, live_centre, "V001")
    unsent = old.create("resident", {"resident.name": "只在备份里"})
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    old.close()
    new = replacement(tmp_path, live_centre, made)
    report = sync(new)
    assert (report.pushed, report.refused) == (1, [])
    sync(bus)
    assert bus.get(unsent.id).name == "只在备份里"
    new.close()
    bus.close()


def test_a_laptop_replaced_without_being_revoked_is_told_so_not_that_staff_revoked_it(
        tmp_path, live_centre):
    """The clerk forgot `station centre revoke`: the replacement's enrollment retires the
    old laptop's keys all the same. Its agent read 'revoked by the town centre' and went to
    ask who had revoked them; once the staff do revoke it, that is what it reads."""
    old = enrolled(tmp_path, live_centre, "V001")
    (tmp_path / "usb").mkdir()
    made = backup(old.home, tmp_path / "usb")
    new = replacement(tmp_path, live_centre, made, revoke=False)
    with pytest.raises(Refused) as exc:
        sync(old)
    assert exc.value.params["status"] == 403
    assert "enrolled again on another computer" in exc.value.message("en")
    assert "在另一台电脑上" in exc.value.message("zh") and "吊销" not in exc.value.message("zh")
    live_centre.staff("/v1/staff/revoke", {"station": "V001"})
    with pytest.raises(Refused) as exc:
        sync(old)
    assert "revoked" in exc.value.message("en") and "吊销" in exc.value.message("zh")
    old.close()
    new.close()
