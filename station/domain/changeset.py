"""Changesets: one user action = one changeset = the unit of signing, syncing and de-duplication.

A changeset carries field-level ops for one record (DESIGN §4):

- ``set(field, value, prev)``      a register's new value; ``prev`` names the ops it replaces
- ``add(field, element)``          an element into an observed-remove set (its tag is the op id)
- ``remove(field, element, tags)`` removes the add-tags of ``element`` that the writer saw
- ``append(field, entry)``         a log entry (contacts, notes)
- ``status(value, prev)``          a status value ``{"to", "round", …}``; ``prev`` only when it
                                   settles a conflict between two outcomes

An op is named ``<changeset id>:<index>``. The dict form (``to_dict``) is what the wire codec
serialises; ``from_dict`` checks its shape so a malformed changeset from the network or a USB
stick is refused with a reason instead of crashing anything.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

from station.domain.errors import ChangesetError
from station.domain.hlc import HLC
from station.domain.records import KINDS

OpKind = Literal["set", "add", "remove", "append", "status"]
OP_KINDS = ("set", "add", "remove", "append", "status")
CENTRE = "centre"  # the origin of changesets written by town-centre staff

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_OP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:\d{1,4}$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_:-]{1,64}$")
MAX_OPS = 200
MAX_WALL = 1 << 47  # milliseconds: beyond the year 6000, and storable everywhere
MAX_COUNTER = 1 << 31


class Op(NamedTuple):
    """One field-level op. (A named tuple: imports build hundreds of thousands of them.)"""

    op: OpKind
    field: str
    value: Any = None
    prev: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "f": self.field}
        if self.value is not None:
            out["v"] = self.value
        if self.prev:
            out["p"] = list(self.prev)
        if self.tags:
            out["t"] = list(self.tags)
        return out


class Changeset(NamedTuple):
    id: str
    record: str
    kind: str
    scope: str  # the village the record belongs to: what decides who pulls it
    origin: str  # the station that wrote it, or "centre"
    author: str  # the agent (or centre staff member) who made the change
    hlc: HLC
    ops: tuple[Op, ...]

    def op_id(self, index: int) -> str:
        return f"{self.id}:{index}"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as plain tuples. The centre's check processes send every checked
        changeset of a push back to the server process, and pickle's default for nested
        named tuples (a Python call per op each way) cost more than decoding the bytes."""
        return _unpickle, (tuple(self[:6]), tuple(self.hlc), [tuple(op) for op in self.ops])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "r": self.record,
            "k": self.kind,
            "s": self.scope,
            "o": self.origin,
            "a": self.author,
            "h": [self.hlc.wall, self.hlc.counter, self.hlc.device],
            "ops": [op.to_dict() for op in self.ops],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Changeset:
        """Rebuild a changeset, refusing anything that does not have the expected shape."""
        try:
            return _parse(data)
        except ChangesetError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChangesetError(detail=f"malformed changeset ({type(exc).__name__})") from None


def peek_record(data: Any) -> tuple[str | None, str | None]:
    """Which record a changeset this version cannot parse is for, and the receipt number it
    gives that record, as far as its shape can be trusted (``None`` where it cannot): what
    a kept-aside changeset is told by, without taking anything else from it."""
    if not isinstance(data, dict):
        return None, None
    rid = data.get("r")
    record = rid if isinstance(rid, str) and _ID.match(rid) else None
    ops = data.get("ops")
    for op in ops if isinstance(ops, list) else []:
        if isinstance(op, dict) and op.get("f") == "receipt" and isinstance(op.get("v"), str):
            return record, op["v"][:40]
    return record, None


def _unpickle(head: tuple[str, ...], hlc: tuple[int, int, str],
              ops: list[tuple[Any, ...]]) -> Changeset:
    new = tuple.__new__
    return new(Changeset, (*head, new(HLC, hlc), tuple([new(Op, op) for op in ops])))


def _bad(detail: str) -> ChangesetError:
    return ChangesetError(detail=detail)


def _ids(values: Any, what: str) -> tuple[str, ...]:
    if not isinstance(values, list) or len(values) > 1000:
        raise _bad(f"{what} must be a short list")
    for v in values:
        if not (isinstance(v, str) and _OP_ID.match(v)):
            raise _bad(f"{what} holds a bad op id")
    return tuple(values)


def _parse(data: Any) -> Changeset:
    # Every message is built only on failure: the centre parses thousands a second.
    if not isinstance(data, dict):
        raise _bad("not an object")
    cid, rid = data["id"], data["r"]
    if not (isinstance(cid, str) and _ID.match(cid)):
        raise _bad("bad changeset id")
    if not (isinstance(rid, str) and _ID.match(rid)):
        raise _bad("bad record id")
    if data["k"] not in KINDS:
        raise _bad(f"unknown record kind {data['k']!r}")
    for key in ("s", "o"):
        if not (isinstance(data[key], str) and _CODE.match(data[key])):
            raise _bad(f"bad {key!r} code")
    if not (isinstance(data["a"], str) and 0 < len(data["a"]) <= 64):
        raise _bad("bad author")
    wall, counter, device = data["h"]
    if not (isinstance(wall, int) and isinstance(counter, int) and 0 <= wall < MAX_WALL
            and 0 <= counter < MAX_COUNTER):
        raise _bad("bad timestamp")
    if not (isinstance(device, str) and _DEVICE.match(device)):
        raise _bad("bad device id")
    raw_ops = data["ops"]
    if not (isinstance(raw_ops, list) and 0 < len(raw_ops) <= MAX_OPS):
        raise _bad("ops must be 1–200 items")
    ops = []
    for raw in raw_ops:
        if not (isinstance(raw, dict) and raw["op"] in OP_KINDS):
            raise _bad("bad op kind")
        name = raw["f"]
        if not (isinstance(name, str) and 0 < len(name) <= 64):
            raise _bad("bad field name")
        prev, tags = raw.get("p"), raw.get("t")
        ops.append(Op(raw["op"], name, raw.get("v"),
                      () if prev is None else _ids(prev, "prev"),
                      () if tags is None else _ids(tags, "tags")))
    return Changeset(cid, rid, data["k"], data["s"], data["o"], data["a"],
                     HLC(wall, counter, device), tuple(ops))
