"""Working days on China's official calendar (station.domain.workdays)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest

from station.domain.workdays import FALLBACK_HOLIDAYS, CalendarError, WorkCalendar

D = date


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.load()


def write(tmp_path: Path, data: object, name: str = "calendar_overrides.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# --- 2026, checked by hand against 国办发明电〔2025〕7号 ----------------------------------


def test_spring_festival_2026_by_hand(cal: WorkCalendar) -> None:
    # 2月15日（腊月二十八）至23日放假调休，共9天；2月14日（周六）、2月28日（周六）上班。
    for i in range(9):
        assert not cal.is_workday(D(2026, 2, 15) + timedelta(days=i))
    assert cal.is_workday(D(2026, 2, 13))  # Friday before
    assert cal.is_workday(D(2026, 2, 14))  # make-up Saturday
    assert cal.is_workday(D(2026, 2, 24))  # back to work, Tuesday
    assert cal.is_workday(D(2026, 2, 28))  # make-up Saturday
    assert not cal.is_workday(D(2026, 3, 1))  # ordinary Sunday


def test_make_up_working_sundays_2026_by_hand(cal: WorkCalendar) -> None:
    assert D(2026, 1, 4).weekday() == 6 and cal.is_workday(D(2026, 1, 4))  # after New Year
    assert D(2026, 9, 20).weekday() == 6 and cal.is_workday(D(2026, 9, 20))  # before Nat. Day
    assert cal.is_known(D(2026, 9, 20))


def test_national_day_2026(cal: WorkCalendar) -> None:
    # 2026: 10月1日至7日放假调休，9月20日（周日）、10月10日（周六）上班; Mid-Autumn is
    # separate (25–27 Sep). 8 October is a Thursday and a working day.
    for i in range(1, 8):
        assert not cal.is_workday(D(2026, 10, i))
    assert cal.is_workday(D(2026, 10, 8))
    assert cal.is_workday(D(2026, 10, 10))
    assert not cal.is_workday(D(2026, 10, 11))
    for day in (D(2026, 9, 25), D(2026, 9, 26), D(2026, 9, 27)):
        assert not cal.is_workday(day)


def test_agrees_with_the_library_on_every_day_it_knows(cal: WorkCalendar) -> None:
    day = D(2025, 1, 1)
    while day <= D(2026, 12, 31):
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        assert cal.is_known(day)
        day += timedelta(days=1)


# --- arithmetic -------------------------------------------------------------------------


def test_add_five_working_days_across_national_day(cal: WorkCalendar) -> None:
    # Wed 30 Sep + 5: Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13 October.
    assert cal.add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 13)) == 5


def test_add_five_working_days_across_spring_festival(cal: WorkCalendar) -> None:
    # Thu 12 Feb + 5: Fri 13, Sat 14 (make-up), Tue 24, Wed 25, Thu 26.
    assert cal.add_working_days(D(2026, 2, 12), 5) == D(2026, 2, 26)


def test_make_up_weekend_counts(cal: WorkCalendar) -> None:
    # Friday 9 Oct 2026 + 1 working day is Saturday 10 Oct, a make-up working day.
    assert cal.add_working_days(D(2026, 10, 9), 1) == D(2026, 10, 10)
    assert cal.working_days_between(D(2026, 10, 9), D(2026, 10, 11)) == 1


def test_zero_days_is_start_or_next_workday(cal: WorkCalendar) -> None:
    assert cal.add_working_days(D(2026, 11, 23), 0) == D(2026, 11, 23)  # a Monday
    assert cal.add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 8)  # inside the holiday


def test_negative_and_inverse(cal: WorkCalendar) -> None:
    assert cal.add_working_days(D(2026, 10, 8), -1) == D(2026, 9, 30)
    assert cal.working_days_between(D(2026, 10, 13), D(2026, 9, 30)) == -5
    start = D(2026, 1, 1)  # a holiday: n >= 1 still counts from the day after
    for n in range(1, 80, 7):
        end = cal.add_working_days(start, n)
        assert cal.working_days_between(start, end) == n
    assert cal.working_days_between(start, start) == 0


# --- override files ---------------------------------------------------------------------


def test_local_override_beats_the_library(tmp_path: Path) -> None:
    path = write(tmp_path, {"source": "test", "days": {"2026-11-23": "holiday",
                                                      "2026-11-28": "workday"}})
    cal = WorkCalendar.load(path)
    assert not cal.is_workday(D(2026, 11, 23))  # a Monday, made a holiday
    assert cal.is_workday(D(2026, 11, 28))  # a Saturday, made a working day
    assert cal.add_working_days(D(2026, 11, 20), 1) == D(2026, 11, 24)


def test_constructor_overrides_and_complete_years() -> None:
    cal = WorkCalendar({D(2040, 2, 1): False, D(2040, 2, 4): True}, known_years=[2040])
    assert not cal.is_workday(D(2040, 2, 1)) and cal.is_known(D(2040, 2, 1))
    assert cal.is_workday(D(2040, 2, 4))  # a Saturday
    # a complete year: unlisted days are ordinary, even the fixed-date holidays' dates
    assert cal.is_workday(D(2040, 10, 2)) and cal.is_known(D(2040, 10, 2))


def test_local_complete_year_replaces_package_days(tmp_path: Path) -> None:
    path = write(tmp_path, {"years": [2041], "days": {"2041-01-01": "holiday"}})
    cal = WorkCalendar.load(path)
    assert cal.is_known(D(2041, 6, 3))
    assert not cal.is_workday(D(2041, 1, 1))
    assert cal.is_workday(D(2041, 5, 2))  # the file says 2041 is complete: an ordinary day


def test_missing_local_file_is_ignored(tmp_path: Path) -> None:
    cal = WorkCalendar.load(tmp_path / "nope.json")
    assert cal.is_workday(D(2026, 11, 23))


def test_unknown_year_uses_fallback() -> None:
    cal = WorkCalendar.load()
    assert not cal.is_known(D(2035, 3, 5))
    assert cal.is_workday(D(2035, 3, 5))  # a Monday
    assert not cal.is_workday(D(2035, 3, 3))  # a Saturday
    for month, day in FALLBACK_HOLIDAYS:
        assert not cal.is_workday(D(2035, month, day))
        assert not cal.is_known(D(2035, month, day))
    assert cal.is_workday(D(2035, 10, 4))  # a Thursday just after the fixed days
    # Mon 30 Apr 2035 + 2: Thu 3 May, Fri 4 May (1–2 May are statutory holidays)
    assert cal.add_working_days(D(2035, 4, 30), 2) == D(2035, 5, 4)
    assert not cal.all_known(D(2026, 12, 20), D(2035, 1, 10))
    assert cal.all_known(D(2026, 1, 1), D(2026, 12, 31))


def test_fallback_days_within_a_known_span_are_not_known() -> None:
    # the library stops at 2026 in 1.11; pick a year it will not know for a long while
    assert not WorkCalendar().is_known(D(2060, 1, 1))
    assert WorkCalendar({D(2060, 1, 1): False}).is_known(D(2060, 1, 1))


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "one JSON object"),
        ({"day": {}}, "unknown key(s) day"),
        ({"days": ["2027-01-01"]}, "“days” must be an object"),
        ({"days": {"2027-02-30": "holiday"}}, "“2027-02-30” is not a real date"),
        ({"days": {"2027/01/01": "holiday"}}, "“2027/01/01” is not a real date"),
        ({"days": {"2027-01-01": "holliday"}}, "must be \"holiday\" or \"workday\""),
        ({"days": {"2027-01-01": True}}, "must be \"holiday\" or \"workday\""),
        ({"years": 2027}, "“years” must be a list"),
        ({"years": ["2027"]}, "\"2027\" in “years” is not a year"),
        ({"years": [True]}, "true in “years” is not a year"),
        ({"source": 3}, "“source” must be a string"),
    ],
)
def test_malformed_override_file(tmp_path: Path, content: object, needle: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(CalendarError) as info:
        WorkCalendar.load(path)
    err = info.value
    assert err.code == "domain.calendar"
    assert needle in err.message("en")
    assert str(path) in err.message("en")
    assert str(path) in err.message("zh") and "节假日调整文件" in err.message("zh")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar_overrides.json"
    path.write_bytes('{"source": "国务院"}'.encode("gbk"))
    with pytest.raises(CalendarError, match="UTF-8"):
        WorkCalendar.load(path)


def test_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "calendar_overrides.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"days": {"2026-11-23": "holiday"}}).encode())
    assert not WorkCalendar.load(path).is_workday(D(2026, 11, 23))


def test_shipped_data_is_valid_and_invents_nothing() -> None:
    from importlib import resources

    from station.domain.workdays import parse_overrides

    text = resources.files("station.domain").joinpath("data", "calendar_overrides.json")
    days, years = parse_overrides(text.read_text(encoding="utf-8"), "package")
    for year in years:
        # a year declared complete must at least have its statutory holidays as holidays
        assert all(days.get(D(year, m, d), False) is False for m, d in FALLBACK_HOLIDAYS)
