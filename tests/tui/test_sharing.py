"""The app open while another program writes to the same station: a long import or a
repair in a second terminal holds the database's write lock for a while (a real process
here). Nothing the agent typed may be lost meanwhile."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from station.store.db import db_path
from station.store.service import Station
from station.tui.screens.visit_form import VisitFormScreen
from station.tui.widgets import form_screen
from tests.tui.conftest import drive, make_app, settle, toasts
from tests.tui.test_application_form import type_into
from tests.tui.test_sync import SIZE, centre, enrolled, log_text, wait_for  # noqa: F401

# What `station import` of a big file does to the others: one write transaction, held.
WRITING = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("writing", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@contextmanager
def another_program_writing(station: Station) -> Iterator[None]:
    """A process holding the station's write lock until the block ends."""
    other = subprocess.Popen([sys.executable, "-c", WRITING, str(db_path(station.home))],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdin is not None and other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "writing"
        yield
    finally:
        other.stdin.write("\n")
        other.stdin.close()
        assert other.wait(timeout=30) == 0


def test_leaving_a_form_while_another_program_writes_keeps_it_open_with_what_was_typed(
        village):
    """Escape (or Ctrl+Q) on a half-filled form keeps it as a draft; while an import in a
    second terminal held the database longer than the app waits, the draft was not written
    and the form closed anyway: what the agent typed was gone, without a word."""
    village.db.conn.execute("PRAGMA busy_timeout=300")  # the app's wait, made short here
    app = make_app(village, lang="en")

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        assert isinstance(form, VisitFormScreen)
        with another_program_writing(village):
            await type_into(pilot, form, "#f-name", "张大爷")
            for key in ("escape", "ctrl+q"):
                await pilot.press(key)
                await settle(pilot, app)
                assert app.screen is form and app.is_running
                assert form.query_one("#f-name").value == "张大爷"
                assert "could not be kept" in toasts(app)[-1]
                assert "database is in use by another program" in toasts(app)[-1]
        await pilot.press("escape")  # the other program is done: now it leaves, kept
        await settle(pilot, app)
        assert app.screen is not form
        assert [d.values.get("resident.name") for d in village.drafts()] == ["张大爷"]

    drive(app, scenario, size=(100, 32))


def test_typing_goes_on_while_another_program_writes_and_the_draft_is_kept_after(
        village, monkeypatch):
    """The draft autosave a second after the last keystroke ran in the UI thread and waited
    for the database as a save does (15 s): during an import in a second terminal the form
    froze in the agent's hands at every pause. It now gives up at once, tries again later,
    and keeps the draft once the other program is done."""
    monkeypatch.setattr(form_screen, "AUTOSAVE_RETRY", 0.3)
    village.db.conn.execute("PRAGMA busy_timeout=6000")  # the app's wait for a save
    app = make_app(village, lang="en")

    async def scenario(pilot):
        app.action_go("new_visit")
        await settle(pilot, app)
        form = app.screen
        with another_program_writing(village):
            await type_into(pilot, form, "#f-name", "张大")
            start = time.monotonic()
            await asyncio.sleep(form_screen.AUTOSAVE_DELAY + 0.2)  # the autosave is due
            await pilot.press("爷")
            assert time.monotonic() - start < form_screen.AUTOSAVE_DELAY + 3.0  # not 6 s frozen
            assert village.drafts() == []
        await asyncio.sleep(form_screen.AUTOSAVE_DELAY + 0.5)
        await pilot.pause()
        assert [d.values.get("resident.name") for d in village.drafts()] == ["张大爷"]

    drive(app, scenario, size=(100, 32))


# A scheduled `station sync --unattended` under way in another process: it holds the lock.
SYNCING = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1], blocking=False)
lock.acquire()
print("syncing", flush=True)
sys.stdin.readline()
"""


def test_the_sync_screen_says_another_sync_is_under_way_not_to_go_online(
        tmp_path, centre):  # noqa: F811
    """Sync pressed in the app while cron's sync runs: the log says another sync is under
    way, in the app's language, and no more. It went on with the line for a lost link,
    '联网后再同步即可' (sync once you are online), on a laptop that was online."""
    village = enrolled(tmp_path, centre, "V001")
    village.create("resident", {"resident.name": "王桂英"})
    app = make_app(village, lang="zh")
    cron = subprocess.Popen([sys.executable, "-c", SYNCING, str(village.home / "sync.lock")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert cron.stdin is not None and cron.stdout is not None

    async def scenario(pilot):
        await pilot.press("s")
        await settle(pilot, app)
        screen = app.screen
        await pilot.press("s")
        shown = await wait_for(pilot, screen, "本站的另一次同步正在进行")
        await settle(pilot, app)
        assert "联网后" not in log_text(screen) and "Traceback" not in shown
        assert village.sync.unsent() == 1  # kept for the next sync

    try:
        assert cron.stdout.readline().strip() == "syncing"
        drive(app, scenario, size=SIZE)
    finally:
        cron.stdin.close()
        assert cron.wait(timeout=30) == 0
