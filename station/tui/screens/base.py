"""What every station screen has: the typed app, its language, the unlocked station, and a
reader connection for background queries; and the screens that show what they read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual import work
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable

from station.domain.errors import StationError
from station.store.service import Station
from station.tui.text import Pair

if TYPE_CHECKING:
    from station.tui.app import StationApp

R = TypeVar("R")


class Base:
    """Mixed into screens and modals."""

    app: Any

    @property
    def sapp(self) -> StationApp:
        return cast("StationApp", self.app)

    def t(self, pair: Pair) -> str:
        return self.sapp.t(pair)

    @property
    def lang(self) -> str:
        return self.sapp.lang

    @property
    def station(self) -> Station:
        """The unlocked station (screens past the unlock screen only)."""
        assert self.sapp.station is not None
        return self.sapp.station

    def reread(self) -> None:
        """Read again what is shown: a merge in the background (what a cron sync kept)
        brought records while this screen was open. Screens that show nothing read from
        the station have nothing to do."""

    @contextmanager
    def reading(self) -> Iterator[Station]:
        """The station's reader connection, for queries in a worker thread."""
        with self.sapp.reading() as reader:
            yield reader

    def add_columns(self, table: DataTable[Any], columns: Iterable[tuple[str, Pair]]) -> None:
        """Columns keyed ``key``, headed in the app's language."""
        for key, pair in columns:
            table.add_column(self.t(pair), key=key)


def localise_bindings(node: Any, lang: str) -> None:
    """Footer labels in the app's language: a screen's ``BINDING_ZH`` maps binding ids to
    Chinese (the English is the binding's own description)."""
    names: dict[str, str] = getattr(node, "BINDING_ZH", {}) if lang == "zh" else {}
    if not names:
        return
    for key, bindings in node._bindings.key_to_bindings.items():
        node._bindings.key_to_bindings[key] = [
            replace(b, description=names[b.id]) if b.id in names else b for b in bindings]


class StationScreen(Base, Screen[R]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localise_bindings(self, self.sapp.lang)


class StationModal(Base, ModalScreen[R]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localise_bindings(self, self.sapp.lang)


class ReadingScreen(StationScreen[R]):
    """A screen that shows what it reads from the station. It reads again, in a worker on
    the reader connection, on every return to it (the first push, a closed modal, a page
    above popped) and on F5, so what was done elsewhere shows here. Subclasses say what to
    ``read`` and how to ``show`` it."""

    def on_screen_resume(self) -> None:
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def reread(self) -> None:
        self.load()

    def read(self, reader: Station) -> tuple[Any, ...]:
        """In the worker: everything ``show`` needs, as its arguments."""
        raise NotImplementedError

    def show(self, *found: Any) -> None:
        raise NotImplementedError

    def failed(self, error: StationError) -> None:
        """Reading refused (a record gone, a damaged one): say so in the app's language."""
        self.sapp.say_error(error)

    @work(thread=True, exclusive=True, group="read", exit_on_error=False)
    def load(self) -> None:
        try:
            with self.reading() as reader:
                found = self.read(reader)
        except StationError as exc:
            self.app.call_from_thread(self.failed, exc)
            return
        self.app.call_from_thread(self._show, found)

    def _show(self, found: tuple[Any, ...]) -> None:
        if self.is_attached:  # not closed while the worker was reading
            self.show(*found)
