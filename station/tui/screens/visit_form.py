"""The visit form (上门服务): who was visited, why, what was done, when, by whom, what came
of it, when to go again, and which applications it served.

A visit with the actual time filled in is recorded as done (it can then be rated); without
it, as scheduled. Linked applications are picked by receipt number. Typing a resident's ID
number shows who the station already knows under it (through the blind index), and fills
the name, phone and address when they are still empty. Same inline validation, ctrl+s and
draft autosave as the application form.
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Select, SelectionList, Static, TextArea

from station.domain.errors import StationError, TransitionRefused, ValidationError
from station.domain.records import SERVICES, VISIT_REASONS
from station.store.projection import Record
from station.tui.text import choice_label
from station.tui.widgets.form_screen import FormScreen, Issue, is_blank
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.select import StationSelect

TEXT = {
    "new": ("新建上门服务", "New home visit"),
    "edit": ("修改上门服务 {receipt}", "Edit home visit {receipt}"),
    "resident": ("服务对象", "Resident"),
    "visit": ("上门服务", "The visit"),
    "follow": ("结果与后续", "Result and follow-up"),
    "reason": ("上门原因", "Reason"),
    "reason_prompt": ("选择原因", "Choose a reason"),
    "services": ("服务内容", "Services done"),
    "services_hint": ("空格键勾选，可多选", "Space ticks; choose any number"),
    "scheduled_at": ("预约时间", "Scheduled"),
    "actual_at": ("实际上门时间", "Visited at"),
    "time_hint": ("如 2026-11-23 14:30；填写实际时间即记为“已上门”",
                  "e.g. 2026-11-23 14:30; with the actual time it is recorded as done"),
    "staff": ("上门人员", "Staff"),
    "result": ("服务结果", "Result"),
    "next_visit": ("下次上门", "Next visit"),
    "date_hint": ("年-月-日，如 2026-12-23", "Year-month-day, e.g. 2026-12-23"),
    "linked": ("关联代办件", "Linked applications"),
    "linked_hint": ("填受理编号，多个用空格或逗号分开", "Receipt numbers, separated by spaces "
                    "or commas"),
}


class VisitFormScreen(FormScreen):
    """Record a home visit, or edit one (``record_id``)."""

    KIND = "visit"
    PERSON = "resident"
    CSS_PATH = "visit_form.tcss"
    BINDING_ZH: ClassVar[dict[str, str]] = dict(FormScreen.BINDING_ZH)

    def __init__(self, record_id: str | None = None, *, id_number: str = "") -> None:
        """``id_number``: a new visit to this resident (from their page), whom the form
        then fills in from the station's records."""
        super().__init__(record_id)
        self.id_number = id_number

    @property
    def editing(self) -> bool:
        return self.record is not None

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        t = self.t
        fields = (self.record.fields if self.record is not None
                  else {"resident.id_number": self.id_number})
        yield Header()
        with VerticalScroll(id="form"):
            yield self.general
            yield Static(t(TEXT["resident"]), classes="section")
            yield from self.person_fields(fields)
            yield Static(t(TEXT["visit"]), classes="section")
            reason = fields.get("reason")
            self.reason: Select[str] = StationSelect(
                [(choice_label(c, self.lang), c) for c in VISIT_REASONS], compact=True,
                prompt=t(TEXT["reason_prompt"]), id="f-reason",
                value=reason if reason in VISIT_REASONS else Select.NULL)
            yield self.field("reason", t(TEXT["reason"]), self.reason)
            done = set(fields.get("services") or [])
            self.services: SelectionList[str] = SelectionList(
                *[(choice_label(c, self.lang), c, c in done) for c in SERVICES],
                id="f-services")
            yield self.field("services", t(TEXT["services"]), self.services,
                             hint=t(TEXT["services_hint"]))
            for key in ("scheduled_at", "actual_at"):
                box = self.inputs[key] = LineInput(
                    str(fields.get(key) or "").replace("T", " "), compact=True, id=f"f-{key}",
                    placeholder="YYYY-MM-DD HH:MM")
                yield self.field(key, t(TEXT[key]), box,
                                 hint=t(TEXT["time_hint"]) if key == "actual_at" else "")
            box = self.inputs["staff"] = LineInput(
                str(fields.get("staff") or self.station.agent), compact=True, id="f-staff")
            yield self.field("staff", t(TEXT["staff"]), box)
            yield Static(t(TEXT["follow"]), classes="section")
            self.result = TextArea(str(fields.get("result") or ""), id="f-result",
                                   compact=True, tab_behavior="focus", soft_wrap=True,
                                   show_line_numbers=False)
            yield self.field("result", t(TEXT["result"]), self.result)
            box = self.inputs["next_visit"] = LineInput(
                str(fields.get("next_visit") or ""), compact=True, id="f-next_visit",
                placeholder="YYYY-MM-DD")
            yield self.field("next_visit", t(TEXT["next_visit"]), box,
                             hint=t(TEXT["date_hint"]))
            self.linked = LineInput(" ".join(self._receipts(fields.get("linked") or [])),
                                    compact=True, id="f-linked")
            yield self.field("linked", t(TEXT["linked"]), self.linked,
                             hint=t(TEXT["linked_hint"]))
        yield Footer()

    def on_mount(self) -> None:  # FormScreen.on_mount runs too (Textual walks the MRO)
        if self.record is not None:
            self.sub_title = self.t(TEXT["edit"]).format(receipt=self.record.receipt or "")
        else:
            self.sub_title = self.t(TEXT["new"])

    def _receipts(self, ids: list[str]) -> list[str]:
        out = []
        for record_id in ids:
            try:
                out.append(self.station.get(record_id).receipt or record_id)
            except StationError:
                out.append(record_id)
        return out

    # --- form values -----------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: box.value for name, box in self.inputs.items()}
        out["reason"] = None if self.reason.value is Select.NULL else str(self.reason.value)
        out["services"] = sorted(str(v) for v in self.services.selected)
        out["result"] = self.result.text
        return out

    def snapshot(self) -> dict[str, Any]:
        values = self.values()
        values["linked"] = self.linked.value
        return values

    def restore(self, values: dict[str, Any]) -> None:
        for name, box in self.inputs.items():
            if name in values:
                box.value = str(values.get(name) or "")
        reason = values.get("reason")
        self.reason.value = reason if reason in VISIT_REASONS else Select.NULL
        self.services.deselect_all()
        for code in values.get("services") or []:
            if code in SERVICES:
                self.services.select(code)
        self.result.text = str(values.get("result") or "")
        self.linked.value = str(values.get("linked") or "")

    def draft_who(self, values: dict[str, Any]) -> str:
        return str(values.get("resident.name") or "")

    def own_problems(self, values: dict[str, Any]) -> list[Issue]:
        return self.required(values, "resident.name", ("服务对象姓名", "The resident's name"))

    # --- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        self.clear_problems()
        values = self.values()
        values["linked"] = self.linked.value  # receipt numbers: the store finds their records
        problems = self.own_problems(values)
        done = bool(str(values.get("actual_at") or "").strip())
        try:
            if self.record is None:
                prepared = self.station.prepare("visit", values,
                                                status="done" if done else None)
                if problems:
                    raise ValidationError([])
                record = self.station.commit_new(prepared)
            else:
                if problems:
                    raise ValidationError([])
                found = self._update(values, done)
                if found is None:
                    return
                record = found
        except ValidationError as exc:
            self.show_problems(problems + exc.problems)
            return
        except (StationError, sqlite3.Error) as exc:
            self.failed(exc)
            return
        self.finish(record)

    def _update(self, values: dict[str, Any], done: bool) -> Record | None:
        assert self.record is not None
        current = self.station.get(self.record.id)
        changes = {k: v for k, v in values.items()
                   if not (is_blank(v) and is_blank(current.fields.get(k)))}
        record: Record = current
        try:
            record = self.station.update(current.id, changes)
            changed = True
        except ValidationError as exc:
            if not all(p.field == "record" for p in exc.problems):
                raise
            changed = False
        if done and current.status.get("to") == "scheduled":
            try:
                record = self.station.change_status(current.id, "done")
            except TransitionRefused as exc:
                self.failed(exc)
                return None
            changed = True
        if not changed:
            self.finish(current, saved=False)
            return None
        return record
