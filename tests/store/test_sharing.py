"""One station, several programs at once: the app keeps the station open all day while a
second terminal runs ``station import`` or ``station edit`` on the same home (real
processes). What they commit must be what the open app finds."""

from __future__ import annotations

import json

from tests.conftest import station_cli


def test_the_open_app_finds_by_name_whom_another_terminal_just_imported_or_renamed(
        station, passphrase_file):
    """The name index is built once after unlock; residents a colleague imports meanwhile
    (or renames with ``station edit``) must be found by name in the open app, as they are by
    ID number. They were not found until the agent locked and unlocked the app."""
    known = station.create("resident", {"resident.name": "王桂英"})
    assert [r.id for r in station.search("wgy")] == [known.id]  # the index is built, warm
    rows = station.home.parent / "elderly.jsonl"
    rows.write_text("".join(json.dumps({"kind": "resident", "resident": {"name": name}},
                                       ensure_ascii=False) + "\n"
                            for name in ("赵秀兰", "钱德明")), encoding="utf-8")
    done = station_cli("import", str(rows), home=station.home, passphrase_file=passphrase_file)
    assert done.returncode == 0, done.stderr
    done = station_cli("edit", known.receipt, "--set", "resident.name=王桂芳",
                       home=station.home, passphrase_file=passphrase_file)
    assert done.returncode == 0, done.stderr
    assert [r.name for r in station.search("赵秀")] == ["赵秀兰"]
    assert [r.name for r in station.search("qiandeming")] == ["钱德明"]
    assert [r.name for r in station.search("王桂")] == ["王桂芳"]
    assert station.search("王桂英") == []
