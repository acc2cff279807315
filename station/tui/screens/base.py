"""What every station screen has: the typed app, its language, the unlocked station, and a
reader connection for background queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.screen import ModalScreen, Screen

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

    @contextmanager
    def reading(self) -> Iterator[Station]:
        """The station's reader connection, for queries in a worker thread."""
        with self.sapp.reading() as reader:
            yield reader


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
