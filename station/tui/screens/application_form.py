"""The application form (代办件): matter, materials, applicant, authorisation, promised date.

Choose the matter by typing part of its code or name; its materials checklist follows, with
the essential ones marked. An optional material not ticked is accepted as missing (容缺受理)
against the date the resident promises to bring it (10 working days from today unless the
agent types another). The promised completion date is the matter's legal time limit counted
in working days (the official calendar, make-up weekends included) and may be changed.

Saving (ctrl+s) validates everything at once and shows each problem under its field. With an
essential material missing the case cannot be received: the form says why next to the
checklist and offers to keep it as a draft record (f2 does that directly). With optional
materials missing, the one-time notice (一次告知) comes up after saving.

``ApplicationFormScreen(record_id=...)`` edits an existing application's applicant,
materials, authorisation and dates (the matter stays); moving a promised date needs a reason.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import AwaitMount, Widget
from textual.widgets import Checkbox, Footer, Header, Select, Static

from station.domain.casework import due_problems, missing_materials
from station.domain.catalogue import Matter
from station.domain.errors import StationError, TransitionRefused, ValidationError
from station.domain.followup import PromiseNeedsReason
from station.domain.records import CHANNELS, RELATIONSHIPS
from station.domain.validate import Problem
from station.domain.workdays import ESTIMATE
from station.store.projection import Record
from station.tui.text import UI, choice_label
from station.tui.widgets.ask import AskModal
from station.tui.widgets.form_screen import FormScreen, Issue, is_blank
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.materials import MaterialsChecklist
from station.tui.widgets.matter_picker import MatterPicker
from station.tui.widgets.select import StationSelect

DEFAULT_PROMISE_DAYS = 10  # working days a resident gets to bring a missing material


TEXT = {
    "new": ("新建代办件", "New application"),
    "edit": ("修改代办件 {receipt}", "Edit application {receipt}"),
    "matter": ("事项", "Matter"),
    "materials": ("材料", "Materials"),
    "applicant": ("申请人", "Applicant"),
    "authorisation": ("委托与渠道", "Authorisation and channel"),
    "promise": ("承诺办结时限", "Promised completion"),
    "relationship": ("与申请人关系", "Relationship"),
    "relationship_prompt": ("受托人是申请人的……", "The proxy is the applicant's…"),
    "signed": ("已签委托书", "Signed"),
    "signed_label": ("委托书已签字", "Authorisation form signed"),
    "channel": ("受理渠道", "Channel"),
    "promised_date": ("承诺办结日期", "Promised date"),
    "computed": ("按法定时限 {n} 个工作日，自 {start} 起算：{date}{approx}",
                 "Legal limit {n} working days from {start}: {date}{approx}"),
    "at_once": ("即办件，当日办结：{date}", "Done at once, the same day: {date}"),
    "approx": ESTIMATE,
    "pick_matter": ("选定事项后自动计算", "Computed once a matter is chosen"),
    "reason": ("修改原因", "Reason"),
    "reason_hint": ("修改承诺日期（办结或容缺补齐）时必填，记入备注",
                    "Needed when a promised date moves; it goes into the notes"),
    "id_hint": ("18 位，末位可为 X", "18 characters, the last may be X"),
    "date_hint": ("年-月-日，如 2026-12-14", "Year-month-day, e.g. 2026-12-14"),
    "refused_title": ("必要材料未收齐，不能受理", "An essential material is missing"),
    "refused_body": ("{why}\n\n可以先存为草稿：记录在案，材料收齐后再受理。",
                     "{why}\n\nYou can keep it as a draft record now and receive it once the "
                     "materials are in."),
    "as_draft": ("存为草稿", "Save as draft"),
    "keep_editing": ("继续填写", "Keep editing"),
    "still_draft": ("已保存；仍缺必要材料，保持草稿状态。",
                    "Saved; an essential material is still missing, so it stays a draft."),
    "fixed": ("事项已定，不能更改（如需更换，请作废后重新受理）。",
              "The matter cannot change (void the case and receive it again instead)."),
}


class ApplicationFormScreen(FormScreen):
    """Receive a new application, or edit one (``record_id``)."""

    KIND = "application"
    PERSON = "applicant"
    CSS_PATH = "application_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        *FormScreen.BINDINGS,
        Binding("f2", "save_draft_record", "Save as draft", id="save-draft",
                tooltip="Keep the application as a draft record (materials still missing)"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {**FormScreen.BINDING_ZH, "save-draft": "存为草稿"}

    def __init__(self, record_id: str | None = None) -> None:
        super().__init__(record_id)
        self.matter: Matter | None = None
        self.computed_promise: str = ""
        self.picker = MatterPicker(self.station.catalogue, self.lang, fixed=self.editing,
                                   id="matter-picker")
        self.checklist = MaterialsChecklist(self.lang, id="materials")

    @property
    def editing(self) -> bool:
        return self.record is not None

    # --- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        t = self.t
        fields = self.record.fields if self.record is not None else {}
        yield Header()
        with VerticalScroll(id="form"):
            yield self.general
            yield Static(t(TEXT["matter"]), classes="section")
            if self.editing:
                yield Static(t(TEXT["fixed"]), classes="note")
            yield self.picker
            yield Static(t(TEXT["materials"]), classes="section")
            yield self.checklist
            yield Static(t(TEXT["applicant"]), classes="section")
            yield from self.person_fields(fields, id_hint=t(TEXT["id_hint"]))
            yield Static(t(TEXT["authorisation"]), classes="section")
            relationship = fields.get("authorisation.relationship")
            self.relationship: Select[str] = StationSelect(
                [(choice_label(c, self.lang), c) for c in RELATIONSHIPS], compact=True,
                prompt=t(TEXT["relationship_prompt"]), id="f-relationship",
                value=relationship if relationship in RELATIONSHIPS else Select.NULL)
            yield self.field("authorisation.relationship", t(TEXT["relationship"]),
                             self.relationship)
            self.signed = Checkbox(t(TEXT["signed_label"]),
                                   bool(fields.get("authorisation.signed")), compact=True,
                                   id="f-signed")
            yield self.field("authorisation.signed", t(TEXT["signed"]), self.signed)
            channel = fields.get("channel") or "station"
            self.channel: Select[str] = StationSelect(
                [(choice_label(c, self.lang), c) for c in CHANNELS], compact=True,
                allow_blank=False, value=channel, id="f-channel")
            yield self.field("channel", t(TEXT["channel"]), self.channel)
            yield Static(t(TEXT["promise"]), classes="section")
            self.promised = LineInput(str(fields.get("promised_date") or ""), compact=True,
                                      id="f-promised", placeholder="YYYY-MM-DD")
            yield self.field("promised_date", t(TEXT["promised_date"]), self.promised,
                             hint=t(TEXT["pick_matter"]))
            if self.editing:
                self.reason = LineInput("", compact=True, id="f-reason",
                                        placeholder=t(TEXT["reason_hint"]))
                yield self.field("reason", t(TEXT["reason"]), self.reason)
        yield Footer()

    def on_mount(self) -> None:  # FormScreen.on_mount runs too (Textual walks the MRO)
        if self.record is not None:
            self.sub_title = self.t(TEXT["edit"]).format(receipt=self.record.receipt or "")
            fields = self.record.fields
            matter = self.station.catalogue.get(fields["matter"]) if fields.get(
                "matter") in self.station.catalogue else None
            if matter is not None:
                due = {k.rsplit(".", 1)[1]: v for k, v in fields.items()
                       if k.startswith("materials.due.") and v}
                self._set_matter(matter, received=set(fields.get("materials.received") or []),
                                 due=due, promised=str(fields.get("promised_date") or ""))
        else:
            self.sub_title = self.t(TEXT["new"])

    def first_field(self) -> Widget | None:
        if self.editing:
            return self.checklist.rows[0].item if self.checklist.rows else None
        return self.picker.search

    # --- the matter and its materials --------------------------------------------------------

    def default_due(self) -> str:
        return self.station.calendar.add_working_days(
            self.station.today(), DEFAULT_PROMISE_DAYS).isoformat()

    def _start_day(self) -> dt.date:
        if self.record is not None and self.record.fields.get("received_on"):
            return dt.date.fromisoformat(self.record.fields["received_on"])
        return self.station.today()

    def _set_matter(self, matter: Matter, *, received: set[str], due: dict[str, str],
                    promised: str | None = None) -> AwaitMount:
        """Choose ``matter``: its checklist, and the promised date its time limit gives."""
        self.matter = matter
        self.picker.show_chosen(matter)
        mounted = self.checklist.load(matter, received=received, due=due,
                                      default_due=self.default_due())
        start = self._start_day()
        computed = self.station.calendar.add_working_days(start, matter.time_limit_days)
        self.computed_promise = computed.isoformat()
        approx = "" if self.station.calendar.all_known(start, computed) else self.t(
            TEXT["approx"])
        hint = TEXT["computed"] if matter.time_limit_days else TEXT["at_once"]
        self.fields["promised_date"].set_hint(self.t(hint).format(
            n=matter.time_limit_days, start=start.isoformat(), date=self.computed_promise,
            approx=approx))
        self.promised.value = promised if promised is not None else self.computed_promise
        return mounted

    @on(MatterPicker.Chosen)
    async def _chosen(self, event: MatterPicker.Chosen) -> None:
        await self._set_matter(event.matter, received=set(), due={})
        self.checklist.focus_first()

    # --- form values -----------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """What the store gets: dotted field names, as typed (the store cleans them)."""
        out: dict[str, Any] = {"matter": self.matter.code if self.matter else None}
        for name, box in self.inputs.items():
            out[name] = box.value
        relationship = self.relationship.value
        out["authorisation.relationship"] = (None if relationship is Select.NULL
                                             else str(relationship))
        out["authorisation.signed"] = bool(self.signed.value)
        out["channel"] = None if self.channel.value is Select.NULL else str(self.channel.value)
        if self.matter is not None:
            out["materials.received"] = self.checklist.received()
            for code, day in self.checklist.due().items():
                out[f"materials.due.{code}"] = day
        out["promised_date"] = self.promised.value.strip() or None
        return out

    def snapshot(self) -> dict[str, Any]:
        values = self.values()
        if self.editing:
            values["reason"] = self.reason.value
        return values

    def restore(self, values: dict[str, Any]) -> None:
        code = values.get("matter")
        if not self.editing and code and code in self.station.catalogue:
            due = {k.rsplit(".", 1)[1]: str(v) for k, v in values.items()
                   if k.startswith("materials.due.") and v}
            self._set_matter(self.station.catalogue.get(code),
                             received=set(values.get("materials.received") or []), due=due,
                             promised=str(values.get("promised_date") or ""))
        elif self.editing and self.matter is not None and "materials.received" in values:
            due = {k.rsplit(".", 1)[1]: str(v) for k, v in values.items()
                   if k.startswith("materials.due.") and v}
            self._set_matter(self.matter, received=set(values["materials.received"]), due=due,
                             promised=str(values.get("promised_date") or ""))
        for name, box in self.inputs.items():
            box.value = str(values.get(name) or "")
        relationship = values.get("authorisation.relationship")
        self.relationship.value = relationship if relationship in RELATIONSHIPS else Select.NULL
        self.signed.value = bool(values.get("authorisation.signed"))
        if values.get("channel") in CHANNELS:
            self.channel.value = values["channel"]
        if self.editing and "reason" in values:
            self.reason.value = str(values.get("reason") or "")

    def draft_who(self, values: dict[str, Any]) -> str:
        name = str(values.get("applicant.name") or "")
        code = values.get("matter")
        if code and code in self.station.catalogue:
            name = f"{name} · {self.station.catalogue.get(code).name(self.lang)}".strip(" ·")
        return name

    # --- errors in place ---------------------------------------------------------------------

    def place_problem(self, name: str, messages: list[str]) -> Widget | None:
        text = "；".join(messages) if self.lang == "zh" else " ".join(messages)
        if name.startswith("materials.due."):
            row = self.checklist.show_error(name.rsplit(".", 1)[1], text)
            return row.due if row is not None else None
        if name in ("materials.received", "materials.due"):
            self.checklist.show_refusal(text)
            return self.checklist.rows[0].item if self.checklist.rows else None
        if name == "matter":
            self.checklist.show_refusal(text)
            return self.picker.search
        return super().place_problem(name, messages)

    def clear_problems(self) -> None:
        super().clear_problems()
        self.checklist.clear_errors()

    def own_problems(self, values: dict[str, Any]) -> list[Issue]:
        """What the form itself insists on: a case is about somebody."""
        return self.required(values, "applicant.name", ("申请人姓名", "The applicant's name"))

    # --- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.editing:
            self._save_edit()
        else:
            self._save_new(draft=False)

    def action_save_draft_record(self) -> None:
        if not self.editing:
            self._save_new(draft=True)

    def _missing(self, record: Record) -> bool:
        if not self.matter:
            return False
        essential, optional = missing_materials(
            self.matter, set(record.fields.get("materials.received") or []))
        return bool(essential or optional)

    def _save_new(self, *, draft: bool) -> None:
        self.clear_problems()
        values = self.values()
        problems = self.own_problems(values)
        try:
            prepared = self.station.prepare("application", values,
                                            status="draft" if draft else None)
        except ValidationError as exc:
            self.show_problems(problems + exc.problems)
            return
        except TransitionRefused as exc:
            if problems:  # say both; a draft needs these fixed too, so no offer yet
                self.show_problems(problems)
                self.checklist.show_refusal(exc.message(self.lang))
            else:
                self.refused(exc)
            return
        except (StationError, sqlite3.Error) as exc:
            self.failed(exc)
            return
        if problems:
            self.show_problems(problems)
            return
        try:
            record = self.station.commit_new(prepared)
        except (StationError, sqlite3.Error) as exc:
            self.failed(exc)
            return
        self.finish(record, notice=self._missing(record))

    def refused(self, error: TransitionRefused) -> None:
        """The case cannot be received as it is: say why by the checklist, offer a draft."""
        why = error.message(self.lang)
        self.checklist.show_refusal(why)
        self.checklist.scroll_visible()

        def answered(answer: str | None) -> None:
            if answer == "draft":
                self._save_new(draft=True)

        self.app.push_screen(AskModal(
            self.t(TEXT["refused_title"]), self.t(TEXT["refused_body"]).format(why=why),
            [("draft", self.t(TEXT["as_draft"])), ("edit", self.t(TEXT["keep_editing"]))]),
            answered)

    def _save_edit(self) -> None:
        assert self.record is not None
        self.clear_problems()
        try:
            current = self.station.get(self.record.id)
        except (StationError, sqlite3.Error) as exc:
            self.failed(exc)
            return
        values = self.values()
        values.pop("matter", None)
        problems = self.own_problems(values)
        if problems:
            self.show_problems(problems)
            return
        changes = {k: v for k, v in values.items()
                   if not (is_blank(v) and is_blank(current.fields.get(k)))}
        draft = current.status.get("to") == "draft"
        move_to: str | None = None
        if draft and self.matter is not None:
            essential, optional = missing_materials(
                self.matter, set(values.get("materials.received") or []))
            if not essential:
                merged = {**current.fields, **values}
                late = due_problems(self.matter, merged)
                if late:
                    self.show_problems(late)
                    return
                move_to = "awaiting_materials" if optional else "received"
        record = current
        try:
            record = self.station.update(current.id, changes, reason=self.reason.value)
        except PromiseNeedsReason:
            self.show_problems([Problem("reason", "required", {
                "label_zh": "修改承诺日期的原因", "label_en": "A reason for moving the date"})])
            return
        except ValidationError as exc:
            if not all(p.field == "record" for p in exc.problems):  # "nothing changed" is fine
                self.show_problems(exc.problems)
                return
            if move_to is None:
                self.notify(self.t(UI["nothing"]))
                self.finish(current, saved=False)
                return
        except (StationError, sqlite3.Error) as exc:
            self.failed(exc)
            return
        if move_to is not None:
            try:
                record = self.station.change_status(record.id, move_to)
            except TransitionRefused as exc:
                self.checklist.show_refusal(exc.message(self.lang))
                self.notify(self.t(TEXT["still_draft"]), severity="warning")
                return
            except (StationError, sqlite3.Error) as exc:
                self.failed(exc)
                return
        elif draft:
            self.notify(self.t(TEXT["still_draft"]), severity="warning")
        self.finish(record, notice=self._missing(record) and (
            set(record.fields.get("materials.received") or [])
            != set(current.fields.get("materials.received") or [])
            or any(k.startswith("materials.due.") for k in changes)))
