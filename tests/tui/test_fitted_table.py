"""The tables the app fills from a worker (conflicts, a resident's records, reports) draw
their header at the widths of the rows below it, from the first picture after the rows are
measured: Textual's own DataTable kept the header drawn before, narrow, in its line cache."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from station.tui.widgets.fitted_table import FittedTable


class _OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield FittedTable(cursor_type="row")


def test_the_header_lines_up_with_rows_added_after_it_was_drawn():
    drawn: list[tuple[str, str]] = []

    async def run() -> None:
        app = _OneTable()
        async with app.run_test(size=(100, 10)) as pilot:
            table = app.query_one(FittedTable)
            table.add_columns("Receipt", "Kind")
            await pilot.pause()
            table.add_row("V001-20261123-0001", "resident")
            table.render_line(0)  # a picture painted before the new row is measured
            app.call_later(lambda: drawn.append((table.render_line(0).text,
                                                 table.render_line(1).text)))
            await pilot.pause()
            await pilot.pause()

    asyncio.run(run())
    header, row = drawn[0]
    assert header.index("Kind") == row.index("resident"), (header, row)
