"""The merge rules: a record's state is a pure function of the *set* of its changesets.

Rules (DESIGN §6), each with a test named after it in tests/domain/test_merge.py:

1. **Order does not matter.** ``apply`` is commutative and idempotent, so any order of the same
   changesets, with duplicates, yields byte-identical state (``dump``): G3 convergence.
2. **Registers are multi-value.** A ``set`` op supersedes exactly the ops it names in ``prev``.
   The heads are the ops nobody names. One head: its value. Several heads with different
   values: a conflict, shown with the last-writer-wins value (highest HLC, then device id)
   until a person settles it with an op whose ``prev`` names every head.
3. **Causality beats clocks.** Because supersession follows ``prev`` and never timestamps, an
   edit made after seeing a value replaces it even if the editor's clock is years behind.
4. **Status takes the highest rank** (``station.domain.status``); two different outcomes at the
   top (completed vs returned) are a conflict, settled like a register.
5. **Sets are observed-remove**: an add wins over a concurrent remove (a remove only deletes
   the add-tags its writer saw).
6. **Logs are append-only**, merged by union and ordered by (HLC, op id).
7. **Centre-authority fields** are written only by changesets whose origin is the centre; any
   other write to them is ignored here (and refused earlier, where it is made).
8. **Merging is incremental**: applying one changeset touches only its record's state.

The state is a plain dict so the store can serialise and encrypt it as the record body.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
from dataclasses import dataclass
from typing import Any

import orjson

from station.domain.changeset import CENTRE, Changeset, Op
from station.domain.records import SCHEMAS, field_for
from station.domain.status import LATTICES

State = dict[str, Any]


def empty(kind: str, record: str, scope: str) -> State:
    """The state of a record no changeset has touched yet."""
    return {"id": record, "kind": kind, "scope": scope, "reg": {}, "set": {}, "log": {},
            "st": {"key": None, "heads": {}, "dead": []}, "first": None, "last": None,
            "creator": None}


def dump(state: State) -> bytes:
    """The one serialisation: sorted keys, compact, UTF-8. Equal states, equal bytes."""
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS)


def canonical(value: Any) -> str:
    """A value as a string key, to compare values and to key set elements."""
    return dump(value).decode("utf-8")


def load(raw: bytes) -> State:
    return orjson.loads(raw)


def _has(sorted_ids: list[str], item: str) -> bool:
    i = bisect_left(sorted_ids, item)
    return i < len(sorted_ids) and sorted_ids[i] == item


def _bury(heads: dict[str, Any], dead: list[str], prev: tuple[str, ...]) -> None:
    """Mark the ops named in ``prev`` as superseded, whenever they arrive (rule 2)."""
    for p in prev:
        heads.pop(p, None)
        if not _has(dead, p):
            insort(dead, p)


def _register_apply(slot: dict[str, Any], op_id: str, op: Op, stamp: str, author: str) -> None:
    dead = slot.setdefault("dead", [])
    heads = slot.setdefault("heads", {})
    _bury(heads, dead, op.prev)  # even for an op already superseded: what it saw stays dead
    if op_id not in heads and not _has(dead, op_id):
        heads[op_id] = [op.value, stamp, author]


def _status_apply(st: dict[str, Any], op_id: str, op: Op, stamp: str, author: str,
                  kind: str) -> None:
    lattice = LATTICES[kind]
    dead = st["dead"]
    _bury(st["heads"], dead, op.prev)
    if op_id in st["heads"] or _has(dead, op_id):
        return
    key = list(lattice.key(op.value))
    if st["key"] is None or key > st["key"]:
        st["key"] = key
        st["heads"] = {op_id: [op.value, stamp, author]}
    elif key == st["key"]:
        st["heads"][op_id] = [op.value, stamp, author]


def apply(state: State, cs: Changeset) -> None:
    """Apply one changeset to its record's state, in place. Applying it again changes nothing."""
    stamp = cs.hlc.encode()
    for i, op in enumerate(cs.ops):
        op_id = cs.op_id(i)
        spec = field_for(cs.kind, op.field)
        if spec is None:
            continue  # a field from a newer schema: kept in the changeset, ignored here
        if spec.merge == "authority" and cs.origin != CENTRE:
            continue  # rule 7
        if op.op == "set" and spec.merge in ("register", "map", "authority"):
            _register_apply(state["reg"].setdefault(op.field, {}), op_id, op, stamp, cs.author)
        elif op.op == "add" and spec.merge == "orset":
            adds = state["set"].setdefault(op.field, {"adds": {}, "rm": []})["adds"]
            tags = adds.setdefault(canonical(op.value), [])
            if not _has(tags, op_id):
                insort(tags, op_id)
        elif op.op == "remove" and spec.merge == "orset":
            rm = state["set"].setdefault(op.field, {"adds": {}, "rm": []})["rm"]
            for t in op.tags:
                if not _has(rm, t):
                    insort(rm, t)
        elif op.op == "append" and spec.merge == "log":
            state["log"].setdefault(op.field, {})[op_id] = [stamp, cs.author, op.value]
        elif op.op == "status" and spec.merge == "status":
            _status_apply(state["st"], op_id, op, stamp, cs.author, cs.kind)
    if state["first"] is None or stamp < state["first"]:
        state["first"] = stamp
        state["creator"] = cs.author
    if state["last"] is None or stamp > state["last"]:
        state["last"] = stamp


def merge(changesets: list[Changeset]) -> State:
    """The state of one record from all its changesets (any order, duplicates allowed)."""
    first = changesets[0]
    state = empty(first.kind, first.record, first.scope)
    seen: set[str] = set()
    for cs in changesets:
        if cs.id not in seen:
            seen.add(cs.id)
            apply(state, cs)
    return state


# --- reading the state -------------------------------------------------------------------

TAG_LEN = 8  # hex characters of a head's tag: short to type, and two heads never share one

@dataclass(frozen=True)
class Head:
    """One competing value of a conflicted field: who wrote it, when, from which device."""

    op_id: str
    value: Any
    hlc: str
    author: str

    @property
    def device(self) -> str:
        return self.hlc.split(".", 2)[2]

    @property
    def tag(self) -> str:
        """A short name for this value that stays the same whatever else arrives: a list
        number can come to mean another value after a sync, this cannot."""
        return hashlib.sha256(self.op_id.encode()).hexdigest()[:TAG_LEN]


@dataclass(frozen=True)
class Conflict:
    field: str
    heads: tuple[Head, ...]  # ordered: the provisional (last-writer-wins) value first


def _heads(slot: dict[str, Any]) -> list[Head]:
    heads = [Head(op_id, v[0], v[1], v[2]) for op_id, v in slot["heads"].items()]
    heads.sort(key=lambda h: (h.hlc, h.op_id), reverse=True)
    return heads


def _disagree(heads: list[Head]) -> bool:
    return len({canonical(h.value) for h in heads}) > 1


def register_heads(state: State, field_name: str) -> list[Head]:
    """The current heads of a register (what a new ``set`` op must name as ``prev``)."""
    slot = state["reg"].get(field_name)
    return _heads(slot) if slot else []


def status_heads(state: State) -> list[Head]:
    return _heads(state["st"]) if state["st"]["heads"] else []


def set_tags(state: State, field_name: str, element: Any) -> list[str]:
    """The live add-tags of ``element`` (what a ``remove`` op must name)."""
    slot = state["set"].get(field_name)
    if not slot:
        return []
    rm = set(slot["rm"])
    return [t for t in slot["adds"].get(canonical(element), []) if t not in rm]


def status_value(state: State) -> dict[str, Any]:
    heads = status_heads(state)
    if heads:
        return dict(heads[0].value)
    return {"to": LATTICES[state["kind"]].initial, "round": 0}


def _lww(heads: dict[str, list[Any]]) -> Any:
    """The provisional value among heads: highest HLC, then op id (same order as _heads)."""
    if len(heads) == 1:
        return next(iter(heads.values()))[0]
    op_id = max(heads, key=lambda k: (heads[k][1], k))
    return heads[op_id][0]


def fields(state: State) -> dict[str, Any]:
    """The record as a person sees it: dotted field names to values."""
    out: dict[str, Any] = {}
    for name, slot in state["reg"].items():
        if slot["heads"]:
            out[name] = _lww(slot["heads"])
    for name, slot in state["set"].items():
        rm = set(slot["rm"])
        live = [orjson.loads(el) for el, tags in slot["adds"].items() if set(tags) - rm]
        out[name] = sorted(live, key=canonical)
    for name, entries in state["log"].items():
        ordered = sorted(entries.items(), key=lambda kv: (kv[1][0], kv[0]))
        out[name] = [{"at": v[0], "by": v[1], "entry": v[2], "op": k} for k, v in ordered]
    out["status"] = status_value(state)
    return out


def conflicts(state: State) -> list[Conflict]:
    """Every field whose heads disagree, for a person to settle."""
    found = []
    for name in sorted(state["reg"]):
        slot = state["reg"][name]
        if len(slot["heads"]) < 2:
            continue
        heads = _heads(slot)
        if _disagree(heads):
            found.append(Conflict(name, tuple(heads)))
    heads = status_heads(state)
    if len(heads) > 1 and len({h.value["to"] for h in heads}) > 1:
        found.append(Conflict("status", tuple(heads)))
    return found


def known_fields(kind: str) -> tuple[str, ...]:
    return tuple(f.name for f in SCHEMAS[kind])
