"""Textual's command palette, with the one sentence of its own it shows in the app's
language: a search that finds nothing said "No matches found" in English in the Chinese app.
"""

from __future__ import annotations

from typing import Any

from rich.align import Align
from rich.text import Text
from textual.command import CommandList, CommandPalette
from textual.widgets.option_list import Option


class StationPalette(CommandPalette):
    """``CommandPalette`` saying ``no_matches`` when a search finds nothing."""

    def __init__(self, *, no_matches: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.no_matches = no_matches

    def _start_no_matches_countdown(self, search_value: str) -> None:
        """As Textual's (``textual.command``, 8.x), whose sentence is fixed in English:
        after a short wait with no hit, one disabled line says nothing was found; in
        discovery (nothing typed) the list just closes."""
        self._stop_no_matches_countdown()

        def show_no_matches() -> None:
            if not search_value:
                self._list_visible = False
                return
            self.query_one(CommandList).add_option(Option(
                Align.center(Text(self.no_matches, style="not bold")), disabled=True,
                id=self._NO_MATCHES))
            self._list_visible = True

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, show_no_matches)
