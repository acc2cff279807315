"""How a stored value reads to a person: shared by the record, resident and conflicts screens.

Choices become their words, booleans yes/no, a matter its name, a status its label, a rating
its grade and comment, an HLC timestamp a local date and time. Nothing here touches the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from station.domain.catalogue import Catalogue
from station.domain.chinatime import CHINA, china_time
from station.domain.records import field_for
from station.tui.text import UI, Pair, choice_label, field_label, pick, status_label

FOLLOWUP: dict[str, Pair] = {"open": ("整改中", "open"), "closed": ("已整改", "closed")}


def when(stamp: str | int, tz: dt.tzinfo | None = None) -> str:
    """An HLC string, wall milliseconds or an ISO time with its offset (when a sync ended) as
    ``YYYY-MM-DD HH:MM`` in the station's zone (China's unless told); anything else as it
    is. The CLI words times with the same function (``china_time``)."""
    return china_time(stamp, tz or CHINA)


def paren(text: str, lang: str) -> str:
    return f"（{text}）" if lang == "zh" else f" ({text})"


def rating_text(value: dict[str, Any], lang: str) -> str:
    grade = choice_label(str(value.get("grade", "")), lang)
    parts = [grade]
    if value.get("comment"):
        parts.append(str(value["comment"]))
    text = ("，" if lang == "zh" else ": ").join(parts)
    return f"{text}{paren(str(value['on']), lang)}" if value.get("on") else text


def followup_text(value: dict[str, Any], lang: str) -> str:
    state = pick(FOLLOWUP.get(str(value.get("state")), (str(value.get("state")),) * 2), lang)
    note = str(value.get("note") or "")
    return f"{state}{'：' if lang == 'zh' else ': '}{note}" if note else state


def contact_text(entry: dict[str, Any], lang: str) -> str:
    body = entry.get("entry", entry)
    text = f"{body.get('on', '')} {choice_label(str(body.get('via', '')), lang)}"
    if body.get("note"):
        text += f" {body['note']}"
    if body.get("outcome"):
        text += f" → {body['outcome']}"
    if entry.get("by"):
        text += paren(str(entry["by"]), lang)
    return text


def show(kind: str, name: str, value: Any, lang: str,
         catalogue: Catalogue | None = None) -> str:
    """One field's value in words (``name`` may be ``status``: its lattice label)."""
    if value is None or value == "" or value == []:
        return "—"
    if name == "status" and isinstance(value, dict):
        text = status_label(kind, str(value.get("to")), lang)
        return f"{text}（{value['reason']}）" if value.get("reason") else text
    if name == "rating" and isinstance(value, dict):
        return rating_text(value, lang)
    if name == "followup" and isinstance(value, dict):
        return followup_text(value, lang)
    if name == "contacts" and isinstance(value, list):
        return "\n".join(contact_text(e, lang) for e in value)
    spec = field_for(kind, name)
    if name == "matter" and catalogue is not None and value in catalogue:
        return f"{value} {catalogue.get(value).name(lang)}"
    if spec is not None and spec.type == "bool":
        return pick(UI["yes"] if value else UI["no"], lang)
    if isinstance(value, list):
        sep = "、" if lang == "zh" else ", "
        items = [e["entry"] if isinstance(e, dict) and "entry" in e else e for e in value]
        if spec is not None and spec.type == "choice":
            return sep.join(choice_label(str(v), lang) for v in items)
        return sep.join(str(v) for v in items)
    if spec is not None and spec.type == "choice":
        return choice_label(str(value), lang)
    if spec is not None and spec.type == "datetime":
        return str(value).replace("T", " ")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def label(kind: str, name: str, lang: str) -> str:
    """A field's label (``status`` included)."""
    if name == "status":
        return pick(UI["status"], lang)
    return field_label(kind, name, lang)


__all__ = ["contact_text", "followup_text", "label", "rating_text", "show", "when"]
