"""A resident's page: every application, visit and resident record with one ID number.

一办到底 is easier to keep when the whole history of a person is one key away: the records
are found through the blind index (an HMAC of the normalised ID number, never the number
itself), newest first, and Enter opens one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from station.store.projection import Record
from station.store.service import Station, Summary
from station.tui.screens.base import ReadingScreen
from station.tui.screens.values import show, when
from station.tui.text import KIND, UI, pick, status_label
from station.tui.widgets.fitted_table import FittedTable
from station.tui.widgets.prose import Prose
from station.tui.widgets.record_table import cut

TEXT = {
    "title": ("居民：{name}", "Resident: {name}"),
    "id": ("身份证号 {id}", "ID number {id}"),
    "count": ("共 {a} 件代办、{v} 次上门服务、{r} 条居民台账",
              "{a} application(s), {v} visit(s), {r} resident record(s)"),
    "none": ("没有找到这个身份证号的记录", "No records with this ID number"),
    "loading": ("正在查找……", "Looking up…"),
    "what": ("内容", "What"),
    "updated": ("最近更新", "Updated"),
    "unknown": ("（姓名未知）", "(name unknown)"),
    "moved": ("{receipt} 的身份证号已改为 {id}，不再列在此页",
              "{receipt} now has ID number {id} and is no longer listed here"),
    "moved_none": ("{receipt} 的身份证号已删去，不再列在此页",
                   "{receipt} no longer has an ID number and is not listed here"),
    "followed": ("身份证号已由 {old} 改为 {id}，此页随之更新",
                 "The ID number was changed from {old} to {id}; this page follows it"),
}


class ResidentScreen(ReadingScreen[None]):
    CSS_PATH = "resident.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("o", "open", "Open", id="open"),
        Binding("v", "visit", "New visit", id="visit",
                tooltip="Record a home visit to this resident"),
        Binding("f5", "refresh", "Refresh", id="refresh", show=False),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"back": "返回", "open": "打开",
                                            "visit": "新建上门服务", "refresh": "刷新"}

    def __init__(self, id_number: str) -> None:
        super().__init__()
        self.id_number = id_number
        self.lines: list[tuple[str, list[str]]] = []  # shown again, to fit, on a resize
        self.listed: set[str] = set()  # every record this page has shown, to see one leave
        self.opened_as: str | None = None  # the number it was opened with, once it followed

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.t(TEXT["loading"]), id="resident-name")
        yield Static("", id="resident-count")
        yield Prose("", id="resident-moved")
        yield FittedTable(id="resident-records", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.t(UI["residents"])
        table = self.query_one(DataTable)
        self.add_columns(table, (("kind", UI["kind"]), ("receipt", UI["receipt"]),
                                 ("status", UI["status"]), ("updated", TEXT["updated"]),
                                 ("what", TEXT["what"])))  # last: cut to fit (``fill``)
        table.focus()

    def read(self, reader: Station) -> tuple[Any, ...]:
        """The records with the page's ID number, and those it listed before that have
        another one now: an ID number corrected on a record opened from here took the record
        off the page without a word. When every record moved to one new number, the person's
        number was corrected: the page follows it."""
        id_number = self.id_number
        rows = reader.same_person(id_number)
        moved = [reader.get(i) for i in sorted(self.listed - {r.id for r in rows})]
        targets = {m.person.get("id_number") for m in moved}
        if moved and not rows and len(targets) == 1 and None not in targets:
            id_number = str(targets.pop())
            rows, moved = reader.same_person(id_number), []
        records = {r.id: reader.get(r.id) for r in rows}
        rows.sort(key=lambda r: r.updated, reverse=True)
        return rows, records, reader.now().tzinfo, id_number, moved

    def what(self, record: Record) -> str:
        lang = self.lang
        if record.kind == "application":
            code = record.fields.get("matter")
            catalogue = self.station.catalogue
            return catalogue.get(code).name(lang) if code in catalogue else str(code or "—")
        if record.kind == "visit":
            parts = [show("visit", "reason", record.fields.get("reason"), lang)]
            if record.fields.get("services"):
                parts.append(show("visit", "services", record.fields["services"], lang))
            return ("：" if lang == "zh" else ": ").join(parts)
        return show("resident", "categories", record.fields.get("categories"), lang)

    def show(self, rows: list[Summary], records: dict[str, Record], tz: dt.tzinfo | None,
             id_number: str, moved: list[Record]) -> None:
        if id_number != self.id_number:
            self.opened_as, self.id_number = self.opened_as or self.id_number, id_number
        self.listed |= {r.id for r in rows}
        self.show_moved(moved)
        name = next((records[r.id].name for r in rows if r.kind == "resident"
                     and records[r.id].name), None)
        name = name or next((records[r.id].name for r in rows if records[r.id].name), None)
        title = Text(self.t(TEXT["title"]).format(name=name or self.t(TEXT["unknown"])),
                     style="bold")
        title.append("   " + self.t(TEXT["id"]).format(id=self.id_number), style="not bold")
        self.query_one("#resident-name", Static).update(title)
        counts = {k: sum(1 for r in rows if r.kind == k)
                  for k in ("application", "visit", "resident")}
        self.query_one("#resident-count", Static).update(
            self.t(TEXT["count"]).format(a=counts["application"], v=counts["visit"],
                                         r=counts["resident"]) if rows
            else self.t(TEXT["none"]))
        self.lines = [(r.id, [pick(KIND[r.kind], self.lang), r.receipt or r.id[:8],
                              status_label(r.kind, r.status, self.lang),
                              when(r.updated, tz)[:10], self.what(records[r.id])])
                      for r in rows]
        self.fill()

    def show_moved(self, moved: list[Record]) -> None:
        """Under the counts: that the page follows the person's new ID number, and which
        records left it for another one (hidden when neither)."""
        lines = [self.t(TEXT["followed"]).format(old=self.opened_as, id=self.id_number)
                 ] if self.opened_as else []
        for record in moved:
            new = record.person.get("id_number")
            lines.append(self.t(TEXT["moved" if new else "moved_none"]).format(
                receipt=record.receipt or record.id[:8], id=new))
        box = self.query_one("#resident-moved", Static)
        box.update("\n".join(lines))
        box.display = bool(lines)

    def on_resize(self) -> None:
        self.fill()

    def fill(self) -> None:
        """The rows, with what each is about cut to the room the other columns leave and
        ending in "…": a matter's or a visit's services' words run past 80 columns, where
        they were cut off mid-word at the edge with no sign that more was there."""
        table = self.query_one(DataTable)
        columns = list(table.columns.values())
        fixed = [max([cell_len(str(c.label)), *(cell_len(cells[i]) for _, cells in self.lines)])
                 for i, c in enumerate(columns[:-1])]
        scrolls = table.header_height + len(self.lines) > table.size.height
        room = (table.size.width - (table.styles.scrollbar_size_vertical if scrolls else 0)
                - 2 * table.cell_padding * len(columns) - sum(fixed))
        keep = table.cursor_row
        table.clear()
        for key, (*first, what) in self.lines:
            table.add_row(*first, Text(cut(what, max(room, cell_len(str(columns[-1].label))))),
                          key=key)
        if self.lines:
            table.move_cursor(row=min(keep, len(self.lines) - 1))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key:
                self.open_record(key)

    def action_visit(self) -> None:
        """A home visit to this resident: the form opens with their ID number, so their
        name, phone and address come from the station's records, not typed again."""
        from station.tui.screens.visit_form import VisitFormScreen

        self.app.push_screen(VisitFormScreen(id_number=self.id_number))

    @on(DataTable.RowSelected)
    def selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value:
            self.open_record(event.row_key.value)

    def open_record(self, record_id: str) -> None:
        """Open it; if it is the record this page was opened from, go back to it."""
        from station.tui.screens import make_record
        from station.tui.screens.record import RecordScreen

        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None
        if isinstance(below, RecordScreen) and below.record_id == record_id:
            self.app.pop_screen()
        else:
            self.app.push_screen(make_record(record_id))
