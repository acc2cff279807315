"""A small modal form that does one thing to a record and stays open when the store refuses.

Subclasses compose their fields inside ``body()`` and implement ``apply()``, which calls the
store and returns the saved record. A refusal (``StationError``) is shown inside the modal,
in the agent's language, so they can correct it; success dismisses with the record.
Leaving one (Esc, or Ctrl+Q through ``leave``) with something typed in it asks first: these
boxes keep no draft, unlike the full forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import (
    Checkbox,
    Footer,
    Input,
    Label,
    RadioButton,
    Select,
    SelectionList,
    Static,
)

from station.domain.errors import StationError
from station.store.projection import Record
from station.tui.screens.base import StationModal
from station.tui.text import UI, Pair
from station.tui.widgets.ask import AskModal
from station.tui.widgets.prose import Prose

INTERNAL: Pair = ("内部错误，未保存：{e}", "Internal error, nothing saved: {e}")
TEXT: dict[str, Pair] = {
    "leave_title": ("放弃已输入的内容？", "Discard what you typed?"),
    "leave_body": ("这个框里输入的内容还没有保存，关闭后不能找回。",
                   "What you typed in this box is not saved yet and will be lost."),
    "discard": ("放弃", "Discard"),
    "keep": ("继续编辑", "Keep editing"),
}


class Refused(StationError):
    """A refusal the modal makes itself, before asking the store (nothing chosen, a
    required date cleared): shown in the modal like the store's own refusals."""

    code = "tui.refused"
    zh = "{zh}"
    en = "{en}"

    def __init__(self, pair: Pair) -> None:
        super().__init__(zh=pair[0], en=pair[1])


NOT_AN_ENTRY = object()


def entry_of(widget: Widget) -> object:
    """What a field of a form holds, comparable with what it held before (spaces around
    typed text do not count); ``NOT_AN_ENTRY`` for a widget that holds nothing."""
    if isinstance(widget, Input):
        return widget.value.strip()
    if isinstance(widget, Checkbox | RadioButton | Select):
        return widget.value
    if isinstance(widget, SelectionList):
        return frozenset(widget.selected)
    return NOT_AN_ENTRY


class FormModal(StationModal[Record | None]):
    """Ctrl+S saves, Esc cancels; Enter in the last input saves too."""

    DEFAULT_CSS = """
    FormModal { align: center middle; }
    FormModal > #form-box {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    FormModal #form-title { text-style: bold; width: 100%; }
    FormModal #form-note { color: $text-muted; width: 100%; }
    FormModal .form-label { margin-top: 1; }
    FormModal #form-error { color: $error; width: 100%; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+s", "save", "Save", id="save"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"cancel": "取消", "save": "保存"}

    TITLE_TEXT: ClassVar[Pair] = ("", "")

    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record
        self._opened: dict[Widget, object] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Label(self.title_text(), id="form-title")
            yield from self.body()
            yield Prose("", id="form-error")
        yield Footer()

    def on_mount(self) -> None:
        """What the boxes held when the modal opened (Textual runs this next to a
        subclass's own ``on_mount``), so ``typed`` can tell what the agent added."""
        self._opened = self.entered()

    def entered(self) -> dict[Widget, object]:
        """What each field holds now: text typed, a grade or a way of contact chosen, a
        material ticked. A choice is work as much as typing is (a grade picked and then
        Esc would lose it without a word)."""
        return {widget: value for widget in self.query("*")
                if (value := entry_of(widget)) is not NOT_AN_ENTRY}

    def title_text(self) -> str:
        return f"{self.t(self.TITLE_TEXT)} · {self.record.receipt or self.record.id[:8]}"

    def body(self) -> ComposeResult:
        yield from ()

    def label(self, pair: Pair) -> Label:
        return Label(self.t(pair), classes="form-label")

    def apply(self) -> Record:
        raise NotImplementedError

    def unchanged(self) -> bool:
        """Whether saving now would change nothing. The store refuses such a save with a
        sentence about the change it needs; the agent only pressed save on what they saw,
        so the modal closes saying nothing changed. Modals that always add (a contact, a
        rating) never are."""
        return False

    def say(self, text: str) -> None:
        self.query_one("#form-error", Static).update(Text(text))

    def typed(self) -> bool:
        """Whether closing now would lose something the agent typed or chose."""
        return self.entered() != self._opened

    def leave(self, then: Callable[[], None]) -> None:
        """Run ``then`` (close the modal, quit the app), asking first if it would lose
        what was typed; "keep editing" (or Esc) goes back to the box as it was."""
        if not self.typed():
            then()
            return

        def answered(answer: str | None) -> None:
            if answer == "discard":
                then()

        self.app.push_screen(AskModal(
            self.t(TEXT["leave_title"]), self.t(TEXT["leave_body"]),
            [("discard", self.t(TEXT["discard"])), ("keep", self.t(TEXT["keep"]))]), answered)

    def action_cancel(self) -> None:
        self.leave(lambda: self.dismiss(None))

    def action_save(self) -> None:
        if self.unchanged():
            self.notify(self.t(UI["nothing"]), timeout=3)
            self.dismiss(None)
            return
        try:
            saved = self.apply()
        except StationError as exc:
            self.say(exc.message(self.lang))
            return
        except Exception as exc:  # never a traceback: say it, keep the form open
            self.log.error(repr(exc))
            self.say(self.t(INTERNAL).format(e=f"{type(exc).__name__}: {exc}"))
            return
        self.dismiss(saved)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input).results())
        shown = [i for i in inputs if i.display]
        if shown and event.input is not shown[-1]:
            self.focus_next()
        else:
            self.action_save()
