"""G3 convergence, as a property: replicas that have seen the same set of changesets hold
byte-identical records, whatever the order, duplicates or partitions along the way.

3–5 replicas make random concurrent edits of every field kind on shared records (registers,
map registers, sets, logs, status, conflicts settled), exchange changesets pairwise in random
orders with duplicates (a partition is simply a pair that never syncs until the end); then
everyone gets everything. 500 examples in `make test`, 20 000 in `make soak`.
"""

from __future__ import annotations

import os
import uuid

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from station.domain import merge
from station.domain.changeset import Changeset, Op
from station.domain.hlc import Clock

SOAK = bool(os.environ.get("STATION_SOAK"))
EXAMPLES = 20_000 if SOAK else 500
RECORDS = [str(uuid.UUID(int=i)) for i in (1, 2)]
REGISTERS = ["applicant.phone", "materials.due.M03"]
SET = "materials.received"
STATUSES = [("received", 0), ("submitted", 0), ("completed", 0), ("returned", 0),
            ("reopened", 1), ("received", 1), ("completed", 1)]


class Replica:
    def __init__(self, name: str, skew_ms: int) -> None:
        self.name = name
        base = 1_790_000_000_000 + skew_ms
        self.tick = 0
        self.clock = Clock(name, now=lambda: base + self.tick)
        self.seen: dict[str, Changeset] = {}
        self.states = {rid: merge.empty("application", rid, "V001") for rid in RECORDS}
        self.counter = 0

    def receive(self, cs: Changeset) -> None:
        self.clock.observe(cs.hlc)
        self.seen[cs.id] = cs
        merge.apply(self.states[cs.record], cs)  # also when already seen: must be a no-op

    def make(self, record: str, ops: list[Op]) -> Changeset:
        self.counter += 1
        self.tick += 7
        cid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{self.counter}"))
        cs = Changeset(cid, record, "application", "V001", self.name, self.name,
                       self.clock.tick(), tuple(ops))
        self.receive(cs)
        return cs


# (record, field) -> (the op that wrote it last, whether it was a settle that saw every write)
LAST_WRITE: dict[tuple[str, str], tuple[str, bool]] = {}
WRITES: dict[tuple[str, str], set[str]] = {}


def note_write(replica: Replica, cs: Changeset, settle: bool) -> Changeset:
    op = cs.ops[0]
    if op.op in ("set", "status"):
        key = (cs.record, op.field)
        written = WRITES.setdefault(key, set())
        complete = settle and all(
            any(c.op_id(0) == w for c in replica.seen.values()) for w in written)
        written.add(cs.op_id(0))
        LAST_WRITE[key] = (cs.op_id(0), complete)
    return cs


def edit(replica: Replica, data: st.DataObject) -> Changeset:
    return note_write(replica, *_edit(replica, data))


def settle(replica: Replica, data: st.DataObject) -> Changeset:
    record = data.draw(st.sampled_from([rid for rid, s in replica.states.items()
                                        if merge.conflicts(s)]))
    conflict = data.draw(st.sampled_from(merge.conflicts(replica.states[record])))
    event(f"settling a conflict on {conflict.field.split('.')[0]}")
    head = data.draw(st.sampled_from(conflict.heads))
    op = "status" if conflict.field == "status" else "set"
    chosen = Op(op, conflict.field, head.value, prev=tuple(h.op_id for h in conflict.heads))
    return note_write(replica, replica.make(record, [chosen]), True)


def _edit(replica: Replica, data: st.DataObject) -> tuple[Changeset, bool]:
    record = data.draw(st.sampled_from(RECORDS))
    state = replica.states[record]
    kind = data.draw(st.sampled_from(["set", "set", "add", "remove", "append", "status"]))
    if kind == "set":
        name = data.draw(st.sampled_from(REGISTERS))
        value = data.draw(st.sampled_from(["a", "b", "c", None]))
        prev = tuple(h.op_id for h in merge.register_heads(state, name))
        return replica.make(record, [Op("set", name, value, prev=prev)]), False
    if kind == "add":
        element = data.draw(st.sampled_from(["M01", "M02"]))
        return replica.make(record, [Op("add", SET, element)]), False
    if kind == "remove":
        element = data.draw(st.sampled_from(["M01", "M02"]))
        tags = tuple(merge.set_tags(state, SET, element))
        return replica.make(record, [Op("remove", SET, element, tags=tags)]), False
    if kind == "append":
        note = f"{replica.name}{replica.counter}"
        return replica.make(record, [Op("append", "notes", note)]), False
    to, rnd = data.draw(st.sampled_from(STATUSES))
    return replica.make(record, [Op("status", "status", {"to": to, "round": rnd})]), False


def deliver(src: Replica, dst: Replica, data: st.DataObject) -> None:
    items = list(src.seen.values())
    order = data.draw(st.permutations(items))
    dupes = data.draw(st.lists(st.sampled_from(items), max_size=3)) if items else []
    for cs in [*order, *dupes]:
        dst.receive(cs)


def accounted(state: merge.State, changesets: list[Changeset]) -> None:
    """Every op is either live, or superseded by an op that names it."""
    for cs in changesets:
        for i, op in enumerate(cs.ops):
            op_id = cs.op_id(i)
            if op.op == "set":
                slot = state["reg"][op.field]
                assert op_id in slot["heads"] or op_id in slot["dead"]
            elif op.op == "append":
                assert op_id in state["log"][op.field]
            elif op.op == "add":
                assert op_id in state["set"][op.field]["adds"][merge.canonical(op.value)]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not SOAK,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_replicas_that_saw_the_same_changesets_are_byte_identical(data):
    LAST_WRITE.clear()
    WRITES.clear()
    n = data.draw(st.integers(3, 5))
    skews = data.draw(st.lists(st.sampled_from([0, -2 * 86_400_000, 5 * 365 * 86_400_000, 13]),
                               min_size=n, max_size=n))
    replicas = [Replica(f"R{i}", skew) for i, skew in enumerate(skews)]
    for _ in range(data.draw(st.integers(12, 40))):
        action = data.draw(st.sampled_from(["edit", "edit", "deliver", "deliver", "settle"]))
        if action == "edit":
            edit(data.draw(st.sampled_from(replicas)), data)
        elif action == "deliver":
            a, b = data.draw(st.sampled_from(replicas)), data.draw(st.sampled_from(replicas))
            deliver(a, b, data)
        else:
            conflicted = [r for r in replicas
                          if any(merge.conflicts(s) for s in r.states.values())]
            if conflicted:
                settle(data.draw(st.sampled_from(conflicted)), data)
    everything: dict[str, Changeset] = {}
    for r in replicas:
        everything.update(r.seen)
    for r in replicas:  # everyone gets everything, in an order of their own
        for cs in data.draw(st.permutations(list(everything.values()))):
            r.receive(cs)
    for rid in RECORDS:
        dumps = {merge.dump(r.states[rid]) for r in replicas}
        assert len(dumps) == 1
        mine = [cs for cs in everything.values() if cs.record == rid]
        if mine:
            assert merge.dump(merge.merge(mine)) in dumps  # the same as merging the set at once
            accounted(replicas[0].states[rid], mine)
    for (rid, name), (_, complete) in LAST_WRITE.items():
        if complete:  # a settle that saw every write to its field, and nobody wrote after it
            event("a settled conflict stays closed everywhere")
            for r in replicas:
                assert name not in {c.field for c in merge.conflicts(r.states[rid])}
