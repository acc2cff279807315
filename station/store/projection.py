"""From a record's merged state to what is stored and shown.

The ``records`` row keeps the merged state encrypted, plus plaintext columns for what lists,
filters and the monthly rules need and that identifies nobody: status, matter, channel, dates,
the rating grade, flags. The resident's name is kept separately encrypted (``label``) so the
in-memory search index can be built without opening every full body.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from station.domain import merge
from station.domain.followup import Facts, facts_from
from station.domain.records import PERSON_PREFIX
from station.domain.status import LATTICES, VOID


@dataclass(frozen=True)
class Record:
    """A record as a person sees it."""

    id: str
    kind: str
    scope: str
    receipt: str | None
    status: dict[str, Any]
    fields: dict[str, Any]
    conflicts: tuple[merge.Conflict, ...]
    created: str
    updated: str
    creator: str

    @cached_property
    def person(self) -> dict[str, Any]:
        prefix = PERSON_PREFIX[self.kind] + "."
        return {k[len(prefix):]: v for k, v in self.fields.items() if k.startswith(prefix)}

    @property
    def name(self) -> str:
        return str(self.person.get("name") or "")

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "scope": self.scope, "receipt": self.receipt,
            "status": self.status, "fields": self.fields, "created": self.created,
            "updated": self.updated, "creator": self.creator,
            "conflicts": [
                {"field": c.field, "heads": [
                    {"op": h.op_id, "value": h.value, "author": h.author, "device": h.device,
                     "hlc": h.hlc} for h in c.heads]}
                for c in self.conflicts
            ],
        }


def view(state: merge.State) -> Record:
    fields = merge.fields(state)
    return Record(
        id=state["id"], kind=state["kind"], scope=state["scope"],
        receipt=fields.get("receipt"), status=fields.pop("status"), fields=fields,
        conflicts=tuple(merge.conflicts(state)), created=state["first"] or "",
        updated=state["last"] or "", creator=state["creator"] or "",
    )


def is_open(record: Record) -> bool:
    """Open = not voided and not at a terminal outcome."""
    to = record.status["to"]
    return to != VOID and not LATTICES[record.kind].state(to).terminal


def facts(record: Record) -> Facts:
    return facts_from(record.kind, record.id, record.scope, record.status["to"],
                      record.fields)


def columns(record: Record, version: int) -> dict[str, Any]:
    """The plaintext columns of the ``records`` row (nothing personal)."""
    f = facts(record)
    contacts = record.get("contacts") or []
    return {
        "id": record.id, "kind": record.kind, "scope": record.scope,
        "receipt": record.receipt, "status": f.status,
        "round": int(record.status.get("round", 0)), "matter": f.matter,
        "channel": f.channel, "received_on": f.received_on,
        "promised_date": f.promised_date, "next_due": f.next_due, "closed_on": f.closed_on,
        "last_contact": max((c["entry"].get("on") or "" for c in contacts), default="") or None,
        "contact_months": ",".join(f.contact_months) or None, "rating": f.rating,
        "rated_on": f.rated_on, "followup_open": int(f.followup_open),
        "conflicts": len(record.conflicts), "created": record.created,
        "updated": record.updated, "version": version,
    }


BLIND = (("id", "id_number"), ("phone", "phone"))  # what a token is of, and its person field


def blind_values(record: Record) -> list[tuple[str, str]]:
    """(what, normalised value) pairs to index by HMAC token: ID number and phone."""
    person = record.person
    return [(what, person[name]) for what, name in BLIND if person.get(name)]


def blind_fields(kind: str) -> frozenset[str]:
    """The fields the tokens come from: a change that touches none of them keeps them."""
    return frozenset(f"{PERSON_PREFIX[kind]}.{name}" for _, name in BLIND)
