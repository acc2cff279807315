"""Rules of casework that need the record and its matter, not just the status lattice.

- A case is received (受理) only when every *essential* material is in; with non-essential
  ones missing it is received as "awaiting materials" (容缺受理), each missing one with the
  date the resident promised to bring it.
- Only the town centre completes or returns a matter decided at the centre; the station
  completes or returns the ones it may decide itself (街社同权).
- A case is completed only when nothing is missing any more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from station.domain.catalogue import Matter
from station.domain.chinatime import china_wall
from station.domain.errors import StationError, ValidationError
from station.domain.records import field_for
from station.domain.status import LATTICES, VOID, next_status, refuse
from station.domain.validate import Problem

OUTCOMES = ("completed", "returned")
DUE_PREFIX = "materials.due."

# What may still be written on a voided record: a note, which counts in no figure and
# keeps the trail readable ("entered again as V001-20261124-0007").
VOIDED_MAY_TAKE = frozenset({"notes"})


class RecordVoided(StationError):
    """A new local edit or contact on a record voided as entered in error. The lattice has
    no way back from voided, so the sentence says to enter the record again instead."""

    code = "domain.voided"
    zh = ("这条记录已作废，不能再修改或登记联系（只能添加备注）；作废不能撤销，"
          "如果是误作废，请重新登记一条记录")
    en = ("This record is voided: it can no longer be edited or given contacts (only a note "
          "can be added); voiding cannot be undone, so if it was voided by mistake, enter "
          "the record again")


def check_not_voided(status: str, changed: Iterable[str]) -> None:
    """Refuse a person's change to a voided record, but a note. Only new local changes are
    checked here: changesets merged from elsewhere are never refused (G3)."""
    if status == VOID and set(changed) - VOIDED_MAY_TAKE:
        raise RecordVoided()


def missing_materials(matter: Matter, received: set[str]) -> tuple[list[str], list[str]]:
    """(essential codes missing, optional codes missing), in catalogue order."""
    essential = [m.code for m in matter.materials if m.essential and m.code not in received]
    optional = [m.code for m in matter.materials if not m.essential and m.code not in received]
    return essential, optional


def _names(matter: Matter, codes: list[str], lang: str) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(matter.material(c).name_zh if lang == "zh" else matter.material(c).name_en
                    for c in codes)


def plan_move(kind: str, fields: dict[str, Any], current: dict[str, Any], to: str, *,
              reason: str = "", matter: Matter | None = None,
              writer: str = "station") -> dict[str, Any]:
    """The status value a move writes, or ``TransitionRefused`` saying why not."""
    lattice = LATTICES[kind]
    value = next_status(lattice, current, to, reason=reason)
    if kind != "application" or matter is None or to in ("voided", "reopened"):
        return value
    frm = current["to"]
    if to in OUTCOMES and matter.decided_at == "centre" and writer != "centre":
        raise refuse(lattice, frm, to, "centre_decides")
    received = set(fields.get("materials.received") or [])
    essential, optional = missing_materials(matter, received)
    if essential and to != "returned":
        raise _material_refusal(lattice, frm, to, "essential_missing", matter, essential)
    if to == "awaiting_materials" and not optional:
        raise refuse(lattice, frm, to, "no_missing")
    if optional and to in ("received", "completed"):
        raise _material_refusal(lattice, frm, to, "materials_missing", matter, optional)
    return value


DECISION_FIELDS = frozenset({"status", "outcome", "outcome_reason", "official_receipt"})


def centre_settles(kind: str, field_name: str, matter: Matter | None) -> bool:
    """Whether only the town centre can settle a conflict on this field: a field only the
    centre writes (outcome, its reason, the official receipt), or the outcome of a matter
    the centre decides, which a station may not complete or return itself. One rule, so a
    station's listing and the centre's agree on who settles each conflict."""
    spec = field_for(kind, field_name)
    if spec is not None and spec.merge == "authority":
        return True
    return (field_name == "status" and kind == "application" and matter is not None
            and matter.decided_at == "centre")


def decide_again(conflicted: set[str], current: dict[str, Any], to: str, *,
                 reason: str = "") -> dict[str, Any] | None:
    """The status a decision of the centre writes over disagreeing decisions (two staff
    decided the same case at once), or None when they do not disagree. Only the centre may
    settle them, and only by deciding again, so the outcome already shown may be given again,
    in the round it is in; the op that writes it names every disagreeing head."""
    if not conflicted & DECISION_FIELDS or current["to"] not in OUTCOMES or to not in OUTCOMES:
        return None
    value: dict[str, Any] = {"to": to, "round": int(current.get("round", 0))}
    if reason.strip():
        value["reason"] = reason.strip()
    return value


def _material_refusal(lattice: Any, frm: str, to: str, why: str, matter: Matter,
                      codes: list[str]) -> Exception:
    err = refuse(lattice, frm, to, why, missing="{missing}")
    err.params["why_zh"] = err.params["why_zh"].format(missing=_names(matter, codes, "zh"))
    err.params["why_en"] = err.params["why_en"].format(missing=_names(matter, codes, "en"))
    return err


def due_problems(matter: Matter, fields: dict[str, Any]) -> list[Problem]:
    """Each missing non-essential material needs the date the resident promised (容缺)."""
    received = set(fields.get("materials.received") or [])
    _, optional = missing_materials(matter, received)
    problems = []
    for code in optional:
        if not fields.get(f"materials.due.{code}"):
            m = matter.material(code)
            problems.append(Problem(f"materials.due.{code}", "required",
                                    {"label_zh": f"“{m.name_zh}”的容缺承诺日期",
                                     "label_en": f"The promised date for “{m.name_en}”"}))
    return problems


def check_materials(matter: Matter, fields: dict[str, Any]) -> None:
    """Refuse material codes the matter does not list, received or promised (容缺)."""
    problems = []
    codes = {m.code for m in matter.materials}
    choices = ", ".join(sorted(codes))
    for code in fields.get("materials.received") or []:
        if code not in codes:
            problems.append(Problem("materials.received", "choice",
                                    {"label_zh": "材料", "label_en": "Material",
                                     "choices": choices}))
    for name in fields:
        if name.startswith(DUE_PREFIX) and name[len(DUE_PREFIX):] not in codes:
            problems.append(Problem(name, "choice", {
                "label_zh": "容缺材料编号", "label_en": "The material of a promised date",
                "choices": choices}))
    if problems:
        raise ValidationError(problems)


def essential_problems(matter: Matter, fields: dict[str, Any]) -> list[Problem]:
    """A case already received (受理) keeps its essential materials: unticking one would
    leave a received case that intake would have refused."""
    essential, _ = missing_materials(matter, set(fields.get("materials.received") or []))
    if not essential:
        return []
    return [Problem("materials.received", "essential_missing", {
        "missing": _names(matter, essential, "zh"),
        "missing_en": _names(matter, essential, "en")})]


def material_problems(matter: Matter, status: str, fields: dict[str, Any],
                      changed: set[str]) -> list[Problem]:
    """What an edit of a case in ``status`` may not leave of its materials (``fields`` as
    they would be after it). Intake's rules hold while the case is being received: every
    missing non-essential material has its promised date, and no essential one is missing.
    Once received, the case went on (submitted, in review, completed) on its essential
    materials: unticking one would leave a case intake would have refused, so it is refused
    there too, as is a non-essential one unticked with no date."""
    problems: list[Problem] = []
    unticked = "materials.received" in changed
    if status in ("received", "awaiting_materials") or (
            unticked and status in ("submitted", "in_review")):
        problems += due_problems(matter, fields)
    if unticked and status in KEEPS_ESSENTIALS:
        problems += essential_problems(matter, fields)
    return problems


# the statuses a case's ``closed_on`` belongs to: set when it moves to one, cleared on reopen
CLOSED = frozenset({"completed", "returned", "voided"})


def closing_problems(kind: str, status: str | None, changed: dict[str, Any]) -> list[Problem]:
    """A closing day given to a case that is not closed: the figures would take it as closed
    that day (no longer in hand, no longer to contact) while every list shows it open."""
    if kind != "application" or status in CLOSED or not changed.get("closed_on"):
        return []
    spec = field_for(kind, "closed_on")
    assert spec is not None
    return [Problem("closed_on", "closed_only", {"label_zh": spec.zh, "label_en": spec.en})]


KEEPS_ESSENTIALS = frozenset({"received", "awaiting_materials", "submitted", "in_review",
                              "completed"})


# dates a person cannot have meant to lie ahead of today's
_NOT_FUTURE = {"application": ("received_on", "closed_on"), "visit": ("actual_at",)}
# A time something was done (a visit made) cannot lie ahead of now, to the minute. Ten minutes'
# grace: a visit is often written up as it ends, on a laptop whose clock runs a few minutes
# fast, and refusing "10:30" at 10:27 would only make the agent type a time that is wrong.
CLOCK_TOLERANCE = dt.timedelta(minutes=10)


def _not_before(kind: str, name: str, fields: dict[str, Any]) -> str | None:
    """The field of the same record that the date ``name`` cannot come before."""
    if kind == "application" and (name in ("promised_date", "closed_on")
                                  or name.startswith(DUE_PREFIX)):
        return "received_on"  # a promise, or a closing, before the case was received
    if kind == "visit" and name == "next_visit":
        return "actual_at" if fields.get("actual_at") else "scheduled_at"
    return None


def date_problems(kind: str, fields: dict[str, Any], changed: set[str],
                  now: dt.datetime) -> list[Problem]:
    """Dates of one record in an order that cannot be true (promised before received, next
    visit before this one, a visit made in the future). Only pairs a change touches are
    checked, so a record saved long ago under older rules can still be edited. ``now`` is
    the station's time in China (a time with its zone is read in China's)."""
    problems = []
    here = china_wall(now)

    def label(name: str) -> dict[str, str]:
        spec = field_for(kind, name)
        return {"label_zh": spec.zh, "label_en": spec.en} if spec else {
            "label_zh": name, "label_en": name}

    for name, value in fields.items():
        if not value or not isinstance(value, str):
            continue
        low = _not_before(kind, name, fields)
        if (low and fields.get(low) and (name in changed or low in changed)
                and value[:10] < str(fields[low])[:10]):
            other = label(low)
            problems.append(Problem(name, "before", {
                **label(name), "value": value, "other": fields[low],
                "other_zh": other["label_zh"], "other_en": other["label_en"].lower()}))
        if name in changed and name in _NOT_FUTURE.get(kind, ()):
            problems += _future_problems(name, value, here, label(name))
    return problems


def _future_problems(name: str, value: str, now: dt.datetime,
                     label: dict[str, str]) -> list[Problem]:
    """A date after today, or a time (``2026-11-23T14:30``) later than now and its grace:
    what was done cannot have happened yet."""
    if "T" not in value:
        if value[:10] <= now.date().isoformat():
            return []
        return [Problem(name, "after", {**label, "value": value,
                                        "other": now.date().isoformat(),
                                        "other_zh": "今天", "other_en": "today"})]
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:  # a value kept under older rules: its shape is not this check's
        return []
    if moment <= now + CLOCK_TOLERANCE:
        return []
    return [Problem(name, "not_yet", {**label, "value": moment.strftime("%Y-%m-%d %H:%M"),
                                      "now": now.strftime("%Y-%m-%d %H:%M")})]
