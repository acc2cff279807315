"""The merge rules of station/domain/merge.py, one test per rule, named after it."""

import itertools
import uuid

from station.domain import merge
from station.domain.changeset import CENTRE, Changeset, Op
from station.domain.hlc import HLC

RECORD = str(uuid.UUID(int=1))


def cs(n, ops, *, wall=1000, device="A", origin="V001", author="甲", kind="application"):
    return Changeset(str(uuid.UUID(int=1000 + n)), RECORD, kind, "V001", origin, author,
                     HLC(wall, 0, device), tuple(ops))


def op_id(changeset, i=0):
    return changeset.op_id(i)


def state_of(changesets):
    return merge.dump(merge.merge(list(changesets)))


def test_order_does_not_matter():
    a = cs(1, [Op("set", "applicant.phone", "13900000001")], wall=1, device="A")
    b = cs(2, [Op("set", "applicant.phone", "13900000002")], wall=2, device="B")
    c = cs(3, [Op("add", "materials.received", "M01"), Op("append", "notes", "来电")], wall=3)
    d = cs(4, [Op("status", "status", {"to": "received", "round": 0})], wall=4)
    results = {state_of(p) for p in itertools.permutations([a, b, c, d])}
    assert len(results) == 1


def test_reapplying_changeset_is_noop():
    a = cs(1, [Op("set", "agent", "李"), Op("add", "materials.received", "M01"),
               Op("append", "notes", "x"), Op("status", "status", {"to": "received", "round": 0})])
    once = merge.merge([a])
    twice = merge.merge([a])
    merge.apply(twice, a)
    assert merge.dump(once) == merge.dump(twice)


def test_concurrent_register_writes_conflict_with_last_writer_wins_provisionally():
    base = cs(1, [Op("set", "applicant.phone", "13900000000")], wall=1)
    mine = cs(2, [Op("set", "applicant.phone", "13900000001", prev=(op_id(base),))],
              wall=5, device="A", author="甲")
    theirs = cs(3, [Op("set", "applicant.phone", "13900000002", prev=(op_id(base),))],
                wall=9, device="B", author="乙")
    state = merge.merge([base, mine, theirs])
    assert merge.fields(state)["applicant.phone"] == "13900000002"
    (conflict,) = merge.conflicts(state)
    assert conflict.field == "applicant.phone"
    assert [(h.value, h.author, h.device) for h in conflict.heads] == [
        ("13900000002", "乙", "B"), ("13900000001", "甲", "A")]


def test_settling_names_every_head_and_closes_the_conflict_in_any_order():
    base = cs(1, [Op("set", "agent", "甲")], wall=1)
    x = cs(2, [Op("set", "agent", "乙", prev=(op_id(base),))], wall=2, device="A")
    y = cs(3, [Op("set", "agent", "丙", prev=(op_id(base),))], wall=3, device="B")
    settle = cs(4, [Op("set", "agent", "乙", prev=(op_id(x), op_id(y)))], wall=4, device="C")
    for order in itertools.permutations([base, x, y, settle]):
        state = merge.merge(list(order))
        assert merge.conflicts(state) == []
        assert merge.fields(state)["agent"] == "乙"


def test_equal_concurrent_values_are_not_a_conflict():
    x = cs(1, [Op("set", "agent", "乙")], device="A")
    y = cs(2, [Op("set", "agent", "乙")], device="B")
    assert merge.conflicts(merge.merge([x, y])) == []


def test_causality_beats_clocks():
    # The editor's laptop is five years behind, but it saw the value it replaces.
    five_years = 5 * 365 * 24 * 3600 * 1000
    first = cs(1, [Op("set", "applicant.address", "青石村一组 1 号")], wall=five_years, device="A")
    later = cs(2, [Op("set", "applicant.address", "青石村二组 9 号", prev=(op_id(first),))],
               wall=10, device="B")
    state = merge.merge([later, first])
    assert merge.fields(state)["applicant.address"] == "青石村二组 9 号"
    assert merge.conflicts(state) == []


def test_status_takes_the_highest_rank():
    received = cs(1, [Op("status", "status", {"to": "received", "round": 0})], wall=50)
    submitted = cs(2, [Op("status", "status", {"to": "submitted", "round": 0})], wall=10)
    state = merge.merge([received, submitted])
    assert merge.status_value(state)["to"] == "submitted"
    assert merge.conflicts(state) == []


def test_two_different_outcomes_are_a_conflict_settled_like_a_register():
    done = cs(1, [Op("status", "status", {"to": "completed", "round": 0})], device="A")
    back = cs(2, [Op("status", "status", {"to": "returned", "round": 0})], device="B")
    state = merge.merge([done, back])
    assert [c.field for c in merge.conflicts(state)] == ["status"]
    settle = cs(3, [Op("status", "status", {"to": "completed", "round": 0},
                       prev=(op_id(done), op_id(back)))], device="C")
    for order in itertools.permutations([done, back, settle]):
        state = merge.merge(list(order))
        assert merge.conflicts(state) == []
        assert merge.status_value(state)["to"] == "completed"


def test_a_reopened_round_outranks_the_outcome_before_it():
    done = cs(1, [Op("status", "status", {"to": "completed", "round": 0})], wall=90)
    reopen = cs(2, [Op("status", "status", {"to": "reopened", "round": 1})], wall=10)
    received = cs(3, [Op("status", "status", {"to": "received", "round": 1})], wall=11)
    assert merge.status_value(merge.merge([received, done, reopen]))["to"] == "received"


def test_add_wins_over_a_concurrent_remove():
    add = cs(1, [Op("add", "materials.received", "M02")], device="A")
    remove = cs(2, [Op("remove", "materials.received", "M02", tags=(op_id(add),))], device="B")
    concurrent_add = cs(3, [Op("add", "materials.received", "M02")], device="C")
    assert merge.fields(merge.merge([add, remove]))["materials.received"] == []
    state = merge.merge([add, remove, concurrent_add])
    assert merge.fields(state)["materials.received"] == ["M02"]


def test_logs_are_a_union_ordered_by_time():
    a = cs(1, [Op("append", "notes", "第二")], wall=20, device="A")
    b = cs(2, [Op("append", "notes", "第一")], wall=10, device="B")
    notes = merge.fields(merge.merge([a, b]))["notes"]
    assert [n["entry"] for n in notes] == ["第一", "第二"]


def test_centre_authority_fields_ignore_station_writes():
    station = cs(1, [Op("set", "outcome", "completed")], origin="V001")
    centre = cs(2, [Op("set", "outcome_reason", "材料齐全，准予办理")], origin=CENTRE)
    fields = merge.fields(merge.merge([station, centre]))
    assert "outcome" not in fields
    assert fields["outcome_reason"] == "材料齐全，准予办理"


def test_merging_is_incremental():
    changesets = [cs(i, [Op("append", "notes", f"n{i}")], wall=i) for i in range(1, 30)]
    incremental = merge.empty("application", RECORD, "V001")
    for c in changesets:
        merge.apply(incremental, c)
    assert merge.dump(incremental) == merge.dump(merge.merge(changesets[::-1]))


def test_a_timestamp_out_of_range_is_refused_not_stored():
    from station.domain.changeset import MAX_COUNTER, MAX_WALL
    from station.domain.errors import ChangesetError

    good = cs(1, [Op("set", "agent", "甲")]).to_dict()
    for wall, counter in ((MAX_WALL, 0), (1, MAX_COUNTER), (-1, 0), (2**64, 0)):
        bad = {**good, "h": [wall, counter, "A"]}
        try:
            Changeset.from_dict(bad)
        except ChangesetError as exc:
            assert "timestamp" in exc.message("en")
        else:
            raise AssertionError(f"accepted {wall}, {counter}")
