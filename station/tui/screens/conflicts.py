"""Conflicts: fields that two replicas changed apart, every competing value side by side.

Each open conflict lists its heads (the values nobody has superseded yet) with who wrote
them, from which device and when; the first is the last-writer-wins value the record shows
for now. Keys 1–9 keep one of them, ``e`` enters a new value (validated by the store, which
answers a refusal with its sentence). Settling writes one op naming every head, so the
conflict closes on every station that receives it, whatever order things arrive in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Static

from station.domain.english import number_words
from station.domain.errors import StationError
from station.domain.records import field_for
from station.store.projection import Record
from station.store.service import ConflictView, Station
from station.tui.screens.base import ReadingScreen
from station.tui.screens.form_modal import INTERNAL, FormModal
from station.tui.screens.values import label, show, when
from station.tui.text import KIND, UI, pick, status_label
from station.tui.widgets.fitted_table import FittedTable
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.prose import Prose

TEXT = {
    "count": ("待处理冲突 {n} 处：同一项在两处被改成了不同的值",
              "{n} open conflict{s}: one field changed differently in two places"),
    "none": ("没有待处理的冲突", "No open conflicts"),
    "loading": ("正在读取……", "Loading…"),
    "field": ("项目", "Field"),
    "values": ("候选值", "Values"),
    "provisional": ("暂用（最后写入）", "shown for now (last write)"),
    "hint": ("按数字键采用对应的值，按 e 输入新值，回车打开记录",
             "Press a number to keep that value, e to enter a new one, Enter to open the record"),
    "only": ("只有 {n} 个值可选", "There are only {n} values to pick from"),
    "settled": ("已解决：{field} = {value}", "Settled: {field} = {value}"),
    "value_title": ("输入新值", "Enter a new value"),
    "value_note": ("{field}：各处的值为 {values}", "{field}: the values are {values}"),
    "value": ("新的值", "New value"),
    "author": ("修改人", "by"),
    "device": ("设备", "on"),
    "time": ("时间", "at"),
}


def cell_text(conflict: ConflictView, value: Any, lang: str, catalogue: Any) -> str:
    return show(conflict.kind, conflict.field, value, lang, catalogue)


def editable_text(conflict: ConflictView, value: Any, lang: str) -> str:
    """A head's value as something to edit and send back (a code, or its Chinese label)."""
    if conflict.field == "status" and isinstance(value, dict):
        to = str(value.get("to", ""))
        return status_label(conflict.kind, to, "zh") if lang == "zh" else to
    spec = field_for(conflict.kind, conflict.field)
    if spec is not None and spec.type == "bool":
        return pick(UI["yes"] if value else UI["no"], lang)
    if spec is not None and spec.type == "choice" and lang == "zh":
        return show(conflict.kind, conflict.field, value, "zh")
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).replace("T", " ")


def seen_heads(conflict: ConflictView) -> tuple[str, ...]:
    """The values the person chose among: the store refuses the settlement if they changed
    while the screen was open (a sync brought another value, or it was settled elsewhere)."""
    return tuple(h.op_id for h in conflict.heads)


class SettleValueModal(FormModal):
    """Settle a conflict with a value none of the heads has."""

    TITLE_TEXT = TEXT["value_title"]

    def __init__(self, record: Record, conflict: ConflictView) -> None:
        super().__init__(record)
        self.conflict = conflict

    def body(self) -> ComposeResult:
        c = self.conflict
        sep = "；" if self.lang == "zh" else "; "
        values = sep.join(cell_text(c, h.value, self.lang, self.station.catalogue)
                          for h in c.heads)
        yield Prose(Text(self.t(TEXT["value_note"]).format(
            field=label(c.kind, c.field, self.lang), values=values)), id="form-note")
        yield self.label(TEXT["value"])
        yield LineInput(editable_text(c, c.heads[0].value, self.lang), id="settle-value")

    def on_mount(self) -> None:
        self.query_one("#settle-value", Input).focus()

    def apply(self) -> Record:
        text = self.query_one("#settle-value", Input).value
        return self.station.settle(self.conflict.id, value=text, seen=seen_heads(self.conflict))


class ConflictsScreen(ReadingScreen[None]):
    CSS_PATH = "conflicts.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("1", "pick(1)", "Keep", key_display="1-9", id="pick"),
        *[Binding(str(n), f"pick({n})", f"Keep {n}", show=False, id=f"pick-{n}")
          for n in range(2, 10)],
        Binding("e", "enter_value", "New value", id="value"),
        Binding("o", "open", "Open record", id="open"),
        Binding("f5", "refresh", "Refresh", id="refresh", show=False),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {
        "back": "返回", "pick": "采用", "value": "输入新值", "open": "打开记录",
        "refresh": "刷新", **{f"pick-{n}": f"采用 {n}" for n in range(2, 10)}}

    def __init__(self, record: str | None = None) -> None:
        super().__init__()
        self.focus_record = record
        self.found: list[ConflictView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.t(TEXT["loading"]), id="conflicts-count")
        yield FittedTable(id="conflicts-list", cursor_type="row", zebra_stripes=True)
        yield Static("", id="conflicts-field")
        yield Horizontal(id="conflicts-heads")
        yield Prose(self.t(TEXT["hint"]), id="conflicts-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.t(UI["conflicts"])
        table = self.query_one(DataTable)
        self.add_columns(table, (("receipt", UI["receipt"]), ("kind", UI["kind"]),
                                 ("name", UI["name"]), ("field", TEXT["field"]),
                                 ("values", TEXT["values"])))
        table.focus()

    def read(self, reader: Station) -> tuple[Any, ...]:
        found = reader.conflicts()
        return found, {c.record: reader.names.name(c.record) for c in found}

    def show(self, found: list[ConflictView], names: dict[str, str]) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        if self.focus_record is not None:
            keep = next((i for i, c in enumerate(found) if c.record == self.focus_record),
                        keep)
            self.focus_record = None
        self.found = found
        table.clear()
        for c in found:
            table.add_row(c.receipt or c.record[:8], pick(KIND[c.kind], self.lang),
                          Text(names.get(c.record) or "—"),
                          label(c.kind, c.field, self.lang), str(len(c.heads)), key=c.id)
        self.query_one("#conflicts-count", Static).update(
            self.t(TEXT["count"]).format(**number_words(len(found))) if found
            else self.t(TEXT["none"]))
        self.query_one("#conflicts-hint").display = bool(found)
        if found:
            table.move_cursor(row=max(0, min(keep, len(found) - 1)))
        self.show_heads()
        self.refresh_bindings()

    def current(self) -> ConflictView | None:
        table = self.query_one(DataTable)
        if not self.found or not 0 <= table.cursor_row < len(self.found):
            return None
        return self.found[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_heads()

    def show_heads(self) -> None:
        box = self.query_one("#conflicts-heads", Horizontal)
        box.remove_children()
        c = self.current()
        field_line = self.query_one("#conflicts-field", Static)
        if c is None:
            field_line.update("")
            return
        field_line.update(Text(f"{label(c.kind, c.field, self.lang)} · "
                               f"{c.receipt or c.record[:8]}", style="bold"))
        # a conflict only the town centre settles offers nothing to pick: it says who settles
        self.query_one("#conflicts-hint", Static).update(Text(
            c.centre_refusal().message(self.lang) if c.centre_settles else self.t(TEXT["hint"])))
        self.refresh_bindings()
        tz = self.station.now().tzinfo
        cards = [Static(self.head_text(c, i, tz), classes="conflict-head"
                        + (" provisional" if i == 1 else ""))
                 for i in range(1, len(c.heads) + 1)]
        box.mount_all(cards)

    def head_text(self, c: ConflictView, n: int, tz: dt.tzinfo | None) -> Text:
        head = c.heads[n - 1]
        text = Text()
        text.append(f" {n} " if not c.centre_settles else " · ", style="reverse bold")
        if n == 1:
            text.append(" " + self.t(TEXT["provisional"]), style="italic")
        text.append("\n")
        text.append(cell_text(c, head.value, self.lang, self.station.catalogue) + "\n",
                    style="bold")
        for key, value in (("author", head.author), ("device", head.device),
                           ("time", when(head.hlc, tz))):
            text.append(f"{self.t(TEXT[key])} ", style="dim")
            text.append(f"{value}\n" if key != "time" else value)
        return text

    def settleable(self) -> ConflictView | None:
        """The highlighted conflict if a station may settle it; else None, having said why."""
        c = self.current()
        if c is not None and c.centre_settles:
            self.sapp.say_error(c.centre_refusal())
            return None
        return c

    def action_pick(self, n: int) -> None:
        c = self.settleable()
        if c is None:
            return
        if not 1 <= n <= len(c.heads):
            self.notify(self.t(TEXT["only"]).format(n=len(c.heads)), severity="warning")
            return
        try:
            self.station.settle(c.id, pick=n, seen=seen_heads(c))
        except StationError as exc:
            self.sapp.say_error(exc)
        except Exception as exc:  # never a traceback: say it, nothing was settled
            self.log.error(repr(exc))
            self.notify(self.t(INTERNAL).format(e=f"{type(exc).__name__}: {exc}"),
                        severity="error", timeout=10)
        else:
            self.settled(c, c.heads[n - 1].value)
        self.load()

    def settled(self, c: ConflictView, value: Any) -> None:
        self.notify(self.t(TEXT["settled"]).format(
            field=label(c.kind, c.field, self.lang),
            value=cell_text(c, value, self.lang, self.station.catalogue)), timeout=4)

    def action_enter_value(self) -> None:
        c = self.settleable()
        if c is None:
            return
        try:
            record = self.station.get(c.record)
        except StationError as exc:
            self.sapp.say_error(exc)
            return

        def done(saved: Record | None) -> None:
            if saved is not None:
                value = saved.status if c.field == "status" else saved.fields.get(c.field)
                self.settled(c, value)  # the list is read again on screen resume

        self.app.push_screen(SettleValueModal(record, c), done)

    @on(DataTable.RowSelected)
    def selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from station.tui.screens import make_record
        from station.tui.screens.record import RecordScreen

        c = self.current()
        if c is None:
            return
        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None
        if isinstance(below, RecordScreen) and below.record_id == c.record:
            self.app.pop_screen()  # back to the record this screen was opened from
        else:
            self.app.push_screen(make_record(c.record))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pick", "enter_value"):
            c = self.current()  # shown greyed out, not hidden, when only the centre settles it
            return None if c is not None and c.centre_settles else bool(self.found)
        if action == "open":
            return bool(self.found)
        return True
