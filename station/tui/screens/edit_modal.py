"""Small edits from the record screen: a common field (phone, address, a promised date…),
and which materials have come in. The full form is another screen; these cover what
changes most after a case is received. Moving a promised date needs a reason (the store
keeps it in the record's notes); a value the store refuses is answered with its sentence."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Label, Select, SelectionList

from station.domain.catalogue import Matter
from station.domain.followup import touches_promise
from station.domain.records import PERSON_PREFIX
from station.store.projection import Record
from station.tui.screens.form_modal import FormModal, Refused
from station.tui.screens.values import label as field_name_label
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.prose import Prose
from station.tui.widgets.select import StationSelect

TEXT = {
    "title": ("修改", "Edit"),
    "field": ("要修改的项目", "Field"),
    "value": ("新的值", "New value"),
    "reason": ("修改承诺日期的原因", "Why the promised date moves"),
    "date_hint": ("日期，如 2026-12-01", "A date, e.g. 2026-12-01"),
    "due": ("“{m}”的容缺承诺日期", "Promised date for “{m}”"),
    "materials": ("已收材料", "Materials received"),
    "materials_note": ("空格键勾选收到的材料；未收的非必要材料须有容缺承诺日期",
                       "Space ticks what came in; a missing optional material needs a "
                       "promised date"),
    "essential": ("（必要）", " (essential)"),
    "due_on": ("，承诺 {d}", ", due {d}"),
    "need_date": ("请填写新的日期（承诺日期不能清空）",
                  "Enter the new date (a promised date cannot be cleared)"),
    "need_name": ("请填写姓名（姓名不能清空）", "Enter the name (a name cannot be cleared)"),
}


def editable(record: Record, matter: Matter | None) -> list[str]:
    """The fields the small edit offers for this record. The person's name and ID number
    come last: they rarely change, but a typo made at intake must be correctable in the
    app (the full forms are for receiving, not reachable from a saved record)."""
    person = PERSON_PREFIX[record.kind]
    return [*_common(record, matter, person), f"{person}.name", f"{person}.id_number"]


def _common(record: Record, matter: Matter | None, person: str) -> list[str]:
    """What changes most after a case is received."""
    names = [f"{person}.phone", f"{person}.address", f"{person}.village_group"]
    if record.kind == "application":
        names.append("promised_date")
        if matter is not None:
            received = set(record.fields.get("materials.received") or [])
            names += [f"materials.due.{m.code}" for m in matter.materials
                      if not m.essential and m.code not in received]
    elif record.kind == "visit":
        names = [*names[:2], "scheduled_at", "next_visit", "result"]
    return names


def matter_of(record: Record, catalogue: Any) -> Matter | None:
    code = record.fields.get("matter")
    return catalogue.get(code) if record.kind == "application" and code in catalogue else None


class EditFieldModal(FormModal):
    TITLE_TEXT = TEXT["title"]

    def __init__(self, record: Record, field: str | None = None) -> None:
        super().__init__(record)
        self.matter = matter_of(record, self.station.catalogue)
        self.names = editable(record, self.matter)
        self.first = field if field in self.names else self.names[0]

    def field_text(self, name: str) -> str:
        if name.startswith("materials.due.") and self.matter is not None:
            material = self.matter.material(name.rsplit(".", 1)[1])
            return self.t(TEXT["due"]).format(m=material.name(self.lang))
        return field_name_label(self.record.kind, name, self.lang)

    def body(self) -> ComposeResult:
        yield self.label(TEXT["field"])
        yield StationSelect([(self.field_text(n), n) for n in self.names], value=self.first,
                            allow_blank=False, id="edit-field", compact=True)
        yield self.label(TEXT["value"])
        yield LineInput(self.current(self.first), id="edit-value")
        yield Label(self.t(TEXT["reason"]), classes="form-label", id="edit-reason-label")
        yield LineInput(id="edit-reason")

    def on_mount(self) -> None:
        self.show_reason(self.first)
        self.query_one("#edit-value", Input).focus()

    def current(self, name: str) -> str:
        value = self.record.fields.get(name)
        return "" if value is None else str(value).replace("T", " ")

    def chosen(self) -> str:
        value = self.query_one("#edit-field", Select).value
        return self.first if value is Select.NULL else str(value)

    def show_reason(self, name: str) -> None:
        promise = touches_promise([name])
        self.query_one("#edit-reason-label").display = promise
        self.query_one("#edit-reason").display = promise
        self.query_one("#edit-value", Input).placeholder = (
            self.t(TEXT["date_hint"]) if promise or name == "next_visit" else "")

    @on(Select.Changed, "#edit-field")
    def field_changed(self, event: Select.Changed) -> None:
        event.stop()
        name = self.chosen()
        self.query_one("#edit-value", Input).value = self.current(name)
        self.show_reason(name)
        self.say("")

    def unchanged(self) -> bool:
        name = self.chosen()
        return self.query_one("#edit-value", Input).value.strip() == self.current(name).strip()

    def typed(self) -> bool:
        # The value box is refilled whenever another field is chosen: what counts is a
        # value that differs from the record's, or a reason.
        return not self.unchanged() or bool(self.query_one("#edit-reason", Input).value.strip())

    def apply(self) -> Record:
        name = self.chosen()
        value = self.query_one("#edit-value", Input).value
        promise = touches_promise([name])
        if promise and not value.strip() and self.record.fields.get(name):
            raise Refused(TEXT["need_date"])
        if name == f"{PERSON_PREFIX[self.record.kind]}.name" and not value.strip():
            raise Refused(TEXT["need_name"])  # the forms insist on it too
        reason = self.query_one("#edit-reason", Input).value if promise else ""
        return self.station.update(self.record.id, {name: value}, reason=reason)


class MaterialsModal(FormModal):
    TITLE_TEXT = TEXT["materials"]
    DEFAULT_CSS = """
    MaterialsModal #materials-list { height: auto; max-height: 12; }
    """

    def body(self) -> ComposeResult:
        matter = matter_of(self.record, self.station.catalogue)
        received = set(self.record.fields.get("materials.received") or [])
        yield Prose(self.t(TEXT["materials_note"]), id="form-note")
        options: list[tuple[str, str, bool]] = []
        for m in matter.materials if matter is not None else ():
            text = m.name(self.lang) + (self.t(TEXT["essential"]) if m.essential else "")
            due = self.record.fields.get(f"materials.due.{m.code}")
            if due and m.code not in received:
                text += self.t(TEXT["due_on"]).format(d=due)
            options.append((text, m.code, m.code in received))
        yield SelectionList[str](*options, id="materials-list")

    def on_mount(self) -> None:
        self.query_one("#materials-list", SelectionList).focus()

    def unchanged(self) -> bool:
        received = set(self.record.fields.get("materials.received") or [])
        return set(self.query_one("#materials-list", SelectionList).selected) == received

    def apply(self) -> Record:
        chosen = list(self.query_one("#materials-list", SelectionList).selected)
        return self.station.update(self.record.id, {"materials.received": chosen})
