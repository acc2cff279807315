"""This month's lists in the app: the applications list filtered to the cases to resolve,
to contact or overdue — the very cases `station due` lists and the dashboard counts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Select, Static

from station.cli import cli
from station.cli.common import run
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.tui.screens.records import RecordListScreen
from station.tui.widgets.record_table import RecordTable
from tests.conftest import PASSPHRASE
from tests.tui.conftest import drive, fill, make_app, settle

LISTS = ("to_resolve", "to_contact", "overdue")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A village on the real clock (the CLI reads the real clock too), one of its cases to
    contact already called this month (the call takes it off the list), and a draft left
    since two months ago (no list has it)."""
    station, _ = Station.init(tmp_path / "V001", station_id="V001", name="青石村便民服务站",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF)
    try:
        fill(station, residents=60, applications=30)
        called = station.due().to_contact[0]
        station.add_contact(called.id, "phone", "告知办理进度")
        long_ago = (station.today() - dt.timedelta(days=60)).isoformat()
        station.create("application", {  # a draft whose dates have passed: no promise
            "matter": "SB-002", "applicant.name": "陈丽", "received_on": long_ago,
            "applicant.id_number": "411525198903023982"}, status="draft")
    finally:
        station.close()
    return tmp_path / "V001"


def station_due(home: Path, capsys: Any) -> dict[str, list[str]]:
    """What `station due --json` lists, by list: the receipts' record ids."""
    secret = home.parent / "pass.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    code = run(cli, ["due", "--json", "--home", str(home), "--passphrase-file", str(secret)])
    out = capsys.readouterr().out
    assert code == 0
    found = json.loads(out)
    return {key: [row["id"] for row in found[key]] for key in LISTS}


def test_the_app_lists_the_cases_station_due_lists(home, capsys):
    """Each due filter of the applications list shows exactly the cases of the same list
    of `station due`, and as many as its dashboard card says."""
    due = station_due(home, capsys)
    assert all(due.values())  # each list has cases: the comparison means something
    station = Station.open(home, PASSPHRASE)
    app = make_app(station, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        cards = {key: str(app.screen.query_one(f"#card-{key} .card-number", Static).render())
                 for key in LISTS}
        await pilot.press("a")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        for key in LISTS:
            app.screen.query_one("#due", Select).value = key
            await settle(pilot, app)
            assert sorted(table.keys) == sorted(due[key]), key
            assert cards[key] == str(len(due[key]))
            assert f"共 {len(due[key])} 条" in str(app.screen.query_one("#count").render())

    drive(app, scenario)


def test_the_to_contact_card_opens_its_cases_by_key_and_by_click(home, capsys):
    due = station_due(home, capsys)
    station = Station.open(home, PASSPHRASE)
    app = make_app(station, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        label = str(app.screen.query_one("#card-to_contact .card-label", Static).render())
        assert "按 t" in label  # the card says its key
        await pilot.press("t")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordListScreen)
        assert app.screen.query_one("#due", Select).value == "to_contact"
        assert sorted(app.screen.query_one(RecordTable).keys) == sorted(due["to_contact"])
        await pilot.press("escape")
        await settle(pilot, app)
        for key in LISTS:
            await pilot.click(f"#card-{key}")
            await settle(pilot, app)
            assert isinstance(app.screen, RecordListScreen)
            assert sorted(app.screen.query_one(RecordTable).keys) == sorted(due[key]), key
            await pilot.press("escape")
            await settle(pilot, app)

    drive(app, scenario)


def test_a_case_called_from_the_list_leaves_it(home):
    """Working through the list: open a case to contact, log the call, go back — it is off
    the list, and the dashboard's card counts one fewer."""
    station = Station.open(home, PASSPHRASE)
    before = len(station.due().to_contact)
    app = make_app(station, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("t")
        await settle(pilot, app)
        table = app.screen.query_one(RecordTable)
        called = table.cursor_key
        assert table.row_count == before
        await pilot.press("enter")  # down to the rows
        await settle(pilot, app)
        await pilot.press("enter")  # open the case
        await settle(pilot, app)
        await pilot.press("l", *"告知进度", "enter", "enter")
        await settle(pilot, app)
        assert len(station.get(called).fields["contacts"]) == 1
        await pilot.press("escape")
        await settle(pilot, app)
        assert isinstance(app.screen, RecordListScreen)
        assert called not in table.keys and table.row_count == before - 1
        await pilot.press("escape")
        await settle(pilot, app)
        number = app.screen.query_one("#card-to_contact .card-number", Static)
        assert str(number.render()) == str(before - 1)

    drive(app, scenario)
