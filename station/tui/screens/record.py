"""One record: its fields in words, its open conflicts, its history, and what can be done.

The record and its history (who changed what, when, from which device) are read in a worker
on the reader connection. Actions open small modals that call the store on the main
connection; a refusal is answered with the store's sentence and nothing is written. Keys
that do not apply to this record (rating an open case, closing a follow-up that is not
open) are not offered at all.
"""

from __future__ import annotations

import importlib.util
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from station.domain.catalogue import Catalogue, Matter
from station.domain.english import number_words
from station.domain.errors import StationError
from station.domain.followup import check_rating
from station.domain.records import PERSON_PREFIX, SCHEMAS
from station.domain.status import VOID
from station.domain.workdays import ESTIMATE
from station.store.projection import Record, is_open
from station.store.service import Station
from station.tui.screens.base import ReadingScreen
from station.tui.screens.edit_modal import matter_of
from station.tui.screens.values import label, show, when
from station.tui.text import KIND, UI, pick, status_label
from station.tui.widgets.prose import Prose, Wrapped

NOTICE_MODULE = "station.tui.screens.notice"

TEXT = {
    "loading": ("正在读取……", "Loading…"),
    "conflicts": ("有 {n} 处冲突待处理（按 c）：{fields}",
                  "{n} conflicting field{s} to settle (press c): {fields}"),
    "followup_due": ("差评待整改（按 f 填写整改情况）",
                     "Poor rating to follow up (press f to say what was done)"),
    "conflict": ("（冲突）", " (conflict)"),
    "settled": ("（解决冲突）", " (conflict settled)"),
    "materials": ("材料", "Materials"),
    "in": ("已收", "received"),
    "missing": ("未收", "missing "),
    "essential": ("（必要）", " (essential)"),
    "due_on": ("，容缺承诺 {d}", ", promised by {d}"),
    "department": ("主管部门", "Department"),
    "decided": ("决定方", "Decided by"),
    "at_station": ("村站可办结", "the station"),
    "at_centre": ("镇中心决定", "the town centre"),
    "from_centre": ("（镇中心）", " (centre)"),
    "history": ("修改历史（{n}）：谁、何时、哪台设备、改了什么",
                "History ({n}): who, when, which device, what"),
    "created": ("新建", "created"),
    "time": ("时间", "When"),
    "author": ("修改人", "Who"),
    "device": ("设备", "Device"),
    "what": ("内容", "What"),
    "no_id": ("这条记录没有身份证号，无法查找同一人的其他记录",
              "This record has no ID number, so the person's other records cannot be found"),
    "saved": ("已保存", "Saved"),
    "no_notice": ("一次告知单暂不可用", "The one-time notice is not available"),
}

# Shown in their own block, or in the title line, not as plain rows.
SPECIAL = {"receipt", "status", "materials.received", "materials.due"}
CENTRE_FIELDS = ("outcome", "outcome_reason", "official_receipt")


def add_field(table: Table, heading: str, value: str | Text) -> None:
    """A row of the fields' grid. The value breaks between Chinese characters and at
    spaces (``Wrapped``): folded at the column's edge wherever that fell, a Chinese note
    in the English app went on with its comma at the start of a line."""
    table.add_row(heading, Wrapped(value if isinstance(value, Text) else Text(value)))


class RecordScreen(ReadingScreen[None]):
    CSS_PATH = "record.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("s", "status", "Status", id="status"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("m", "materials", "Docs", id="materials"),
        Binding("l", "contact", "Contact", id="contact"),
        Binding("r", "rate", "Rate", id="rate"),
        # not in the footer either (nine keys and Quit would not fit in 80 columns): the
        # line above the fields says "press f" while a poor rating's follow-up is open
        Binding("f", "followup", "Follow-up", id="followup", show=False),
        # not in the footer: the conflict line above the fields says "press c" when it applies
        Binding("c", "conflicts", "Conflicts", id="conflicts", show=False),
        Binding("p", "person", "Person", id="person"),
        Binding("n", "notice", "Notice", id="notice"),
        Binding("h", "history", "History", id="history", show=False),
        Binding("f5", "refresh", "Refresh", id="refresh", show=False),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {
        "back": "返回", "status": "状态", "edit": "修改", "materials": "材料",
        "contact": "联系", "rate": "评价", "followup": "整改", "conflicts": "冲突",
        "person": "此人", "notice": "告知单", "history": "历史", "refresh": "刷新"}

    def __init__(self, record_id: str) -> None:
        super().__init__()
        self.record_id = record_id
        self.record: Record | None = None
        self.changes: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="record-body"):
            yield Static(self.t(TEXT["loading"]), id="record-title")
            yield Prose("", id="record-alert")
            yield Static("", id="record-fields")
            yield Static("", id="record-history-title")
            yield Static("", id="record-history")
        yield Footer(compact=True)  # up to nine keys: they must fit in 80 columns

    def on_mount(self) -> None:
        self.query_one("#record-body").focus()

    # --- reading ------------------------------------------------------------------------

    def read(self, reader: Station) -> tuple[Any, ...]:
        return reader.get(self.record_id), reader.history(self.record_id)

    def failed(self, error: StationError) -> None:
        """The record cannot be read (gone, damaged): say so, and leave if nothing shows."""
        super().failed(error)
        if self.record is None and self.app.screen is self:
            self.app.pop_screen()

    def show(self, record: Record, changes: list[dict[str, Any]]) -> None:
        self.record, self.changes = record, changes
        catalogue = self.station.catalogue
        matter = matter_of(record, catalogue)
        # "station — Application" in the header: the kind as a title, not as a table cell
        self.sub_title = pick(KIND[record.kind], self.lang).capitalize()
        self.query_one("#record-title", Static).update(self.title_line(record))
        alert = self.query_one("#record-alert", Static)
        lines = self.alert_lines(record)
        alert.update(Text("\n").join(lines))
        alert.display = bool(lines)
        self.query_one("#record-fields", Static).update(
            self.fields_table(record, matter, catalogue))
        self.query_one("#record-history-title", Static).update(
            self.t(TEXT["history"]).format(n=len(changes)))
        self.query_one("#record-history", Static).update(self.history_table(record, changes))
        self.refresh_bindings()

    # --- what it shows --------------------------------------------------------------------

    def title_line(self, record: Record) -> Text:
        text = Text()
        text.append(record.receipt or record.id, style="bold")
        text.append(f"  {pick(KIND[record.kind], self.lang)}  ")
        if record.name:
            text.append(record.name, style="bold")
            text.append("  ")
        status = show(record.kind, "status", record.status, self.lang)
        text.append(f" {status} ", style="reverse")
        if any(c.field == "status" for c in record.conflicts):
            text.append(self.t(TEXT["conflict"]), style="bold red")
        return text

    def alert_lines(self, record: Record) -> list[Text]:
        """What needs doing on this record and its key, above its fields: conflicts to
        settle (c), a poor rating's follow-up (f). Their keys are not in the footer."""
        lines = [self.conflict_line(record)] if record.conflicts else []
        if self.check_action("followup", ()):
            lines.append(Text(self.t(TEXT["followup_due"])))
        return lines

    def conflict_line(self, record: Record) -> Text:
        sep = "、" if self.lang == "zh" else ", "
        fields = sep.join(label(record.kind, c.field, self.lang) for c in record.conflicts)
        return Text(self.t(TEXT["conflicts"]).format(**number_words(len(record.conflicts)),
                                                   fields=fields))

    def fields_table(self, record: Record, matter: Matter | None,
                     catalogue: Catalogue) -> Table:
        table = Table.grid(padding=(0, 1), expand=True)
        table.add_column(no_wrap=True, style="bold")
        table.add_column(ratio=1)  # each value is Wrapped (add_field)
        conflicted = {c.field for c in record.conflicts}
        lang = self.lang
        estimate = self.station.promise_estimated(record)

        def row(name: str, value: Any, *, heading: str | None = None) -> None:
            cell = Text(show(record.kind, name, value, lang, catalogue))
            if name == "promised_date" and estimate:
                cell.append(self.t(ESTIMATE), style="italic")
            if name in conflicted:
                cell.append(self.t(TEXT["conflict"]), style="bold red")
            add_field(table, heading or label(record.kind, name, lang), cell)

        for spec in SCHEMAS[record.kind]:
            name = spec.name
            if name in SPECIAL:
                if name == "materials.received" and record.kind == "application":
                    self.materials_rows(table, record, matter)
                continue
            value = record.fields.get(name)
            if name == "matter":
                row(name, value)
                if matter is not None:
                    add_field(table, self.t(TEXT["department"]), matter.department(lang))
                    add_field(table, self.t(TEXT["decided"]), self.t(
                        TEXT["at_station"] if matter.decided_at == "station"
                        else TEXT["at_centre"]))
                continue
            if name in CENTRE_FIELDS:
                if value not in (None, "") or name == "outcome":
                    row(name, value, heading=label(record.kind, name, lang)
                        + self.t(TEXT["from_centre"]))
                continue
            if value in (None, "", []) and name not in conflicted:
                continue
            row(name, value)
        return table

    def materials_rows(self, table: Table, record: Record, matter: Matter | None) -> None:
        received = set(record.fields.get("materials.received") or [])
        heading = self.t(TEXT["materials"])
        if matter is None:
            add_field(table, heading, ", ".join(sorted(received)) or "—")
            return
        for m in matter.materials:
            cell = Text()
            if m.code in received:
                cell.append(self.t(TEXT["in"]), style="green")
            else:
                cell.append(self.t(TEXT["missing"]), style="bold yellow")
            cell.append(f" {m.name(self.lang)}")
            if m.essential:
                cell.append(self.t(TEXT["essential"]), style="dim")
            due = record.fields.get(f"materials.due.{m.code}")
            if due and m.code not in received:
                cell.append(self.t(TEXT["due_on"]).format(d=due))
            if f"materials.due.{m.code}" in {c.field for c in record.conflicts}:
                cell.append(self.t(TEXT["conflict"]), style="bold red")
            add_field(table, heading, cell)
            heading = ""

    def history_table(self, record: Record, changes: list[dict[str, Any]]) -> Table:
        table = Table(expand=True, box=None, pad_edge=False, show_edge=False,
                      header_style="bold")
        for key in ("time", "author", "device"):
            table.add_column(self.t(TEXT[key]), no_wrap=True)
        table.add_column(self.t(TEXT["what"]), no_wrap=True, overflow="ellipsis", ratio=1)
        tz = self.station.now().tzinfo
        for change in sorted(changes, key=lambda c: c["hlc"], reverse=True):
            table.add_row(when(change["hlc"], tz), Text(change["author"]),
                          Text(change["device"]), Text(self.what(record.kind, change["ops"])))
        return table

    def what(self, kind: str, ops: list[dict[str, Any]]) -> str:
        sep = "、" if self.lang == "zh" else ", "
        parts: list[str] = []
        created = any(op["op"] == "set" and op["f"] == "receipt" for op in ops)
        for op in ops:
            if op["op"] == "status":
                to = str((op.get("v") or {}).get("to", ""))
                part = f"{pick(UI['status'], self.lang)} → {status_label(kind, to, self.lang)}"
            elif created:
                continue
            else:
                part = label(kind, op["f"], self.lang)
            if len(op.get("p", ())) > 1:  # it superseded competing values: a settlement
                part += self.t(TEXT["settled"])
            if part not in parts:
                parts.append(part)
        if created:
            parts.insert(0, self.t(TEXT["created"]))
        return sep.join(parts)

    # --- what can be done ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        record = self.record
        if action in ("back", "refresh", "history"):
            return True
        if record is None:
            return action not in ("status", "edit", "materials", "contact", "rate",
                                  "followup", "conflicts", "person", "notice")
        live = record.status["to"] != VOID
        application = record.kind == "application"
        match action:
            case "status" | "edit":
                return live
            case "materials":
                return application and is_open(record) and live
            case "contact":
                return application and live
            case "rate":
                return self.ratable(record)
            case "followup":
                return (record.fields.get("followup") or {}).get("state") == "open"
            case "conflicts":
                return bool(record.conflicts)
            case "person":
                return bool(self.id_number(record))
            case "notice":
                return application and importlib.util.find_spec(NOTICE_MODULE) is not None
        return True

    @staticmethod
    def ratable(record: Record) -> bool:
        try:
            check_rating(record.kind, record.status["to"], record.fields.get("rating"))
        except StationError:
            return False
        return True

    @staticmethod
    def id_number(record: Record) -> str | None:
        value = record.fields.get(f"{PERSON_PREFIX[record.kind]}.id_number")
        return str(value) if value else None

    def open_modal(self, modal: Any) -> None:
        self.app.push_screen(modal, self.after_modal)

    def after_modal(self, saved: Record | None) -> None:
        if saved is not None:
            self.notify(self.t(TEXT["saved"]), timeout=3)
            self.show(saved, self.changes)  # at once; the history follows (screen resume)

    def action_status(self) -> None:
        from station.tui.screens.status_modal import StatusModal

        if self.record is not None:
            self.open_modal(StatusModal(self.record))

    def action_edit(self) -> None:
        from station.tui.screens.edit_modal import EditFieldModal

        if self.record is not None:
            self.open_modal(EditFieldModal(self.record))

    def action_materials(self) -> None:
        from station.tui.screens.edit_modal import MaterialsModal

        if self.record is not None:
            self.open_modal(MaterialsModal(self.record))

    def action_contact(self) -> None:
        from station.tui.screens.contact_modal import ContactModal

        if self.record is not None:
            self.open_modal(ContactModal(self.record))

    def action_rate(self) -> None:
        from station.tui.screens.rating_modal import RatingModal

        if self.record is not None:
            self.open_modal(RatingModal(self.record))

    def action_followup(self) -> None:
        from station.tui.screens.rating_modal import FollowupModal

        if self.record is not None:
            self.open_modal(FollowupModal(self.record))

    def action_conflicts(self) -> None:
        from station.tui.screens.conflicts import ConflictsScreen

        self.app.push_screen(ConflictsScreen(record=self.record_id))

    def action_person(self) -> None:
        from station.tui.screens import make_resident

        id_number = self.id_number(self.record) if self.record is not None else None
        if not id_number:
            self.notify(self.t(TEXT["no_id"]), severity="warning")
            return
        self.app.push_screen(make_resident(id_number))

    def action_notice(self) -> None:
        try:
            module = importlib.import_module(NOTICE_MODULE)
            screen = module.NoticeScreen(self.record_id)
        except Exception as exc:  # another engineer's screen: never a traceback here
            self.log.error(repr(exc))
            self.notify(self.t(TEXT["no_notice"]), severity="warning")
            return
        self.app.push_screen(screen)

    def action_history(self) -> None:
        self.query_one("#record-body", VerticalScroll).scroll_to_widget(
            self.query_one("#record-history-title"), top=True)
