"""Textual's ``DataTable`` with a header that always lines up with its rows.

``DataTable`` caches each drawn line by its position, and measures its columns only when
idle. When a screen fills a table from a worker, the header drawn before the rows were
measured stays in that cache at the old, narrow widths while the rows below are drawn at the
new ones: "Receipt  Kind  Name" over "V001-20261123-0001  resident  王桂英" until something
else redraws it. Measuring changes the table's virtual size, so that is when the cache is
dropped here.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


class FittedTable(DataTable[Any]):
    """A ``DataTable`` whose header is drawn again whenever its columns are measured."""

    def watch_virtual_size(self) -> None:
        self.notify_style_update()  # drops the drawn-line caches and redraws
