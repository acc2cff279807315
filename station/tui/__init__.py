"""The Textual app. ``run_app`` is all the CLI needs; Textual is imported only here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from station.store.service import Station


def run_app(home: Path, *, lang: str = "zh", station: Station | None = None,
            on_exit: Callable[[], None] | None = None, centre_url: str | None = None) -> None:
    from station.tui.app import StationApp

    StationApp(home, lang=lang, station=station, on_exit=on_exit, centre_url=centre_url).run()
