"""Follow-through at the station: promises, contacts, one rating, follow-ups, lists, figures."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from station.cli import cli
from station.cli.common import run
from station.domain.errors import ValidationError
from station.domain.followup import (
    AlreadyRated,
    Month,
    NoOpenFollowup,
    NotRatable,
    PromiseNeedsReason,
)
from station.store.service import Station
from tests.conftest import PASSPHRASE
from tests.store.test_service import APPLICANT, residence_permit

BEIJING = dt.timezone(dt.timedelta(hours=8))


def station_decided(station):
    matter = next(m for m in station.catalogue if m.decided_at == "station" and not m.is_bundle)
    return station.create("application", {"matter": matter.code, **APPLICANT,
                                           "materials.received": [m.code for m in
                                                                  matter.materials]})


def test_moving_a_promised_date_needs_a_reason_which_is_kept(station):
    record = station.create("application", residence_permit())
    with pytest.raises(PromiseNeedsReason) as exc:
        station.update(record.id, {"promised_date": "2026-12-30"})
    assert "reason" in exc.value.message("en") and "原因" in exc.value.message("zh")
    moved = station.update(record.id, {"promised_date": "2026-12-30",
                                       "materials.due": {"M03": "2026-12-10"}},
                           reason="申请人住院，家属延后送材料")
    assert moved.fields["promised_date"] == "2026-12-30"
    note = moved.fields["notes"][-1]["entry"]
    assert "申请人住院" in note and "承诺办结时限 2026-12-14 → 2026-12-30" in note
    assert "容缺承诺日期 M03" in note
    with pytest.raises(ValidationError):  # a promise is moved, never dropped
        station.update(record.id, {"promised_date": ""}, reason="不办了")


def test_a_contact_is_logged_and_takes_the_case_off_this_months_contact_list(station, now):
    record = station.create("application", residence_permit(**{
        "promised_date": "2027-01-20",
        "materials.due": {"M03": "2027-01-10", "M04": "2027-01-10"}}))
    assert [r.id for r in station.due().to_contact] == [record.id]
    station.add_contact(record.receipt, "phone", "已电话告知补交材料", "本人表示下周送来")
    assert station.due().to_contact == []
    got = station.get(record.id)
    assert got.fields["contacts"][0]["entry"]["via"] == "phone"
    now.advance(days=10)  # December: nothing promised for it, so to contact again
    assert [r.id for r in station.due().to_contact] == [record.id]


def test_one_rating_per_finished_service_and_a_poor_one_needs_follow_up(station):
    record = station_decided(station)
    with pytest.raises(NotRatable):
        station.rate(record.id, "good")
    station.change_status(record.id, "completed")
    assert station.get(record.id).fields["closed_on"] == "2026-11-23"
    rated = station.rate(record.id, "poor", "等了太久")
    assert rated.fields["followup"] == {"state": "open", "note": ""}
    with pytest.raises(AlreadyRated):
        station.rate(record.id, "good")
    assert station.report()["all"].open_poor == 1
    station.close_followup(record.id, "已上门道歉并说明原因")
    assert station.report()["all"].open_poor == 0
    with pytest.raises(NoOpenFollowup):
        station.close_followup(record.id, "again")


def test_reopening_clears_the_closed_date(station):
    record = station_decided(station)
    station.change_status(record.id, "completed")
    reopened = station.change_status(record.id, "reopened", reason="材料有误")
    assert reopened.fields.get("closed_on") is None


def test_the_months_figures_at_the_station(station):
    first = station_decided(station)
    station.change_status(first.id, "completed")
    station.rate(first.id, "good")
    station.create("application", residence_permit())
    figures = station.report(Month(2026, 11))["all"]
    assert (figures.received, figures.active, figures.completed) == (2, 2, 1)
    assert figures.completion_rate == 0.5 and figures.on_time_rate == 1.0
    assert figures.satisfaction_rate == 1.0
    by = station.report(Month(2026, 11), by="matter")
    assert set(by) == {first.fields["matter"], "HJ-001"}


def test_the_cli_shows_due_lists_and_the_report(station, home, passphrase_file, capsys):
    station.create("application", residence_permit())
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["due", "--json", *auth]) == 0
    due = json.loads(capsys.readouterr().out)
    assert due["month"] == "2026-11" and len(due["to_contact"]) == 1
    assert run(cli, ["report", "--month", "2026-11", "--json", *auth]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["figures"]["all"]["received"] == 1
    assert run(cli, ["report", "--month", "2026-13", *auth]) == 2
    assert run(cli, ["report", "--lang", "zh", *auth]) == 0
    assert "办结率" in capsys.readouterr().out


def test_work_is_dated_in_china_whatever_zone_the_computer_is_set_to(station, home,
                                                                      passphrase_file):
    """A laptop or server left on UTC (or any zone) must still date a contact, a receipt, a
    closing by China's calendar: at 07:30 in Beijing on the 1st, UTC is still on the last
    day of the month before, and the work would be counted in the wrong month. The command
    runs with the computer set to a zone whose date differs from China's right now."""
    record = station.create("application", residence_permit())
    station.close()
    china = dt.datetime.now(BEIJING).date()
    behind = dt.timezone(dt.timedelta(hours=-12))
    zone = "<-12>12" if dt.datetime.now(behind).date() != china else "<+14>-14"  # POSIX TZ
    done = subprocess.run(
        [sys.executable, "-m", "station", "contact", record.receipt, "--via", "phone",
         "--note", "已电话告知办理进度", "--home", str(home), "--passphrase-file",
         str(passphrase_file)], env={**os.environ, "TZ": zone}, capture_output=True,
        text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with Station.open(home, PASSPHRASE) as again:
        on = again.get(record.id).fields["contacts"][0]["entry"]["on"]
    assert on in {china.isoformat(), dt.datetime.now(BEIJING).date().isoformat()}


def test_a_baby_born_today_in_china_is_not_refused_on_a_computer_a_day_behind(
        station, home, passphrase_file):
    """The form checks dates against China's today; the check every saved change passes
    (the centre's own) must use the same day, or on a laptop left on a zone still on
    yesterday a birth registered today is refused as "born in the future"."""
    record = station.create("application", residence_permit())
    station.close()
    china = dt.datetime.now(BEIJING).date()
    base = f"110105{china:%Y%m%d}123"
    weights, checks = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], "10X98765432"
    newborn = base + checks[sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 11]
    done = subprocess.run(
        [sys.executable, "-m", "station", "edit", record.receipt, "--set",
         f"applicant.id_number={newborn}", "--home", str(home), "--passphrase-file",
         str(passphrase_file)], env={**os.environ, "TZ": "<-12>12"}, capture_output=True,
        text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with Station.open(home, PASSPHRASE) as again:
        assert again.get(record.id).fields["applicant.id_number"] == newborn


def test_a_station_with_nothing_to_count_reports_zeros_and_dashes(station, home,
                                                                  passphrase_file, tmp_path,
                                                                  capsys):
    """A new station, or a quiet month: the JSON a script reads has the same shape as any
    month (figures.all, rates null), the table a row of 0 and —, the export one row."""
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["report", "--month", "2026-11", "--json", *auth]) == 0
    every = json.loads(capsys.readouterr().out)["figures"]["all"]
    assert (every["received"], every["active"], every["completion_rate"]) == (0, 0, None)
    assert run(cli, ["report", "--month", "2026-11", *auth]) == 0
    assert "—" in capsys.readouterr().out
    out = tmp_path / "report.json"
    assert run(cli, ["export", "json", str(out), "--what", "report", "--month", "2026-11",
                     *auth]) == 0
    assert [row["group"] for row in json.loads(out.read_text(encoding="utf-8"))] == ["all"]


def test_a_voided_case_leaves_no_poor_rating_to_follow_up_on_the_dashboard(station):
    """The dashboard's card and the month's report count the same open poor ratings."""
    record = station_decided(station)
    station.change_status(record.id, "completed")
    station.rate(record.id, "poor", "等了太久")
    assert station.dashboard().open_poor == station.report()["all"].open_poor == 1
    station.void(record.id, "重复录入")
    assert station.dashboard().open_poor == station.report()["all"].open_poor == 0
