"""Status lattices: progress never goes back by accident, and a refusal says why.

Merge takes the highest status (DESIGN §3), so each status has a rank and a record's status
is the maximum over every status op it has received. A deliberate reopen starts a new
*round*: every state of round n+1 outranks every state of round n, so a reopened case can go
through received → submitted → completed again without ever moving "down" the lattice.
``voided`` outranks everything: a record is never deleted, only voided with a reason.

A status value on the wire and at rest is ``{"to": state, "round": n}``; its order key is
``(round, rank)``, with voided at the top. DESIGN §3 writes the reopened state as rank 6: here
it is rank 0 of the next round, which sorts above every rank of the round before, and lets
the reopened case climb its ranks again.

Transitions a person may make are listed per kind. A refused transition raises
``TransitionRefused`` with a sentence in both languages saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from station.domain.errors import TransitionRefused

VOID = "voided"


@dataclass(frozen=True)
class State:
    name: str
    rank: int
    zh: str
    en: str
    terminal: bool = False  # an outcome: completed / returned / done


@dataclass(frozen=True)
class Lattice:
    """The states of one record kind and the transitions a person may make between them."""

    kind: str
    states: dict[str, State]
    initial: str
    moves: dict[str, tuple[str, ...]]  # from-state -> allowed to-states (same round)
    reopen_from: tuple[str, ...] = ()  # states from which "reopened" starts a new round

    def state(self, name: str) -> State:
        return self.states[name]

    def key(self, value: dict[str, Any]) -> tuple[int, int]:
        """Order key of a status value: voided above all, then (round, rank)."""
        if value["to"] == VOID:
            return (1 << 30, 0)
        return (int(value.get("round", 0)), self.states[value["to"]].rank)

    def label(self, name: str, lang: str) -> str:
        st = self.states[name]
        return st.zh if lang == "zh" else st.en


def _states(*rows: tuple[str, int, str, str, bool]) -> dict[str, State]:
    return {name: State(name, rank, zh, en, terminal) for name, rank, zh, en, terminal in rows}


APPLICATION = Lattice(
    kind="application",
    states=_states(
        ("draft", 0, "草稿", "draft", False),
        ("received", 1, "受理", "received", False),
        ("awaiting_materials", 2, "容缺待补", "awaiting materials", False),
        ("submitted", 3, "已报送", "submitted", False),
        ("in_review", 4, "审核中", "in review", False),
        ("completed", 5, "办结", "completed", True),
        ("returned", 5, "退回", "returned", True),
        ("reopened", 0, "重新办理", "reopened", False),  # rank 0 of round n+1
        (VOID, 9, "作废", "voided", False),
    ),
    initial="draft",
    moves={
        "draft": ("received", "awaiting_materials"),
        "received": ("awaiting_materials", "submitted", "in_review", "completed", "returned"),
        "awaiting_materials": ("submitted", "in_review", "completed", "returned"),
        "submitted": ("in_review", "completed", "returned"),
        "in_review": ("completed", "returned"),
        "reopened": ("received", "awaiting_materials", "submitted", "in_review", "completed",
                     "returned"),
    },
    reopen_from=("completed", "returned"),
)

VISIT = Lattice(
    kind="visit",
    states=_states(
        ("scheduled", 1, "已预约", "scheduled", False),
        ("done", 5, "已上门", "done", True),
        (VOID, 9, "作废", "voided", False),
    ),
    initial="scheduled",
    moves={"scheduled": ("done",)},
)

RESIDENT = Lattice(
    kind="resident",
    states=_states(
        ("active", 1, "在册", "active", False),
        (VOID, 9, "作废", "voided", False),
    ),
    initial="active",
    moves={},
)

LATTICES = {lat.kind: lat for lat in (APPLICATION, VISIT, RESIDENT)}

# Why a move is refused, keyed by a reason code: (zh, en).
WHY = {
    "same": ("已经是这个状态", "it already has that status"),
    "voided": ("作废的记录不能再更改状态", "a voided record cannot change status"),
    "backwards": ("办理进度不能倒退；如需重新办理，请先办结或退回后再“重新办理”",
                  "progress cannot go backwards; to start again, reopen a completed or "
                  "returned case"),
    "not_allowed": ("不允许这样变更", "that change is not allowed"),
    "reopen_only_final": ("只有已办结或已退回的件才能重新办理",
                          "only a completed or returned case can be reopened"),
    "void_reason": ("作废必须写明原因", "voiding needs a reason"),
    "centre_decides": ("该事项由镇中心决定办结或退回，村站只能受理并报送",
                       "the town centre decides this matter; the station receives and forwards it"),
    "essential_missing": ("必要材料未收齐：{missing}",
                          "essential materials are missing: {missing}"),
    "materials_missing": ("还有未收的材料：{missing}；请选择“容缺待补”",
                          "materials are still missing: {missing}; choose “awaiting materials”"),
    "no_missing": ("没有缺少的材料，不需要“容缺待补”",
                   "no material is missing, so “awaiting materials” does not apply"),
    "unknown": ("没有这个状态", "there is no such status"),
}


def refuse(lattice: Lattice, frm: str, to: str, why: str, **params: str) -> TransitionRefused:
    """A ``TransitionRefused`` with both languages filled in."""
    why_zh, why_en = WHY[why]
    return TransitionRefused(
        from_zh=lattice.label(frm, "zh"),
        from_en=lattice.label(frm, "en"),
        to_zh=lattice.label(to, "zh") if to in lattice.states else to,
        to_en=lattice.label(to, "en") if to in lattice.states else to,
        why_zh=why_zh.format(**params),
        why_en=why_en.format(**params),
    )


def next_status(lattice: Lattice, current: dict[str, Any], to: str, *,
                reason: str = "") -> dict[str, Any]:
    """The status value a person's move from ``current`` to ``to`` writes, or a refusal.

    Only the shape of the lattice is checked here; rules that need the record (materials,
    who decides the matter) are in ``station.domain.rules``.
    """
    frm = current["to"]
    rnd = int(current.get("round", 0))
    if to not in lattice.states:
        raise refuse(lattice, frm, to, "unknown")
    if frm == VOID:
        raise refuse(lattice, frm, to, "voided")
    if to == VOID:
        if not reason.strip():
            raise refuse(lattice, frm, to, "void_reason")
        return {"to": VOID, "round": rnd, "reason": reason.strip()}
    if to == frm:
        raise refuse(lattice, frm, to, "same")
    if to == "reopened":
        if frm not in lattice.reopen_from:
            raise refuse(lattice, frm, to, "reopen_only_final")
        return _with_reason({"to": "reopened", "round": rnd + 1}, reason)
    if to in lattice.moves.get(frm, ()):
        return _with_reason({"to": to, "round": rnd}, reason)
    if lattice.state(to).rank < lattice.state(frm).rank:
        raise refuse(lattice, frm, to, "backwards")
    raise refuse(lattice, frm, to, "not_allowed")


def _with_reason(value: dict[str, Any], reason: str) -> dict[str, Any]:
    """A status value with its reason, if one was given: an empty reason is left out, as
    the changeset check's normal form has it, so a move made without one (``station edit
    --status reopened``) is not refused as a malformed change."""
    if reason.strip():
        value["reason"] = reason.strip()
    return value
