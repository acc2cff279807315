"""Settle a conflict: two stations edit the same resident apart, exchange, and one agent
sees every value side by side, keeps one (or enters another), and the conflict is gone."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from station.tui.screens import make_record
from station.tui.screens.conflicts import ConflictsScreen, SettleValueModal
from station.tui.widgets.record_table import RecordTable
from tests.conftest import FakeNow
from tests.store.test_conflicts import exchange, make, three_addresses
from tests.tui.conftest import drive, lines_of, make_app, settle, toasts
from tests.tui.test_record import shown, text_of


def conflicting(tmp_path):
    """Two stations that changed one resident's phone and address apart, then exchanged."""
    village, bus = make(tmp_path, "V001", FakeNow()), make(tmp_path, "BUS01", FakeNow())
    record = village.create("resident", {"resident.name": "王桂英",
                                         "resident.phone": "13900000000",
                                         "resident.address": "青石村一组 1 号"})
    exchange(village, bus)
    village.update(record.id, {"resident.phone": "13900000001"})
    bus.update(record.id, {"resident.phone": "13900000002"})
    village.update(record.id, {"resident.address": "青石村一组 8 号"})
    bus.update(record.id, {"resident.address": "青石村三组 12 号"})
    exchange(village, bus)
    return village, bus, record.id


@pytest.fixture
def pair(tmp_path):
    village, bus, record_id = conflicting(tmp_path)
    yield village, bus, record_id
    bus.close()
    village.close()


def test_settle_a_conflict_by_picking_a_head(pair):
    village, _, record_id = pair
    assert len(village.conflicts()) == 2
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("c")
        await settle(pilot, app)
        assert isinstance(app.screen, ConflictsScreen)
        table = app.screen.query_one("#conflicts-list", DataTable)
        assert table.row_count == 2
        table.move_cursor(row=[c.field for c in app.screen.found].index("resident.phone"))
        await pilot.pause()
        cards = [text_of(card) for card in app.screen.query(".conflict-head")]
        assert len(cards) == 2
        assert "agent-V001" in "".join(cards) and "agent-BUS01" in "".join(cards)
        assert "shown for now" in cards[0] and "shown for now" not in cards[1]
        conflict = next(c for c in village.conflicts() if c.field == "resident.phone")
        provisional, other = conflict.heads[0].value, conflict.heads[1].value
        assert provisional in cards[0] and other in cards[1]
        assert village.get(record_id).fields["resident.phone"] == provisional

        await pilot.press("2")
        await settle(pilot, app)
        assert [c.field for c in village.conflicts()] == ["resident.address"]
        assert table.row_count == 1
        assert village.get(record_id).fields["resident.phone"] == other

        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        fields = shown(app, "#record-fields")
        assert other in fields and provisional not in fields
        assert "Resident phone (conflict settled)" in shown(app, "#record-history")
        assert "1 conflicting field" in shown(app, "#record-alert")

    drive(app, scenario)


def test_settle_with_a_new_value_checked_by_the_store(pair):
    village, bus, record_id = pair
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(make_record(record_id))
        await settle(pilot, app)
        assert "冲突" in shown(app, "#record-alert")
        await pilot.press("c")  # from the record: its own conflicts first
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        table = screen.query_one("#conflicts-list", DataTable)
        table.move_cursor(row=[c.field for c in screen.found].index("resident.phone"))
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, SettleValueModal)
        app.screen.query_one("#settle-value", Input).value = "123"
        await pilot.press("enter")
        await pilot.pause()
        assert "手机号" in str(app.screen.query_one("#form-error", Static).content)
        app.screen.query_one("#settle-value", Input).value = "13911112222"
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.screen is screen
        assert village.get(record_id).fields["resident.phone"] == "13911112222"
        assert [c.field for c in village.conflicts()] == ["resident.address"]
        await pilot.press("1")
        await settle(pilot, app)
        assert village.conflicts() == []
        assert "没有待处理的冲突" in shown(app, "#conflicts-count")
        assert not screen.check_action("pick", (1,))
        exchange(village, bus)  # the settlement closes the conflict at the other station too
        assert bus.conflicts() == []
        assert bus.get(record_id).fields["resident.phone"] == "13911112222"

    drive(app, scenario)


def test_a_value_synced_in_while_the_screen_is_open_is_not_settled_by_its_number(tmp_path):
    """The agent reads two addresses and presses 1 for the first; meanwhile a sync brought a
    third, newer one that now comes first. Nothing is settled: the screen says the conflict
    changed and shows all three."""
    village, bus, third, record_id = three_addresses(tmp_path)
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("c")
        await settle(pilot, app)
        cards = [text_of(card) for card in app.screen.query(".conflict-head")]
        assert len(cards) == 2 and "三组" not in "".join(cards)
        shown_first = village.get(record_id).fields["resident.address"]
        exchange(village, third)
        await pilot.press("1")
        await settle(pilot, app)
        assert village.get(record_id).fields["resident.address"] == "青石村三组 3 号"
        assert len(village.conflicts()[0].heads) == 3
        assert any("changed after you looked" in n.message for n in app._notifications)
        cards = [text_of(card) for card in app.screen.query(".conflict-head")]
        assert len(cards) == 3
        assert shown_first != "青石村三组 3 号"

    drive(app, scenario)
    for st in (village, bus, third):
        st.close()


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_the_lists_mark_the_records_that_need_settling(tmp_path, size):
    """An application, a visit and a resident edited apart on the village and the bus: each
    list marks its conflicted record with "!" (as `station list` does), the others not, and
    the mark is in sight at 80 columns; settled, the mark goes."""
    village, bus = make(tmp_path, "V001", FakeNow()), make(tmp_path, "BUS01", FakeNow())
    records = {
        "application": village.create("application", {
            "matter": "SB-002", "applicant.name": "陈丽",
            "applicant.id_number": "411525198903023982", "applicant.phone": "13089245659",
            "applicant.address": "青石村八组 1 号", "authorisation.relationship": "self",
            "materials.received": ["M01", "M02"]}),
        "visit": village.create("visit", {
            "resident.name": "赵秀兰", "reason": "elderly", "services": ["consultation"],
            "scheduled_at": "2026-11-20T09:00", "result": "已解答服务对象咨询的问题"}),
        "resident": village.create("resident", {"resident.name": "王桂英",
                                                "resident.phone": "13900000000"})}
    calm = village.create("resident", {"resident.name": "李明", "resident.phone": "13900000009"})
    phone = {"application": "applicant.phone", "visit": "resident.phone",
             "resident": "resident.phone"}
    exchange(village, bus)
    for kind, record in records.items():
        village.update(record.id, {phone[kind]: "13900000001"})
        bus.update(record.id, {phone[kind]: "13900000002"})
    exchange(village, bus)
    bus.close()
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        for key, kind in (("a", "application"), ("v", "visit"), ("r", "resident")):
            await pilot.press(key)
            await settle(pilot, app)
            table = app.screen.query_one(RecordTable)
            lines = {k: "".join(s.text for s in table.render_line(i + 1))
                     for i, k in enumerate(table.keys)}
            header = "".join(s.text for s in table.render_line(0))
            assert header.rstrip().endswith("!")
            marked = {k for k, line in lines.items() if line.rstrip().endswith("!")}
            assert marked == {records[kind].id}
            assert marked == {s.id for s in village.list(kind=kind) if s.conflicts}
            assert kind != "resident" or calm.id in lines  # listed, and not marked
            await pilot.press("escape")
            await settle(pilot, app)
        village.settle(f"{records['visit'].receipt}:resident.phone", pick=1)
        await pilot.press("v")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        assert "!" not in "".join(s.text for s in table.render_line(1))

    drive(app, scenario, size=size)
    village.close()


def test_disagreeing_centre_decisions_say_the_centre_settles_them_and_offer_no_pick(tmp_path):
    from tests.store.test_conflicts import racing_decisions

    village = make(tmp_path, "V001", FakeNow())
    record = village.create("application", {
        "matter": "HJ-001", "applicant.name": "王桂英", "materials.received": ["M01", "M02"],
        "materials.due": {"M03": "2026-12-04", "M04": "2026-12-04"}})
    wall = int(village.now().timestamp() * 1000)
    village.ledger.receive(racing_decisions(village.ledger.state(record.id), wall),
                           today=village.today())
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("c")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        table = screen.query_one("#conflicts-list", DataTable)
        table.move_cursor(row=[c.field for c in screen.found].index("outcome"))
        await pilot.pause()
        hint = str(screen.query_one("#conflicts-hint", Static).content)
        assert "只能由镇中心重新决定" in hint and "办理结果" in hint
        # broken between characters, not only at spaces: the conflict's number was alone
        # on the first line and the sentence began on the next
        lines = lines_of(screen.query_one("#conflicts-hint", Static))
        assert lines[0].startswith("冲突 V001-") and "镇便民服务中心" in lines[0]
        await pilot.press("1")  # greyed out: nothing to pick here
        await settle(pilot, app)
        assert not any("只能由镇便民服务中心填写" in n for n in toasts(app))
        assert len(village.conflicts()) == 3  # nothing was written

    drive(app, scenario, size=(80, 24))
    village.close()


def many_conflicts(tmp_path, people: int):
    """Two stations that each changed the phone and the address of ``people`` residents
    apart: two conflicts a person, more than the list shows without scrolling."""
    village, bus = make(tmp_path, "V001", FakeNow()), make(tmp_path, "BUS01", FakeNow())
    records = [village.create("resident", {"resident.name": f"王桂英{n}",
                                            "resident.phone": "13900000000",
                                            "resident.address": "青石村一组 1 号"})
               for n in range(people)]
    exchange(village, bus)
    for record in records:
        village.update(record.id, {"resident.phone": "13900000001",
                                   "resident.address": "青石村一组 8 号"})
        bus.update(record.id, {"resident.phone": "13900000002",
                               "resident.address": "青石村三组 12 号"})
    exchange(village, bus)
    bus.close()
    return village


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_list_of_conflicts_uses_the_whole_width_of_an_80_column_terminal(
        tmp_path, lang):
    """With more conflicts than the list shows at once, it stopped at column 78, as the
    record lists once did: the lines above are inset by a margin, which Textual takes off a
    1fr table's width too once it scrolls. Its rows then no longer fitted beside their
    scrollbar, and a horizontal scrollbar hid the last row, with two blank columns."""
    village = many_conflicts(tmp_path, 6)
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        app.push_screen(ConflictsScreen())
        await settle(pilot, app)
        table = app.screen.query_one("#conflicts-list", DataTable)
        assert table.row_count == 12 and table.show_vertical_scrollbar
        assert table.region.x == 0 and table.region.right == app.size.width
        assert not table.show_horizontal_scrollbar  # every column in sight
        hint = app.screen.query_one("#conflicts-hint", Static)
        assert hint.region.bottom <= app.size.height - 1  # above the footer, not below it
        assert not app.screen.show_vertical_scrollbar  # the list scrolls, not the screen

    drive(app, scenario, size=(80, 24))
    village.close()
