"""The dashboard: today's work at a glance, and how sync stands.

Due this month (to resolve / to contact), overdue, open poor ratings, conflicts, unsent
changes, the last sync and the clock. The figures are read in a worker on the reader
connection, so a big village never freezes the first screen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.events import Click
from textual.widgets import Footer, Header, Label, Static

from station.domain.english import number_words
from station.store.service import Dashboard, Station
from station.sync.engine import CLOCK_WARN_MS, clock_gap
from station.tui.screens.base import ReadingScreen
from station.tui.screens.values import when
from station.tui.text import UI
from station.tui.widgets.prose import Prose

TEXT = {
    "today": ("今天", "Today"),
    "to_resolve": ("本月到期（需办结）", "Due this month: resolve"),
    "to_contact": ("本月需联系（按 t）", "To contact (t)"),
    "overdue": ("已超期", "Overdue"),
    "open_poor": ("差评待整改", "Poor ratings to follow up"),
    "conflicts": ("待处理冲突（按 c）", "Conflicts to settle (c)"),
    "unsent": ("未发送的变更", "Changes not yet sent"),
    "last_sync": ("上次同步", "Last sync"),
    "never": ("从未同步", "never"),
    "backup": ("备份：按 b", "back up: b"),
    "not_enrolled": ("尚未登记到镇中心", "not enrolled with a centre"),
    "clock": ("{gap}，请校准", "{gap}: please set it"),
    "drafts": ("有 {n} 份未保存的表单，可在新建时恢复", "{n} unsaved form{s} can be restored"),
    "loading": ("正在读取……", "Loading…"),
    "held": ("镇中心发来的 {n} 条更新本版本无法读取，已单独保存（最早在 {since}）：请升级 station，"
             "详情按 s",
             "{n} change{s} from the centre cannot be read by this version and {are} kept aside "
             "(the first on {since}): update station; s for details"),
    "month_start": ("新的一个月：请先处理本月到期和需联系的件",
                    "A new month: start with what is due and whom to contact"),
}

CARDS = ("to_resolve", "to_contact", "overdue", "open_poor", "conflicts", "unsent")
DUE_CARDS = ("to_resolve", "to_contact", "overdue")  # a click lists their cases


class DashboardScreen(ReadingScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "app.go('applications')", "Applications", id="applications"),
        Binding("v", "app.go('visits')", "Visits", id="visits"),
        Binding("r", "app.go('residents')", "Residents", id="residents"),
        Binding("n", "app.go('new_application')", "New", id="new-application"),
        Binding("s", "app.go('sync')", "Sync", id="sync"),
        # Not in the footer, which must fit in 80 columns: the conflicts card names its
        # key, and the figures are read again on every return to this screen anyway.
        Binding("c", "app.go('conflicts')", "Conflicts", id="conflicts", show=False),
        Binding("p", "app.go('reports')", "Reports", id="reports"),
        # Not in the footer either: the card names it. The cases to contact are the month's
        # round of calls; a click on any of the three due cards lists its cases too.
        Binding("t", "due('to_contact')", "To contact", id="to-contact", show=False),
        Binding("f5", "refresh", "Refresh", id="refresh", show=False),
        # Not in the footer either (Quit would be pushed out of 80 columns): the sync line
        # names it, and the palette (Ctrl+P) offers it as 备份 / Backup.
        Binding("b", "app.go('backup')", "Backup", id="backup", show=False),
    ]

    BINDING_ZH: ClassVar[dict[str, str]] = {
        "applications": "代办件", "visits": "上门服务", "residents": "居民",
        "new-application": "新建", "sync": "同步", "conflicts": "冲突",
        "reports": "报表", "refresh": "刷新", "to-contact": "需联系", "backup": "备份"}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="dashboard"):
            yield Label("", id="dash-today")
            yield Prose(self.t(TEXT["loading"]), id="dash-note")
            with Grid(id="dash-cards"):
                for key in CARDS:
                    with Vertical(classes="card", id=f"card-{key}"):
                        yield Static("–", classes="card-number")
                        yield Label(self.t(TEXT[key]), classes="card-label")
            yield Static("", id="dash-sync")
        yield Footer(compact=True)  # eight keys, Quit and the palette: they must fit in 80

    def on_mount(self) -> None:
        self.sub_title = self.t(UI["dashboard"])

    def action_due(self, which: str) -> None:
        """The applications of one of this month's lists, as the card counts them."""
        from station.tui.screens import make_due_list

        self.app.push_screen(make_due_list(which))

    def on_click(self, event: Click) -> None:
        """A click on a due card, its number or its words, lists the cases it counts."""
        nodes = event.widget.ancestors_with_self if event.widget is not None else []
        for node in nodes:
            key = (node.id or "").removeprefix("card-")
            if node.has_class("card") and key in DUE_CARDS:
                self.action_due(key)
                return

    def read(self, reader: Station) -> tuple[Any, ...]:
        return (reader.dashboard(),)

    def show(self, board: Dashboard) -> None:
        self.query_one("#dash-today", Label).update(
            f"{self.t(TEXT['today'])} {board.today} · {self.station.station_name} "
            f"({self.station.station_id}) · {self.station.agent}")
        for key in CARDS:
            card = self.query_one(f"#card-{key}")
            value = getattr(board, key)
            card.query_one(".card-number", Static).update(str(value))
            card.set_class(value > 0 and key in ("overdue", "open_poor", "conflicts"), "alert")
        notes = []
        if dt.date.fromisoformat(board.today).day <= 3 and (board.to_resolve or board.to_contact):
            notes.append(self.t(TEXT["month_start"]))
        if board.drafts:
            notes.append(self.t(TEXT["drafts"]).format(**number_words(board.drafts)))
        if board.held:
            notes.append(self.t(TEXT["held"]).format(
                **number_words(board.held),
                since=when(board.held_since or "", self.station.now().tzinfo)))
        if board.clock_set_back:
            notes.append(self.t(board.clock_set_back))
        elif abs(board.clock_offset_ms) > CLOCK_WARN_MS:
            notes.append(self.t(TEXT["clock"]).format(gap=self.t(clock_gap(board.clock_offset_ms))))
        self.query_one("#dash-note", Static).update("\n".join(notes))
        if not board.enrolled:
            sync = self.t(TEXT["not_enrolled"])
        else:
            last = (when(board.last_sync, self.station.now().tzinfo) if board.last_sync
                    else self.t(TEXT["never"]))
            sync = f"{self.t(TEXT['last_sync'])}: {last}"
        self.query_one("#dash-sync", Static).update(f"{sync} · {self.t(TEXT['backup'])}")
