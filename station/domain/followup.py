"""Following every case to the end: the monthly lists and the monthly figures (DESIGN §1).

Both work on ``Facts``: the few non-personal facts of a record (dates, status, matter,
rating), which the station keeps in plaintext columns and the centre in its merged view, so
that a village and the town compute the same figures with the same code.

**Monthly lists** (the rule towns use for open cases). On any day of month M, an open
application whose next promised date (completion, or a missing material's 容缺 date) falls
in M is *to resolve*; every other open application is *to contact* until a contact is logged
in M. Overdue cases (a promised date before today) come first in both lists.

**Monthly figures** for month M, over applications (voided ones are left out: a voided record
was entered in error):

- *received*: received (受理) in M.
- *active*: open at some point in M — received on or before its last day, and not closed
  before its first day.
- *completed*: closed as completed (办结) in M.
- *completion rate* (办结率) = completed ÷ active.
- *on-time rate* (按承诺时限办结率) = completed on or before their promised date ÷ completed.
- *to contact*: active in M, open on its last day (or when the report is made, for the
  current month), and not promised for M — the cases the monthly rule says to contact.
- *contact rate* (联系率) = those of them with a contact logged in M ÷ to contact.
- *ratings*: ratings (好差评) given in M, to applications and visits; *satisfaction rate*
  (满意率) = (good + average) ÷ ratings; *good rate* = good ÷ ratings.
- *open poor ratings*: poor ratings whose follow-up is still open (now, not per month).

A rate with nothing to divide by is ``None`` (shown as "—"), never 0% or 100%. A month that
has not begun has nothing in it yet: its figures are all 0 and "—" (but the open poor ratings,
which are today's), not today's open cases counted as active and not contacted. The figures
of the whole station always have their ``"all"`` group, so a month with nothing to count
reads as 0 and "—", the same shape as any other.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, field
from typing import Any

from station.domain.english import agrees
from station.domain.errors import StationError
from station.domain.records import choice_label
from station.domain.status import LATTICES

RATED_STATUSES = {"application": "completed", "visit": "done"}


class NotRatable(StationError):
    code = "domain.not_ratable"
    zh = "只有已办结的代办件和已完成的上门服务才能评价（当前状态：{status_zh}）"
    en = ("Only a completed application or a visit that took place can be rated "
          "(it is {status_en})")


class AlreadyRated(StationError):
    code = "domain.already_rated"
    zh = "这项服务已于 {on} 评价过（{grade_zh}），每项服务只评价一次"
    en = "This service was already rated on {on} ({grade_en}); each service is rated once"


class NoOpenFollowup(StationError):
    code = "domain.no_followup"
    zh = "这条记录没有待处理的差评整改"
    en = "This record has no open follow-up of a poor rating"


class PromiseNeedsReason(StationError):
    code = "domain.promise_reason"
    zh = "修改承诺日期需要写明原因"
    en = "Changing a promised date needs a reason"


class PromiseOfClosedCase(StationError):
    """A promise of a closed case is what its on-time figure was counted against: moved
    afterwards, it would turn a late case into an on-time one in every report since."""

    code = "domain.closed_promise"
    zh = "这件已{status_zh}，不能再修改“{label_zh}”：按时办结率按结案时的承诺日期计算"
    en = ("This case is {status_en}: its “{label_en}” can no longer change, since the "
          "on-time rate counts the promise it was closed against")


def check_promise_open(status: str, changed: Iterable[str],
                       label: Callable[[str], tuple[str, str]]) -> None:
    """Refuse changing a promised date (completion, or a 容缺 date) of an application that
    is no longer open (completed, returned, voided); reopening it makes it open again."""
    moved = [name for name in changed if touches_promise([name])]
    if moved and status not in OPEN_STATUSES:
        lattice = LATTICES["application"]
        label_zh, label_en = label(moved[0])
        raise PromiseOfClosedCase(status_zh=lattice.label(status, "zh"),
                                  status_en=lattice.label(status, "en"),
                                  label_zh=label_zh, label_en=label_en)


def check_rating(kind: str, status: str, current: dict[str, Any] | None) -> None:
    """一次一评: only a finished service, and only once."""
    if RATED_STATUSES.get(kind) != status:
        lattice = LATTICES[kind]
        raise NotRatable(status_zh=lattice.label(status, "zh"),
                         status_en=lattice.label(status, "en"))
    if current:
        grade = str(current.get("grade", ""))
        raise AlreadyRated(on=current.get("on", "?"), grade_zh=choice_label(grade, "zh"),
                           grade_en=choice_label(grade, "en"))


def touches_promise(names: Iterable[str]) -> bool:
    return any(n == "promised_date" or n.startswith("materials.due.") for n in names)


OPEN_STATUSES = frozenset({"draft", "received", "awaiting_materials", "submitted", "in_review",
                           "reopened", "scheduled"})


@dataclass(frozen=True)
class Facts:
    """What the figures need about one record: nothing that identifies a person."""

    id: str
    kind: str
    status: str
    receipt: str | None = None
    station: str | None = None  # the village (scope)
    matter: str | None = None
    channel: str | None = None
    received_on: str | None = None
    promised_date: str | None = None
    next_due: str | None = None
    closed_on: str | None = None
    contact_months: tuple[str, ...] = ()
    rating: str | None = None
    rated_on: str | None = None
    followup_open: bool = False
    conflicts: int = 0  # open conflicts on the record: its counted values are provisional

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` → November 2026; ValueError for anything else."""
        year, _, month = text.strip().partition("-")
        value = cls(int(year), int(month))
        if not (1 <= value.month <= 12 and 2000 <= value.year <= 2200):
            raise ValueError(text)
        return value

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def holds(self, iso_day: str | None) -> bool:
        return bool(iso_day) and iso_day[:7] == str(self)


def _next_due(kind: str, fields: dict[str, Any]) -> str | None:
    """The earliest promise still pending: completion, or a missing material's 容缺 date."""
    if kind == "application":
        received = set(fields.get("materials.received") or [])
        dates = [v for k, v in fields.items()
                 if k.startswith("materials.due.") and v and k.rsplit(".", 1)[1] not in received]
        if fields.get("promised_date"):
            dates.append(fields["promised_date"])
        return min(dates) if dates else None
    if kind == "visit" and fields.get("scheduled_at"):
        return str(fields["scheduled_at"])[:10]
    return None


def facts_from(kind: str, record_id: str, scope: str, status: str,
               fields: dict[str, Any]) -> Facts:
    """The facts of a merged record (the same for the station's columns and the centre)."""
    contacts = fields.get("contacts") or []
    rating = fields.get("rating") or {}
    followup = fields.get("followup") or {}
    open_ = status in OPEN_STATUSES
    return Facts(
        id=record_id, kind=kind, status=status, receipt=fields.get("receipt"), station=scope,
        matter=fields.get("matter"), channel=fields.get("channel"),
        received_on=fields.get("received_on"), promised_date=fields.get("promised_date"),
        next_due=_next_due(kind, fields) if open_ else None,
        closed_on=fields.get("closed_on"),
        contact_months=tuple(sorted({c["entry"]["on"][:7] for c in contacts
                                     if c["entry"].get("on")})),
        rating=rating.get("grade"), rated_on=rating.get("on") or None,
        followup_open=followup.get("state") == "open")


# --- monthly lists -------------------------------------------------------------------------

@dataclass
class DueLists:
    month: str
    to_resolve: list[Facts] = field(default_factory=list)
    to_contact: list[Facts] = field(default_factory=list)
    overdue: list[Facts] = field(default_factory=list)


def due_lists(records: Iterable[Facts], month: Month, today: dt.date) -> DueLists:
    """This month's open applications: to resolve, to contact, and which are overdue.

    A case received after the month's last day was no case of that month (looking back at
    November in December leaves out what came in on 1 December)."""
    out = DueLists(str(month))
    last = month.last.isoformat()
    for r in records:
        if r.kind != "application" or not r.is_open or r.status == "draft":
            continue
        if r.received_on and r.received_on > last:
            continue
        if r.next_due and r.next_due < today.isoformat():
            out.overdue.append(r)
        if month.holds(r.next_due):
            out.to_resolve.append(r)
        elif str(month) not in r.contact_months:
            out.to_contact.append(r)
    iso = today.isoformat()

    def order(r: Facts) -> tuple[bool, str, str]:
        return (not (r.next_due and r.next_due < iso), r.next_due or "9999", r.receipt or r.id)

    out.to_resolve.sort(key=order)
    out.to_contact.sort(key=order)
    out.overdue.sort(key=order)
    return out


# --- monthly figures -----------------------------------------------------------------------

def _rate(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


@dataclass
class Figures:
    """One month's figures for one group of records (a station, a matter, …)."""

    received: int = 0
    active: int = 0
    completed: int = 0
    completed_on_time: int = 0
    to_contact: int = 0
    contacted: int = 0
    ratings: int = 0
    good: int = 0
    average: int = 0
    poor: int = 0
    open_poor: int = 0
    # records counted in any figure above that have an open conflict: each is counted by the
    # value the record shows for now, which may change once a person settles the conflict
    conflicted: int = 0

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.completed, self.active)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.completed_on_time, self.completed)

    @property
    def contact_rate(self) -> float | None:
        return _rate(self.contacted, self.to_contact)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.good + self.average, self.ratings)

    @property
    def good_rate(self) -> float | None:
        return _rate(self.good, self.ratings)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "completion_rate": self.completion_rate,
                "on_time_rate": self.on_time_rate, "contact_rate": self.contact_rate,
                "satisfaction_rate": self.satisfaction_rate, "good_rate": self.good_rate}


def is_open_poor(r: Facts) -> bool:
    """A poor rating still to follow up: the report's figure and the dashboard's card. A
    voided record was entered in error, and its follow-up is nobody's work any more."""
    return r.followup_open and r.status != "voided"


def add(figures: Figures, r: Facts, month: Month, today: dt.date) -> None:
    """Count one record into one group's figures for ``month``."""
    if r.status == "voided":
        return
    if is_open_poor(r):
        figures.open_poor += 1
    if month.first > today:
        return  # a month not begun yet: nothing has happened in it
    first, last = month.first.isoformat(), month.last.isoformat()
    if r.rating and month.holds(r.rated_on):
        figures.ratings += 1
        grade = r.rating if r.rating in ("good", "average", "poor") else "poor"
        setattr(figures, grade, getattr(figures, grade) + 1)
    if r.kind != "application" or not r.received_on or r.status == "draft":
        return
    if month.holds(r.received_on):
        figures.received += 1
    if r.received_on > last or (r.closed_on and r.closed_on < first):
        return
    figures.active += 1
    if r.status == "completed" and month.holds(r.closed_on):
        figures.completed += 1
        if r.promised_date and r.closed_on and r.closed_on <= r.promised_date:
            figures.completed_on_time += 1
    end = min(last, today.isoformat())
    still_open = not r.closed_on or r.closed_on > end
    if still_open and not month.holds(r.next_due if r.is_open else r.promised_date):
        figures.to_contact += 1
        if str(month) in r.contact_months:
            figures.contacted += 1


def figures(records: Iterable[Facts], month: Month, today: dt.date,
            by: Callable[[Facts], str] | None = None) -> dict[str, Figures]:
    """The month's figures, in one group ``"all"`` (there even with nothing to count) or
    grouped by ``by`` (station, matter…)."""
    groups: dict[str, Figures] = {} if by else {"all": Figures()}
    for r in records:
        group = groups.setdefault(by(r) if by else "all", Figures())
        before = astuple(group) if r.conflicts else None  # rare: no copy for the others
        add(group, r, month, today)
        if before is not None and astuple(group) != before:
            group.conflicted += 1
    return groups


# Said wherever figures with ``conflicted`` cases are shown; ``{how}`` is where to settle them.
PROVISIONAL: tuple[str, str] = (
    "其中 {n} 件有待处理的冲突，按目前显示的值统计；冲突处理后，这些数字可能会变（{how}）",
    "{n} of the cases counted {have} open conflicts and {are} counted by the value shown "
    "for now: these figures may change once the conflicts are settled ({how})",
)


def provisional_note(groups: dict[str, Figures], how: tuple[str, str]) -> tuple[str, str] | None:
    """The sentence (zh, en) that the figures of ``groups`` hold cases with open conflicts,
    or None when no case counted has one."""
    n = sum(g.conflicted for g in groups.values())
    if not n:
        return None
    return (PROVISIONAL[0].format(n=n, how=how[0]),
            PROVISIONAL[1].format(n=n, how=how[1], have=agrees(n, "has", "have"),
                                  are=agrees(n, "is", "are")))


def grades(records: Iterable[Facts]) -> Counter[str]:
    return Counter(r.rating for r in records if r.rating)
