"""Lists of applications, visits or residents: search as you type, filter, open.

A big village has 100 000 records: the list shows the newest few hundred at once and
narrows as the agent types (name, pinyin, initials, receipt no., ID number or phone). Each
keystroke starts an exclusive worker that cancels the one before, on the reader connection.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Input, Select, Static

from station.domain.status import LATTICES
from station.store.service import Summary
from station.tui.screens.base import StationScreen
from station.tui.text import UI, status_label
from station.tui.widgets.record_table import RecordTable
from station.tui.widgets.select import StationSelect

SHOWN = 100  # a screen shows about twenty: the agent narrows by typing, not by scrolling
# Fixed widths, in terminal cells: the list redraws on every keystroke of a search.
# The matter's name takes what is left (0): at 80 columns every column shows.
WIDTHS = {"receipt": 18, "name": 8, "status": 12, "matter": 0, "due": 10, "conflicts": 1}
# A record with an open conflict is marked as `station list` marks it in its "!" column: one
# cell, so the rows that need settling (c, from the dashboard) stand out and 80 columns fit.
CONFLICT_MARK = "!"

NEW_FORM = {"application": "new_application", "visit": "new_visit"}  # kind -> screen
LIST_NAME = {"application": UI["applications"], "visit": UI["visits"],
             "resident": UI["residents"]}  # the header: "station — Applications"

TEXT = {
    "search": ("输入姓名、拼音、首字母、编号、身份证号或手机号",
               "Type a name, pinyin, initials, receipt no., ID number or phone"),
    "count": ("显示 {shown} 条，共 {total} 条", "Showing {shown} of {total}"),
    "found": ("找到 {n} 条", "{n} found"),
    "first": ("只显示前 {n} 条，请继续输入以缩小范围", "Only the first {n} shown: type more "
              "to narrow"),
    "status": ("全部状态", "Any status"),
    "matter": ("全部事项", "Any matter"),
    "due": ("全部期限", "Any due date"),
    "overdue": ("已超期", "Overdue"),
    "to_resolve": ("本月需办结", "To resolve this month"),
    "to_contact": ("本月需联系", "To contact this month"),
}
# The due filter: the dashboard's cards and the lists of `station due`, by the same rule.
DUE_FILTERS = ("overdue", "to_resolve", "to_contact")


class RecordListScreen(StationScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("slash", "focus_search", "Search", id="search"),
        # The search box has the focus when a list opens, and takes a typed "n" as a letter:
        # Ctrl+N makes a new record wherever the focus is; "n" still does from the rows.
        Binding("ctrl+n", "new", "New", id="new"),
        Binding("n", "new", "New", id="new-from-rows", show=False),
    ]

    def __init__(self, kind: str, due: str | None = None) -> None:
        """``due``: open with the due filter already on (from a dashboard card)."""
        super().__init__()
        self.kind = kind
        self.due_filter = due

    BINDING_ZH: ClassVar[dict[str, str]] = {"back": "返回", "search": "搜索", "new": "新建",
                                           "new-from-rows": "新建"}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=self.t(TEXT["search"]), id="search")
        with Horizontal(id="filters"):
            statuses = [(status_label(self.kind, s, self.lang), s)
                        for s in LATTICES[self.kind].states]
            yield StationSelect(statuses, prompt=self.t(TEXT["status"]), id="status",
                                compact=True)
            if self.kind == "application":
                matters = [(f"{m.code} {m.name(self.lang)}", m.code)
                           for m in self.station.catalogue]
                yield StationSelect(matters, prompt=self.t(TEXT["matter"]), id="matter",
                                    compact=True)
                yield StationSelect([(self.t(TEXT[key]), key) for key in DUE_FILTERS],
                                    prompt=self.t(TEXT["due"]), id="due", compact=True,
                                    value=self.due_filter or Select.NULL)
        columns = [key for key in WIDTHS if key != "matter" or self.kind == "application"]
        yield RecordTable([(self.heading(key), WIDTHS[key]) for key in columns], id="records")
        yield Static("", id="count")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.t(LIST_NAME[self.kind])

    def heading(self, column: str) -> str:
        """A column's heading in the app's language; the conflict mark's is the mark."""
        return CONFLICT_MARK if column == "conflicts" else self.t(UI[column])

    def on_screen_resume(self) -> None:
        """The rows are read here only: Textual resumes a screen when it is first shown too,
        and a second read from ``on_mount`` would queue behind the first on the reader
        connection (the list took twice as long to open on a big village)."""
        self.refresh_rows()

    def reread(self) -> None:
        self.refresh_rows()  # with the search and filters as they are

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    @on(Input.Submitted, "#search")
    def to_the_list(self) -> None:
        """Enter after typing: down to the rows, where Enter opens the highlighted one."""
        self.query_one(RecordTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Residents come in with their applications and visits (or an import): their
        # list has no form of its own, so it offers no "new" key.
        if action == "new":
            return self.kind in NEW_FORM
        return True

    def action_new(self) -> None:
        self.sapp.action_go(NEW_FORM[self.kind])

    @on(Input.Changed, "#search")
    @on(Select.Changed)
    def refresh_rows(self) -> None:
        query = self.query_one("#search", Input).value
        filters = {}
        for name in ("status", "matter", "due"):
            found = self.query(f"#{name}")
            if found:
                value = found.first(Select).value
                filters[name] = None if value is Select.NULL else str(value)
        self.search(query, filters)

    @work(thread=True, exclusive=True, group="list", exit_on_error=False)
    def search(self, query: str, filters: dict[str, str | None]) -> None:
        with self.reading() as reader:
            if query.strip():
                rows = reader.search(query, kind=self.kind, limit=SHOWN, **filters)
                total = None
            else:
                rows = reader.list(kind=self.kind, limit=SHOWN, **filters)
                total = reader.count(kind=self.kind, **filters)
        self.app.call_from_thread(self.show, rows, total)

    def show(self, rows: list[Summary], total: int | None) -> None:
        catalogue = self.station.catalogue
        lines = []
        for r in rows:
            cells = [r.receipt or r.id[:8], r.name or "—",
                     status_label(r.kind, r.status, self.lang)]
            if self.kind == "application":
                cells.append(catalogue.get(r.matter).name(self.lang)
                             if r.matter and r.matter in catalogue else "")
            cells.append(r.next_due or "")
            cells.append(CONFLICT_MARK if r.conflicts else "")
            lines.append((r.id, cells))
        self.query_one(RecordTable).set_rows(lines)
        self.query_one("#count", Static).update(self.count_line(len(rows), total),
                                                layout=False)  # one line, fixed

    def count_line(self, shown: int, total: int | None) -> str:
        """How many are listed. A search stops at ``SHOWN``: "100 found" would be a wrong
        figure for 王 in a village of thousands, so it says more may match."""
        if total is not None:
            return self.t(TEXT["count"]).format(shown=shown, total=total)
        return self.t(TEXT["first" if shown >= SHOWN else "found"]).format(n=shown)

    @on(RecordTable.Selected)
    def open_record(self, event: RecordTable.Selected) -> None:
        from station.tui.screens import make_record

        self.app.push_screen(make_record(event.key))
