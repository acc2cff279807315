"""A laptop whose clock has gone back (a flat CMOS battery puts it years back, or it is set
back by hand): the person is told."""

from __future__ import annotations

import datetime as dt
import json

from station.cli import cli
from station.cli.common import run
from station.domain.chinatime import CHINA
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
