"""A laptop whose clock has gone back (a flat CMOS battery puts it years back, or it is set
back by hand): the person is told, and a colleague's work still merges."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from station.cli import cli
from station.cli.common import run
from station.domain.chinatime import CHINA
from station.domain.errors import ValidationError
from station.domain.validate import id_check_char
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.wire.codec import encode_changeset
from tests.conftest import PASSPHRASE, FakeNow
from tests.store.test_service import residence_permit

FLAT_BATTERY = dt.datetime(2020, 1, 1, 8, 5, tzinfo=CHINA)


def test_the_dashboard_says_the_clock_went_back_before_the_last_change_saved(station, now):
    station.create("application", residence_permit())
    assert station.dashboard().clock_set_back is None
    now.value = FLAT_BATTERY
    zh, en = station.dashboard().clock_set_back
    assert "2020-01-01 08:05" in en and "2026-11-23 09:30" in en and "clock" in en
    assert "2020-01-01 08:05" in zh and "2026-11-23 09:30" in zh and "时钟" in zh


def test_a_clock_a_few_hours_back_or_a_new_station_is_not_called_wrong(station, now):
    """A clock put right by an hour or two (or a station with nothing saved yet) is not a
    wrong clock: a false alarm would teach people to ignore the real one."""
    now.value = FLAT_BATTERY
    assert station.dashboard().clock_set_back is None  # nothing saved: nothing to compare
    now.value = dt.datetime(2026, 11, 23, 9, 30, tzinfo=CHINA)
    station.create("application", residence_permit())
    now.value -= dt.timedelta(hours=3)
    assert station.dashboard().clock_set_back is None


def test_every_command_says_the_clock_went_back_before_it_dates_anything(
        station, home, passphrase_file, monkeypatch, capsys):
    station.create("application", residence_permit())
    station.close()
    monkeypatch.setattr("station.store.service.china_now", lambda: FLAT_BATTERY)
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["due", "--json", *auth]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["month"] == "2020-01"  # the clock's month, as it reads
    assert "clock has gone back" in out.err and "2026-11-23 09:30" in out.err


def newborn(born: dt.date) -> str:
    first17 = f"110105{born:%Y%m%d}123"
    return first17 + id_check_char(first17)


def test_a_newborn_a_colleague_registered_merges_on_a_laptop_whose_clock_went_back(station,
                                                                                   tmp_path):
    """The bus registers a baby born last week; the village laptop's clock reads 2020. The
    received change is checked for shape only (as the centre checks it): the baby's birth
    date is not "in the future" by a wrong clock, and the record merges. It was kept aside as
    unreadable by this version, with 'update station' to do."""
    record = station.create("application", residence_permit(
        **{"applicant.id_number": newborn(dt.date(2026, 11, 20))}))
    village, _ = Station.init(tmp_path / "V002", station_id="V002", name="青石村",
                              agent="张伟", passphrase=PASSPHRASE, kdf=FAST_KDF,
                              now=FakeNow(FLAT_BATTERY))
    with village:
        report = village.ledger.receive_encoded(
            [encode_changeset(cs) for cs in station.ledger.changesets_of(record.id)],
            today=village.today())
        assert report.held == 0 and village.ledger.held() == 0
        assert village.get(record.id).fields["applicant.id_number"] == newborn(
            dt.date(2026, 11, 20))
    with pytest.raises(ValidationError) as typed:  # typed here, a birth ahead is still a slip
        station.create("application", residence_permit(
            **{"applicant.id_number": newborn(dt.date(2026, 12, 31))}))
    assert typed.value.problems[0].code == "id_birth_future"
