"""TUI fixtures: a small village station at a pinned time, and the app built the way the
CLI builds it. Pilot scenarios are async functions run with ``drive`` (no plugin needed);
snapshots use pytest-textual-snapshot's ``snap_compare`` on ``make_app``'s app."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from station.domain import sample
from station.store.importer import import_file
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.tui.app import StationApp
from tests.conftest import PASSPHRASE, FakeNow

TODAY = dt.date(2026, 11, 23)


def fill(station: Station, *, residents: int = 40, applications: int = 12,
         visits: int = 6, seed: int = 3) -> None:
    """Deterministic sample data through the importer, as a new user's would be."""
    people = list(sample.residents(residents, seed=seed, today=TODAY))
    rows = [*people,
            *sample.applications(applications, catalogue=station.catalogue, seed=seed,
                                 today=TODAY, people=people),
            *sample.visits(visits, seed=seed, today=TODAY, people=people)]
    path = station.home / "sample.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    import_file(station, path, skip_bad=True)
    path.unlink()


@pytest.fixture(autouse=True)
def _quiet_textual(monkeypatch):
    """No cursor blink, no animations: snapshots and timings stay stable."""
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture
def village(tmp_path: Path):
    station, _ = Station.init(tmp_path / "V001", station_id="V001", name="青石村便民服务站",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF,
                              now=FakeNow())
    fill(station)
    yield station
    station.close()


def make_app(station: Station | None, *, lang: str = "en", home: Path | None = None
             ) -> StationApp:
    return StationApp(home or station.home, lang=lang, station=station)  # type: ignore[union-attr]


def drive(app: StationApp, scenario: Callable[[Any], Awaitable[None]], *,
          size: tuple[int, int] = (100, 32)) -> None:
    """Run ``scenario(pilot)`` against ``app`` headless."""

    async def run() -> None:
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(run())


async def settle(pilot: Any, app: StationApp) -> None:
    """Wait for the screen's workers (searches, loads) to finish."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def toasts(app: StationApp) -> list[str]:
    """The notifications the app is showing, newest last (Textual keeps them privately)."""
    return [n.message for n in app._notifications]


def footer_text(app: StationApp) -> str:
    """What the current screen's footer says, key by key."""
    return "  ".join(str(key.render()).strip() for key in app.screen.query("FooterKey"))


def footer_cut(app: StationApp) -> list[str]:
    """The footer keys that do not fit on the screen: cut off, pushed past its edge, or
    under another key (the palette's key is docked on the right, over any that reach it)."""
    width = app.size.width
    keys = list(app.screen.query("FooterKey"))
    return [str(key.render()).strip() for i, key in enumerate(keys)
            if key.region.width == 0 or key.region.right > width
            or key.content_region.width < key.get_content_width(app.size, app.size)
            or any(key.region.overlaps(other.region) for other in keys[i + 1:])]


def lines_of(widget: Any) -> list[str]:
    """What a widget shows, line by line as drawn on the screen, without trailing blanks."""
    return ["".join(seg.text for seg in widget.render_line(y)).rstrip()
            for y in range(widget.size.height)]
