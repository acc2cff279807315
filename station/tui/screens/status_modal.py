"""Change a record's status: only the moves its lattice allows from here are offered.

The casework rules (materials, who decides the matter) are the store's: a move they refuse
is answered with the store's sentence, inside the modal, and nothing is written. Voiding
always asks for a reason; reopening and returning ask for one too (it goes in the status).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from station.domain.status import LATTICES, VOID
from station.store.projection import Record
from station.tui.screens.form_modal import FormModal
from station.tui.text import status_label
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.prose import Prose

TEXT = {
    "title": ("变更状态", "Change status"),
    "now": ("当前状态：{status}", "Now: {status}"),
    "to": ("改为", "Move to"),
    "reason": ("原因", "Reason"),
    "reason_hint": ("作废必须写明原因；其他变更可不填", "Needed to void; optional otherwise"),
    "ask_reason": ("请写明“{to}”的原因，然后按回车", "Say why (“{to}”), then press Enter"),
    "none": ("这条记录的状态不能再变更", "This record's status cannot change any more"),
}

ASKS_REASON = (VOID, "reopened", "returned")


def allowed_moves(record: Record) -> list[str]:
    """What the lattice allows from the record's status (casework rules are the store's)."""
    lattice = LATTICES[record.kind]
    frm = record.status["to"]
    if frm == VOID:
        return []
    moves = list(lattice.moves.get(frm, ()))
    if frm in lattice.reopen_from:
        moves.append("reopened")
    moves.append(VOID)
    return moves


class StatusModal(FormModal):
    TITLE_TEXT = TEXT["title"]

    def body(self) -> ComposeResult:
        kind = self.record.kind
        yield Prose(self.t(TEXT["now"]).format(
            status=status_label(kind, self.record.status["to"], self.lang)), id="form-note")
        moves = allowed_moves(self.record)
        yield self.label(TEXT["to"] if moves else TEXT["none"])
        yield OptionList(*[Option(status_label(kind, m, self.lang), id=m) for m in moves],
                         id="status-moves")
        yield self.label(TEXT["reason"])
        yield LineInput(placeholder=self.t(TEXT["reason_hint"]), id="status-reason")

    def on_mount(self) -> None:
        moves = self.query_one("#status-moves", OptionList)
        if moves.option_count:
            moves.highlighted = 0
        moves.focus()

    def target(self) -> str | None:
        moves = self.query_one("#status-moves", OptionList)
        if moves.highlighted is None:
            return None
        return moves.get_option_at_index(moves.highlighted).id

    @on(OptionList.OptionSelected, "#status-moves")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        to = event.option.id
        reason = self.query_one("#status-reason", Input)
        if to in ASKS_REASON and not reason.value.strip():
            self.say(self.t(TEXT["ask_reason"]).format(
                to=status_label(self.record.kind, str(to), self.lang)))
            reason.focus()
            return
        self.action_save()

    def apply(self) -> Record:
        to = self.target()
        assert to is not None
        reason = self.query_one("#status-reason", Input).value
        return self.station.change_status(self.record.id, to, reason=reason)

    def action_save(self) -> None:
        if self.target() is None:
            self.dismiss(None)
            return
        super().action_save()
