"""A fast list of records: fixed columns, one line per record, a cursor, Enter to open.

The record lists redraw on every keystroke of a search. Textual's ``DataTable`` renders each
cell through Rich (padding, measuring, cropping): ~40 ms for a screenful, most of the
keystroke budget. Here a row is one pre-formatted line (cells cut to their column's width in
terminal cells, so Chinese names line up) drawn with the Line API: only the visible lines are
built, as plain segments, when they are shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


def cut(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` terminal cells, else cut to end in "…" right after
    the last character that fits. Rich pads a Chinese character halved by the cut with a
    space (and its ``Text.truncate`` does too): "养老保 …" would look like two words."""
    if cell_len(text) <= width:
        return text
    kept = set_cell_size(text, width - 1)
    if kept != text[:len(kept)]:  # the pad that stands for half a wide character
        kept = kept[:-1]
    return kept + "…"


def fit(text: str, width: int) -> str:
    """``text`` padded or cut to exactly ``width`` terminal cells (… where cut)."""
    return set_cell_size(cut(text, width), width)


class RecordTable(ScrollView, can_focus=True):
    """Rows of (key, cells) under a header line that stays put while the rows scroll."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"record-table--header", "record-table--cursor"}
    DEFAULT_CSS = """
    RecordTable { height: 1fr; background: $surface; }
    RecordTable > .record-table--header { text-style: bold; background: $panel; }
    RecordTable > .record-table--cursor {
        background: $block-cursor-blurred-background;
    }
    RecordTable:focus > .record-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "move(-1_000_000)", show=False),
        Binding("end", "move(1_000_000)", show=False),
    ]

    cursor: reactive[int] = reactive(0)

    class Selected(Message):
        """Enter (or a click on the highlighted row): open the record ``key``."""

        def __init__(self, table: RecordTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RecordTable:
            return self.table

    FLEX_MIN = 8  # the widest column's least width, on a narrow terminal

    def __init__(self, columns: list[tuple[str, int]], *, id: str | None = None) -> None:
        """``columns``: (label, width in cells); width 0 is the one that takes what is left
        of the terminal's width (a matter's name), so 80 columns show every column."""
        super().__init__(id=id)
        self.columns = columns
        self.keys: list[str] = []
        self._cells: list[list[str]] = []
        self._widths: list[int] = []
        self._lines: list[str] = []
        self._header = ""
        self._width = 0

    def _line(self, cells: list[str]) -> str:
        return "".join(" " + fit(cell, width) + " "
                       for cell, width in zip(cells, self._widths, strict=True))

    def _layout(self) -> None:
        """Column widths for the current width, and every line formatted for them."""
        fixed = sum(width + 2 for _, width in self.columns if width)
        # Leave room for the scrollbar whether or not it shows yet: it appears after the
        # rows arrive, without a resize, and would push the last column out of sight.
        room = self.content_region.width - self.styles.scrollbar_size_vertical
        flex = max(self.FLEX_MIN, room - fixed - 2)
        self._widths = [width or flex for _, width in self.columns]
        self._header = self._line([label for label, _ in self.columns])
        self._width = cell_len(self._header)
        self._lines = [self._line(cells) for cells in self._cells]
        self.virtual_size = Size(self._width, len(self._lines) + 1)

    def on_resize(self) -> None:
        self._layout()
        self._show_cursor()
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.keys)

    @property
    def cursor_key(self) -> str | None:
        return self.keys[self.cursor] if self.keys else None

    def set_rows(self, rows: list[tuple[str, list[str]]]) -> None:
        """Show these rows; the cursor stays on the same record if it is still listed."""
        kept = self.cursor_key
        self.keys = [key for key, _ in rows]
        self._cells = [cells for _, cells in rows]
        self._layout()
        self.set_reactive(RecordTable.cursor, self.keys.index(kept) if kept in self.keys else 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._show_cursor()
        self.refresh()

    def move_to(self, key: str) -> None:
        self.cursor = self.keys.index(key)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:
            text, style = self._header, self.get_component_rich_style("record-table--header")
        else:
            index = scroll_y + y - 1
            if index >= len(self._lines):
                return Strip.blank(width, self.rich_style)
            text = self._lines[index]
            style = (self.get_component_rich_style("record-table--cursor")
                     if index == self.cursor else self.rich_style)
        strip = Strip([Segment(text, style)], cell_len(text))
        return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)

    def watch_cursor(self, old: int, new: int) -> None:
        self._show_cursor()
        self.refresh()

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.keys) - 1))

    def _show_cursor(self) -> None:
        """Scroll so the cursor's row is in view (the header takes the first line)."""
        rows = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        self.cursor += step

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(1, self.scrollable_content_region.height - 1)

    def action_select(self) -> None:
        if self.keys:
            self.post_message(self.Selected(self, self.keys[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = self.scroll_offset.y + offset.y - 1
        if index < len(self.keys):
            if index == self.cursor:
                self.action_select()
            self.cursor = index
