"""A promised date counted into a year whose holidays are not published yet (the State
Council's notice comes out in November; chinesecalendar knows only the years it shipped
with) is an estimate: the agent and the resident are told so wherever the date is shown,
not only on the form the day it was typed."""

from __future__ import annotations

import datetime as dt
import json

from station.cli import cli
from station.cli.common import run
from station.domain.chinatime import CHINA
from station.tui.screens.notice import notice_text
from tests.store.test_service import residence_permit

# Late in a year far enough ahead that no calendar package knows the next one: HJ-001's
# 15 working days from here run into it.
LATE_IN_YEAR = dt.datetime(2030, 12, 20, 10, 0, tzinfo=CHINA)


def received_late_in_the_year(station, now):
    now.value = LATE_IN_YEAR
    return station.create("application", residence_permit(
        **{"materials.due": {"M03": "2030-12-27", "M04": "2030-12-27"}}))


def test_show_says_a_promise_into_an_unpublished_year_is_an_estimate(
        station, now, home, passphrase_file, capsys):
    record = received_late_in_the_year(station, now)
    assert record.fields["promised_date"].startswith("2031-01")
    known = station.create("application", residence_permit(
        **{"received_on": "2026-11-23", "materials.due": {"M03": "2026-12-04",
                                                         "M04": "2026-12-04"}}))
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    assert run(cli, ["show", record.receipt, "--json", *auth]) == 0
    assert json.loads(capsys.readouterr().out)["promised_estimate"] is True
    assert run(cli, ["show", known.receipt, "--json", *auth]) == 0
    assert json.loads(capsys.readouterr().out)["promised_estimate"] is False
    assert run(cli, ["show", record.receipt, "--lang", "zh", *auth]) == 0
    assert "节假日安排未公布，日期为估算" in capsys.readouterr().out


def test_the_notice_the_resident_takes_home_says_the_date_is_an_estimate(station, now):
    record = received_late_in_the_year(station, now)
    text = notice_text(station, record, "en")
    promised = next(line for line in text.splitlines() if "Promised completion" in line)
    assert record.fields["promised_date"] in promised and "estimate" in promised


def test_a_promise_typed_by_the_agent_is_what_was_promised_not_an_estimate(station, now):
    now.value = LATE_IN_YEAR
    record = station.create("application", residence_permit(
        promised_date="2031-01-20", **{"materials.due": {"M03": "2030-12-27",
                                                         "M04": "2030-12-27"}}))
    assert not station.promise_estimated(record)
    assert "estimate" not in notice_text(station, record, "en")
