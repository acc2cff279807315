"""A drop-down list whose footer speaks the app's language.

Textual's open list shows ``esc Dismiss menu`` in the footer, in English, from a binding
of its own overlay. A priority binding on the list itself, live only while it is open,
does the same thing under a label in the agent's language and takes the overlay's place
in the footer; when the list is closed, Esc goes on to the screen (back, cancel) as before.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.widgets import Select

from station.tui.screens.base import localise_bindings

T = TypeVar("T")


class StationSelect(Select[T]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close_list", "Close list", id="close-list", priority=True),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"close-list": "收起列表"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localise_bindings(self, getattr(self.app, "lang", "en"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_list":
            return self.expanded
        return super().check_action(action, parameters)

    def action_close_list(self) -> None:
        self.expanded = False
        self.focus()
