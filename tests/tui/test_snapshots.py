"""What each screen looks like at 80×24, in Chinese and English (pytest-textual-snapshot).

The forms, the reports and the sync screen have theirs next to their Pilot tests; these
are the rest. The village is pinned in time and its sample data is seeded, so a changed
picture means the screen changed: look at it (``pytest --snapshot-report``) before
updating it with ``--snapshot-update``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from textual.widgets import Input

from station.store import service
from station.tui.screens import make_record, make_resident
from station.tui.screens.conflicts import ConflictsScreen
from station.tui.screens.notice import NoticeScreen
from tests.tui.conftest import make_app, settle
from tests.tui.test_conflicts import conflicting

SIZE = (80, 24)
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


def still(app: Any) -> None:
    """No blinking cursor and no toasts that time out: the picture is the screen."""
    for box in app.screen.query(Input):
        box.cursor_blink = False
    app.clear_notifications()


def opening(push: Any) -> Any:
    """A ``run_before`` that opens a screen (``push(app)``) and waits for it to fill."""

    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        push(pilot.app)
        # twice: on a loaded machine the screen's read may start only after the first
        # wait found no worker running, and the picture showed the table still empty
        await settle(pilot, pilot.app)
        await settle(pilot, pilot.app)
        still(pilot.app)
        await pilot.pause()

    return run_before


def an_application_with_missing_materials(station: Any) -> str:
    return next(s.id for s in station.list(kind="application")
                if s.status == "awaiting_materials")


@LANGS
def test_unlock(village, snap_compare, lang):
    """Before the passphrase: nothing of the village is on screen."""
    app = make_app(None, lang=lang, home=village.home)

    async def typed(pilot: Any) -> None:
        await settle(pilot, app)
        still(app)

    assert snap_compare(app, terminal_size=SIZE, run_before=typed)


@LANGS
def test_dashboard(village, snap_compare, lang):
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: None))


@LANGS
def test_applications_list(village, snap_compare, lang):
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.action_go("applications")))


@LANGS
def test_visit_form(village, snap_compare, lang):
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.action_go("new_visit")))


@LANGS
def test_one_time_notice(village, snap_compare, lang):
    record = an_application_with_missing_materials(village)
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.push_screen(NoticeScreen(record))))


@LANGS
def test_record_with_its_history(village, snap_compare, lang):
    record = an_application_with_missing_materials(village)
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.push_screen(make_record(record))))


@LANGS
def test_resident_page(village, snap_compare, lang):
    record = village.get(an_application_with_missing_materials(village))
    person = record.fields["applicant.id_number"]
    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.push_screen(make_resident(person))))


class _PinnedDevices:
    """``os`` for the store, except that a new device's random suffix is always 000102:
    the conflicts screen shows which device each value came from."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def urandom(n: int) -> bytes:
        return bytes(range(n)) if n == 3 else os.urandom(n)


@pytest.fixture
def pinned_pair(tmp_path, monkeypatch):
    monkeypatch.setattr(service, "os", _PinnedDevices())
    village, bus, _ = conflicting(tmp_path)
    yield village
    bus.close()
    village.close()


@LANGS
def test_conflicts_side_by_side(pinned_pair, snap_compare, lang):
    assert snap_compare(make_app(pinned_pair, lang=lang), terminal_size=SIZE,
                        run_before=opening(lambda app: app.push_screen(ConflictsScreen())))
