"""Rules of casework that need the record and its matter, not just the status lattice.

- A case is received (受理) only when every *essential* material is in; with non-essential
  ones missing it is received as "awaiting materials" (容缺受理), each missing one with the
  date the resident promised to bring it.
- Only the town centre completes or returns a matter decided at the centre; the station
  completes or returns the ones it may decide itself (街社同权).
- A case is completed only when nothing is missing any more.
"""

from __future__ import annotations

from typing import Any

from station.domain.catalogue import Matter
from station.domain.errors import ValidationError
from station.domain.status import LATTICES, next_status, refuse
from station.domain.validate import Problem

OUTCOMES = ("completed", "returned")


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
    """Refuse material codes the matter does not list."""
    problems = []
    codes = {m.code for m in matter.materials}
    for code in fields.get("materials.received") or []:
        if code not in codes:
            problems.append(Problem("materials.received", "choice",
                                    {"label_zh": "材料", "label_en": "Material",
                                     "choices": ", ".join(sorted(codes))}))
    if problems:
        raise ValidationError(problems)
