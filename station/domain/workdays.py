"""Working days on China's official calendar, for promised dates (承诺办结时限).

A matter's legal time limit is counted in *working days*, and China's working days are not
simply Monday to Friday: each year the State Council's notice (国务院办公厅关于某年部分节假日安排
的通知) turns some weekdays into holidays and some weekends into make-up working days (调休).
A promised date computed on a plain Mon–Fri calendar would be days early around Spring
Festival or National Day, and the on-time rate the station reports would be wrong.

Where a day's status comes from, first match wins:

1. **explicit override days** — the ``days`` of the override files. The package ships
   ``station/domain/data/calendar_overrides.json``; a town can add a *local* file (the store
   passes ``<home>/calendar_overrides.json``) whose days beat the package's, so next year's
   notice can be entered the day it is published, before any library or package update.
2. **years an override file declares complete** (its ``years`` list): the file holds the
   whole official arrangement of that year, so any day it does not list is an ordinary day
   (Mon–Fri work, Sat–Sun rest).
3. **the ``chinese_calendar`` library** (PyPI ``chinesecalendar``), which knows the official
   arrangements of the years it was released with (2004–2026 in 1.11).
4. **the fallback rule** for a year nobody knows: Mon–Fri minus the fixed-date statutory
   holidays of 全国年节及纪念日放假办法 (as amended in 2024, in force from 2025): New Year's
   Day (1 Jan), Labour Day (1–2 May), National Day (1–3 Oct). The lunar holidays (Spring
   Festival eve to day 3, Qingming, Dragon Boat, Mid-Autumn) and the make-up weekends cannot
   be known without the year's notice, so a day found this way is *approximate*:
   ``is_known`` says False, and a date computed across it should be shown as provisional.

The override file format, UTF-8 JSON::

    {"source": "国办发明电〔2026〕N号 …", "years": [2027],
     "days": {"2027-01-01": "holiday", "2027-02-20": "workday", ...}}

Everything here is pure: the only I/O is reading the override files ``load`` is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import chinese_calendar

from station.domain.errors import StationError, os_reason

__all__ = ["ESTIMATE", "FALLBACK_HOLIDAYS", "CalendarError", "WorkCalendar", "parse_overrides"]

# What follows a date counted over days whose holidays are not published yet, wherever it is
# shown (the form, the record, the notice the resident takes home, ``station show``).
ESTIMATE = ("（节假日安排未公布，日期为估算）", " (holidays not yet published: estimate)")

# (month, day) of the statutory holidays that fall on the same solar date every year
# (全国年节及纪念日放假办法, art. 2, as amended by State Council decree 795 of 2024).
FALLBACK_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
)

PACKAGE_FILE = "calendar_overrides.json"
_DAY_KINDS = {"holiday": False, "workday": True}
_ALLOWED_KEYS = frozenset({"source", "days", "years", "note"})
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MIN_YEAR, _MAX_YEAR = 1949, 2200


class CalendarError(StationError):
    """A holiday override file that cannot be read or does not follow the format.

    Raised with ``path`` and the problem in both languages (``detail``, ``detail_zh``),
    so the person who edited the file is told which entry to fix rather than getting wrong
    promised dates silently.
    """

    code = "domain.calendar"
    zh = "节假日调整文件 {path} 有误：{detail_zh}"
    en = "The holiday override file {path} is malformed: {detail}"


def _bad(source: str, detail_zh: str, detail_en: str) -> CalendarError:
    return CalendarError(path=source, detail_zh=detail_zh, detail=detail_en)


def parse_overrides(text: str, source: str) -> tuple[dict[date, bool], frozenset[int]]:
    """Parse the text of an override file into ``({day: is_workday}, complete years)``.

    Strict on purpose: a typo such as ``"day"`` for ``"days"`` or ``"holliday"`` would
    otherwise be ignored and every promised date of the year would quietly be wrong.
    ``source`` names the file in error messages.
    """
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(source, f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
                   f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise _bad(source, "文件内容应为一个 JSON 对象 {…}",
                   "the file must hold one JSON object {…}")
    unknown = sorted(set(data) - _ALLOWED_KEYS)
    if unknown:
        names = ", ".join(map(str, unknown))
        allowed = ", ".join(sorted(_ALLOWED_KEYS))
        raise _bad(source, f"未知的键 {names}（允许的键：{allowed}）",
                   f"unknown key(s) {names} (allowed: {allowed})")
    if "source" in data and not isinstance(data["source"], str):
        raise _bad(source, "“source” 应为文字", "“source” must be a string")

    days_in = data.get("days", {})
    if not isinstance(days_in, dict):
        raise _bad(source, "“days” 应为 {\"年-月-日\": \"holiday\" 或 \"workday\"} 形式的对象",
                   "“days” must be an object {\"YYYY-MM-DD\": \"holiday\" | \"workday\"}")
    days: dict[date, bool] = {}
    for key, kind in days_in.items():
        try:
            if not _ISO_DAY.match(key):
                raise ValueError(key)
            day = date.fromisoformat(key)
        except ValueError:
            raise _bad(source, f"“{key}” 不是 年-月-日 格式的有效日期（如 2027-01-01）",
                       f"“{key}” is not a real date written YYYY-MM-DD (e.g. 2027-01-01)"
                       ) from None
        if kind not in _DAY_KINDS:
            raise _bad(source, f"{key} 的值应为 \"holiday\"（放假）或 \"workday\"（上班），"
                       f"现为 {json.dumps(kind, ensure_ascii=False)}",
                       f"the value of {key} must be \"holiday\" or \"workday\", not "
                       f"{json.dumps(kind, ensure_ascii=False)}")
        days[day] = _DAY_KINDS[kind]

    years_in = data.get("years", [])
    if not isinstance(years_in, list):
        raise _bad(source, "“years” 应为年份列表，如 [2027]", "“years” must be a list like [2027]")
    years: set[int] = set()
    for year in years_in:
        # bool is an int in Python; true/false in the file is a mistake, not a year.
        if isinstance(year, bool) or not isinstance(year, int) or not (
            _MIN_YEAR <= year <= _MAX_YEAR
        ):
            raise _bad(source, f"“years” 中的 {json.dumps(year, ensure_ascii=False)} "
                       "不是有效年份", f"{json.dumps(year, ensure_ascii=False)} in “years” is "
                       "not a year")
        years.add(year)
    return days, frozenset(years)


class WorkCalendar:
    """Which days are working days, and arithmetic over them.

    ``overrides`` maps a day to True (working day) or False (holiday) and beats every other
    source; ``known_years`` are years whose complete arrangement is in ``overrides`` (days
    not listed there are ordinary days). Use ``load`` to build one from the package data
    and a town's local file.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        known_years: Iterable[int] = (),
    ) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        self._known_years: frozenset[int] = frozenset(known_years)
        # Counting working days walks day by day, and the same weeks are walked again for
        # every open case: remember each day's answer (a few hundred days in practice).
        self._cache: dict[date, tuple[bool, bool]] = {}

    @classmethod
    def load(cls, local_file: Path | None = None) -> WorkCalendar:
        """The package's override data plus, when given and present, a town's local file.

        A missing local file is normal (most towns never write one) and is ignored; an
        unreadable or malformed one raises ``CalendarError`` rather than being skipped,
        since skipping it would silently move promised dates. A year the local file
        declares complete replaces the package's days for that year.
        """
        package = resources.files("station.domain").joinpath("data", PACKAGE_FILE)
        overrides, years = parse_overrides(package.read_text(encoding="utf-8"),
                                           f"station/domain/data/{PACKAGE_FILE}")
        if local_file is not None:
            path = Path(local_file)
            try:
                text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM from Notepad
            except FileNotFoundError:
                text = None
            except UnicodeDecodeError:
                raise _bad(str(path), "文件应为 UTF-8 编码", "the file must be UTF-8 encoded"
                           ) from None
            except OSError as exc:
                raise _bad(str(path), *os_reason(exc, reading=True)) from None
            if text is not None:
                local_days, local_years = parse_overrides(text, str(path))
                overrides = {d: w for d, w in overrides.items() if d.year not in local_years}
                overrides.update(local_days)
                years = years | local_years
        return cls(overrides, years)

    # --- single days ------------------------------------------------------------------

    def _lookup(self, day: date) -> tuple[bool, bool]:
        """``(is_workday, is_known)`` for one day, by the precedence in the module doc."""
        hit = self._cache.get(day)
        if hit is not None:
            return hit
        if day in self._overrides:
            result = (self._overrides[day], True)
        elif day.year in self._known_years:
            result = (day.weekday() < 5, True)
        else:
            try:
                result = (bool(chinese_calendar.is_workday(day)), True)
            except NotImplementedError:
                result = (
                    day.weekday() < 5 and (day.month, day.day) not in FALLBACK_HOLIDAYS,
                    False,
                )
        self._cache[day] = result
        return result

    def is_workday(self, day: date) -> bool:
        """True when government offices work on ``day`` (make-up weekends included)."""
        return self._lookup(day)[0]

    def is_known(self, day: date) -> bool:
        """False when ``day``'s status was guessed by the fallback rule (an unknown year)."""
        return self._lookup(day)[1]

    def all_known(self, start: date, end: date) -> bool:
        """True when every day from ``start`` to ``end`` (inclusive, either order) is known.

        A promised date computed over a span that is not all known should be shown as
        approximate, and recomputed once the year's notice is entered.
        """
        low, high = min(start, end), max(start, end)
        return all(self.is_known(low + timedelta(days=i)) for i in range((high - low).days + 1))

    def estimated(self, start: date, n: int, end: date) -> bool:
        """Whether ``end`` is the date ``n`` working days after ``start`` counted over a day
        guessed by the fallback rule: the promise may move once the year's notice is out. A
        date that is not that count was set by a person, and is what was promised."""
        return self.add_working_days(start, n) == end and not self.all_known(start, end)

    # --- arithmetic -------------------------------------------------------------------

    def add_working_days(self, start: date, n: int) -> date:
        """The date ``n`` working days after ``start``, ``start`` itself not counted.

        This is how a time limit of "n working days from acceptance" is read: a case
        received on a Friday with a 1-day limit is due the next working day. ``n == 0``
        gives ``start`` if it is a working day, else the next one (a case received on a
        holiday counts from the next working day). A negative ``n`` counts backwards.
        """
        step = 1 if n >= 0 else -1
        day = start
        if n == 0:
            while not self.is_workday(day):
                day += timedelta(days=1)
            return day
        remaining = abs(n)
        while remaining:
            day += timedelta(days=step)
            if self.is_workday(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days in ``(start, end]``; negative when ``end < start``.

        The inverse of ``add_working_days`` for a working-day ``end``: how many working
        days a case took, or by how many it is overdue.
        """
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1 for i in range(1, (end - start).days + 1)
            if self.is_workday(start + timedelta(days=i))
        )
