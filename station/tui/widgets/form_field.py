"""One field of a form: its label, the control, and one line under the control that holds
either a hint (muted) or the sentence saying what is wrong with the value (in red): the
validation message sits right next to its field."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Static

LABEL_WIDTH = 20


class FormField(Vertical):
    """``field`` is the record field the control edits (``applicant.id_number``), so a
    ``Problem`` from the store finds its place by name."""

    DEFAULT_CSS = f"""
    FormField {{ height: auto; }}
    FormField > .field--row {{ height: auto; }}
    FormField .field--label {{ width: {LABEL_WIDTH}; padding-right: 1; color: $text-muted; }}
    FormField .field--row > Input, FormField .field--row > Select {{ width: 1fr; }}
    FormField > .field--note {{ color: $text-muted; padding-left: {LABEL_WIDTH}; }}
    FormField.-error > .field--note {{ color: $text-error; }}
    FormField.-error .field--label {{ color: $text-error; text-style: bold; }}
    """

    def __init__(self, field: str, label: str, control: Widget, *, hint: str = "",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.field = field
        self.label = label
        self.control = control
        self.hint = hint
        self.error = ""
        self.note = Static(hint, classes="field--note", markup=False)
        self.note.display = bool(hint)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field--row"):
            yield Label(self.label, classes="field--label")
            yield self.control
        yield self.note

    def _show(self) -> None:
        text = self.error or self.hint
        self.note.update(text)
        self.note.display = bool(text)
        self.set_class(bool(self.error), "-error")
        self.control.set_class(bool(self.error), "-invalid")

    def set_hint(self, text: str) -> None:
        self.hint = text
        self._show()

    def show_error(self, message: str) -> None:
        self.error = message
        self._show()

    def clear_error(self) -> None:
        if self.error:
            self.error = ""
            self._show()
