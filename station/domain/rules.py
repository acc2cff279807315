"""What may be written: field values, op kinds per field, and who may write what.

The same checks run where a change is made (``strict``: dates must also be plausible) and
where one is received (the centre, or a station pulling), so a hostile or corrupted changeset
is refused with a reason instead of reaching the merge.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from station.domain.catalogue import MATERIAL_CODE
from station.domain.changeset import CENTRE, Changeset, Op
from station.domain.chinatime import china_now
from station.domain.errors import AuthorityRefused, ChangesetError, ValidationError
from station.domain.records import CONTACT_VIAS, RATINGS, Field, field_for, field_label_pair
from station.domain.status import LATTICES, VOID
from station.domain.validate import (
    Problem,
    check_choice,
    check_date,
    check_datetime,
    check_id_number,
    check_mobile,
    check_scalar,
    check_text,
    invalid,
)

_MATTER = re.compile(r"^[A-Z]{2,4}-\d{3}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_JSON = 2000


def is_record_id(text: str) -> bool:
    """Whether ``text`` is a record id (a UUID), rather than a receipt number typed for one."""
    return bool(_UUID.match(text))


def _entry_text(entry: dict[str, Any], key: str, label: tuple[str, str], name: str,
                max_len: int = 500) -> str:
    return check_text(entry.get(key, ""), label=label, field_name=name, max_len=max_len,
                      multiline=True)


def _json_value(f: Field, value: Any, name: str) -> Any:
    """Structured values: ratings, follow-ups and contact log entries."""
    if not isinstance(value, dict) or len(str(value)) > _MAX_JSON:
        raise ChangesetError(detail=f"{name} must be a small object")
    if f.name == "rating":
        grade = check_choice(value.get("grade"), RATINGS, label=("评价", "Rating"),
                             field_name=name)
        comment = _entry_text(value, "comment", ("评价意见", "Comment"), name)
        return {"grade": grade, "comment": comment, "on": str(value.get("on", ""))[:10]}
    if f.name == "followup":
        state = check_choice(value.get("state"), ("open", "closed"),
                             label=("整改状态", "Follow-up state"), field_name=name)
        note = _entry_text(value, "note", ("整改说明", "Follow-up note"), name)
        if state == "closed" and not note:
            raise invalid(name, "required", label_zh="整改说明", label_en="A follow-up note")
        return {"state": state, "note": note}
    if f.name == "contacts":
        via = check_choice(value.get("via"), CONTACT_VIAS, label=("联系方式", "Contact via"),
                           field_name=name)
        note = _entry_text(value, "note", ("联系内容", "Contact note"), name)
        outcome = _entry_text(value, "outcome", ("联系结果", "Contact outcome"), name, 200)
        on = str(value.get("on", ""))[:10]
        return {"via": via, "note": note, "outcome": outcome, "on": on}
    raise ChangesetError(detail=f"{name} does not take structured values")


def clean_value(kind: str, name: str, value: Any, *, today: dt.date, strict: bool = True) -> Any:
    """The normalised value for field ``name`` of ``kind``, or ``ValidationError``.

    ``strict`` also refuses implausible dates; received changesets are checked for shape only,
    so a station whose clock is wrong cannot make the centre refuse a colleague's work.
    """
    f = field_for(kind, name)
    if f is None:
        raise ChangesetError(detail=f"{kind} has no field {name!r}")
    if value is None or (value == "" and f.type not in ("bool",)):
        return None
    label = field_label_pair(kind, name)  # a map field's key named: which material's date
    if f.type != "json":
        check_scalar(value, label=label, field_name=name)
    match f.type:
        case "text" | "longtext":
            return check_text(value, label=label, field_name=name, max_len=f.max_len,
                              multiline=f.type == "longtext") or None
        case "id_number":
            # Received: a birth date "after today" says only that the receiver's clock is
            # behind (a newborn registered by a colleague, on a laptop set back years).
            return check_id_number(value, today=today if strict else dt.date.max,
                                   field_name=name)
        case "phone":
            return check_mobile(value, field_name=name)
        case "date":
            if strict:
                return check_date(value, today=today, label=label,
                                  field_name=name).isoformat()
            return check_date(value, today=today, label=label, field_name=name,
                              past_years=200, future_years=100).isoformat()
        case "datetime":
            return check_datetime(value, today=today, label=label, field_name=name,
                                  plausible=strict).isoformat(timespec="minutes")
        case "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y", "是", "已签"):
                return True
            if text in ("0", "false", "no", "n", "否", "未签", ""):
                return False
            raise invalid(name, "choice", label_zh=f.zh, label_en=f.en, choices="yes, no")
        case "choice":
            return check_choice(value, f.choices, label=label, field_name=name)
        case "matter":
            text = str(value).strip().upper()
            if not _MATTER.match(text):
                raise invalid(name, "matter_code", label_zh=f.zh, label_en=f.en)
            return text
        case "record_ref":
            text = str(value).strip()
            if not _UUID.match(text):
                raise invalid(name, "record_ref", label_zh=f.zh, label_en=f.en)
            return text
        case "json":
            return _json_value(f, value, name)
    raise ChangesetError(detail=f"no rule for {name}")  # pragma: no cover - schema is closed


def clean_element(kind: str, name: str, element: Any) -> Any:
    """An element of a set field (a material code, a service, a category, a linked record)."""
    f = field_for(kind, name)
    assert f is not None and f.merge == "orset"
    if name == "materials.received":
        text = str(element).strip().upper()
        if not MATERIAL_CODE.match(text):
            raise invalid(name, "material_code", label_zh=f.zh, label_en=f.en)
        return text
    if f.type == "choice":
        return check_choice(element, f.choices, label=(f.zh, f.en), field_name=name)
    return clean_value(kind, name, element, today=china_now().date())


def check_status_value(kind: str, value: Any) -> dict[str, Any]:
    lattice = LATTICES[kind]
    if not isinstance(value, dict) or value.get("to") not in lattice.states:
        raise ChangesetError(detail="bad status value")
    rnd = value.get("round", 0)
    if not isinstance(rnd, int) or not 0 <= rnd < 1000:
        raise ChangesetError(detail="bad status round")
    out: dict[str, Any] = {"to": value["to"], "round": rnd}
    reason = check_text(value.get("reason", ""), label=("原因", "Reason"), field_name="status",
                        max_len=500, multiline=True)
    if value["to"] == VOID and not reason:
        raise ChangesetError(detail="voiding needs a reason")
    if reason:
        out["reason"] = reason
    return out


def check_changeset(cs: Changeset, *, today: dt.date, strict: bool = False) -> None:
    """Refuse a changeset with an op that does not fit its field, a bad value, or a station
    writing a centre-authority field. Raises ``ChangesetError``/``ValidationError``."""
    problems: list[Problem] = []
    for op in cs.ops:
        f = field_for(cs.kind, op.field)
        if f is None:
            raise ChangesetError(detail=f"{cs.kind} has no field {op.field!r}")
        if f.merge == "authority" and cs.origin != CENTRE:
            raise AuthorityRefused.on(f)
        try:
            _check_op(cs.kind, f, op, today=today, strict=strict)
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)


_OPS_FOR = {"register": ("set",), "map": ("set",), "authority": ("set",),
            "orset": ("add", "remove"), "log": ("append",), "status": ("status",)}


def _check_op(kind: str, f: Field, op: Op, *, today: dt.date, strict: bool) -> None:
    if op.op not in _OPS_FOR[f.merge]:
        raise ChangesetError(detail=f"{op.op!r} does not apply to {op.field!r}")
    if f.merge == "map" and not MATERIAL_CODE.match(op.field[len(f.name) + 1:]):
        raise ChangesetError(detail=f"bad key in {op.field!r}")
    if op.op == "set":
        if clean_value(kind, op.field, op.value, today=today, strict=strict) != op.value:
            raise ChangesetError(detail=f"{op.field} is not in normal form")
    elif op.op in ("add", "remove"):
        if clean_element(kind, op.field, op.value) != op.value:
            raise ChangesetError(detail=f"{op.field} element is not in normal form")
    elif op.op == "append":
        if f.type == "json":
            if clean_value(kind, op.field, op.value, today=today, strict=False) != op.value:
                raise ChangesetError(detail=f"{op.field} entry is not in normal form")
        else:
            check_text(op.value, label=(f.zh, f.en), field_name=op.field, max_len=f.max_len,
                       multiline=True, required=True)
    elif op.op == "status" and check_status_value(kind, op.value) != op.value:
        raise ChangesetError(detail="status value is not in normal form")
