"""The lost laptop and its replacement, end to end: a real centre on 127.0.0.1, real stations
in temp dirs. A laptop with work on it is stolen; last week's backup goes onto a new one,
the town clerk revokes the old one and gives the new one a code."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.store.backup import backup, restore
from station.store.service import Station
from station.sync.bundle import export_bundle, upload_bundle
from station.sync.client import enroll
from station.sync.engine import sync_once
from station.sync.errors import Refused
from station.sync.transport import CentreClient
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, link


def sync(station: Station) -> None:
    with link(station) as lk:
        sync_once(station.sync, lk, station=station)


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
    centre.staff("/v1/staff/revoke", {"station": "V001"})
    assert restore(made, tmp_path / "new-laptop") == "V001"
    new = Station.open(tmp_path / "new-laptop", PASSPHRASE)
    enroll(new, centre.code("V001"))
    return old, new


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
