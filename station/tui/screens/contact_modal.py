"""Log a contact with the resident about a case: how (phone, visit, message), what was said,
and what came of it. The monthly rule counts a case as contacted once this is saved."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, RadioButton, RadioSet

from station.domain.records import CONTACT_VIAS
from station.store.projection import Record
from station.tui.screens.form_modal import FormModal
from station.tui.text import choice_label
from station.tui.widgets.line_input import LineInput

TEXT = {
    "title": ("记录联系", "Log a contact"),
    "via": ("联系方式", "How"),
    "note": ("联系内容", "What was said or done"),
    "outcome": ("结果（可不填）", "Outcome (optional)"),
    "note_hint": ("例如：电话告知补交户口簿", "e.g. phoned to ask for the household register"),
    "outcome_hint": ("例如：答应周五送来", "e.g. will bring it on Friday"),
}


class ContactModal(FormModal):
    DEFAULT_CSS = """
    ContactModal #contact-via { layout: horizontal; height: auto; width: 100%; }
    """
    TITLE_TEXT = TEXT["title"]

    def body(self) -> ComposeResult:
        yield self.label(TEXT["via"])
        with RadioSet(id="contact-via"):
            for i, via in enumerate(CONTACT_VIAS):
                yield RadioButton(choice_label(via, self.lang), value=i == 0, id=f"via-{via}")
        yield self.label(TEXT["note"])
        yield LineInput(placeholder=self.t(TEXT["note_hint"]), id="contact-note")
        yield self.label(TEXT["outcome"])
        yield LineInput(placeholder=self.t(TEXT["outcome_hint"]), id="contact-outcome")

    def on_mount(self) -> None:
        self.query_one("#contact-note", Input).focus()

    def apply(self) -> Record:
        pressed = self.query_one("#contact-via", RadioSet).pressed_button
        via = (pressed.id or "").removeprefix("via-") if pressed is not None else ""
        return self.station.add_contact(self.record.id, via,
                                        self.query_one("#contact-note", Input).value,
                                        self.query_one("#contact-outcome", Input).value)
