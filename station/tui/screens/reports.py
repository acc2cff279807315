"""The month's figures (DESIGN §1): a table, bars for the four rates, a six-month trend, and
the figures by matter. ←/→ change the month.

The figures come from ``Station.report`` (the same numbers as ``station report``), read in a
worker on the reader connection; the trend reads the records' facts once and counts each
month with the same function. A rate with nothing to divide by is "—", never 0% or 100%.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from station.domain.followup import Figures, Month, figures, provisional_note
from station.tui.screens.base import StationScreen
from station.tui.screens.sync import ScreenActions
from station.tui.text import UI, Pair
from station.tui.widgets.fitted_table import FittedTable
from station.tui.widgets.prose import Prose
from station.tui.widgets.record_table import cut

TEXT: dict[str, Pair] = {
    "title": ("{month} 月度报表 · {name}（{id}）", "{month} figures · {name} ({id})"),
    "hint": ("←/→ 切换月份，t 回到本月", "←/→ change the month, t this month"),
    "item": ("项目", "Figure"),
    "value": ("数值", "Value"),
    "received": ("受理", "Received"),
    "active": ("在办", "Active"),
    "completed": ("办结", "Completed"),
    "completion_rate": ("办结率", "Completion rate"),
    "on_time_rate": ("按时办结率", "On-time rate"),
    "to_contact": ("应联系", "To contact"),
    "contacted": ("已联系", "Contacted"),
    "contact_rate": ("联系率", "Contact rate"),
    "ratings": ("评价 好/中/差", "Ratings g/a/p"),
    "satisfaction_rate": ("满意率", "Satisfaction"),
    "good_rate": ("好评率", "Good rate"),
    "open_poor": ("差评待整改", "Open poor"),
    "rates": ("{month} 各项比率", "Rates, {month}"),
    "bar_completion": ("办结率", "completion"),
    "bar_on_time": ("按时率", "on time"),
    "bar_contact": ("联系率", "contact"),
    "bar_satisfaction": ("满意率", "satisfied"),
    "trend": ("近六个月  办结率 / 满意率", "Last 6 months  completion / satisfaction"),
    "by_matter": ("按事项", "By matter"),
    "matter": ("事项", "Matter"),
    "other": ("上门服务等", "Visits, other"),
    "loading": ("正在统计……", "Counting…"),
    # names the month: browsing back with ←, "this month" read as if the table were for now
    "empty": ("{month} 没有可统计的办件", "Nothing to count in {month}"),
    "settle": ("首页按 c 处理冲突", "press c on the dashboard to settle them"),
}

# (metric, the rate's top and bottom for "12/40"), in the order the table shows them
ROWS: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("received", None), ("active", None), ("completed", None),
    ("completion_rate", ("completed", "active")),
    ("on_time_rate", ("completed_on_time", "completed")),
    ("to_contact", None), ("contacted", None),
    ("contact_rate", ("contacted", "to_contact")),
    ("ratings", None),
    ("satisfaction_rate", ("satisfied", "ratings")),
    ("good_rate", ("good", "ratings")),
    ("open_poor", None),
)
BARS = (("bar_completion", "completion_rate"), ("bar_on_time", "on_time_rate"),
        ("bar_contact", "contact_rate"), ("bar_satisfaction", "satisfaction_rate"))
# The completion rate is done out of active (cases open at any time in the month), not out
# of received: "received 0, done 0, 0.0%" for a matter still in hand read as a wrong figure
# until the active column showed what it is out of.
MATTER_COLUMNS: tuple[tuple[str, Pair], ...] = (
    ("matter", ("事项", "Matter")), ("received", ("受理", "Recv.")),
    ("active", ("在办", "Active")), ("completed", ("办结", "Done")),
    ("completion_rate", ("办结率", "Compl.")), ("on_time_rate", ("按时率", "On time")),
    ("satisfaction_rate", ("满意率", "Satisf.")))
EIGHTHS = " ▏▎▍▌▋▊▉"
TREND_MONTHS = 6
LABEL_CELLS = 11


def percent(rate: float | None) -> str:
    """A rate as the reports show it; "—" when there is nothing to divide by."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def bar(rate: float | None, width: int) -> str:
    """A horizontal bar in eighths of a cell; an empty track for no rate."""
    if rate is None:
        return "·" * width
    cells = max(0.0, min(1.0, rate)) * width
    full = int(cells)
    part = EIGHTHS[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + part.strip()).ljust(width, " ")


def shift(month: Month, by: int) -> Month:
    index = month.year * 12 + month.month - 1 + by
    return Month(index // 12, index % 12 + 1)


def value_of(f: Figures, metric: str) -> int | float | None:
    if metric == "satisfied":
        return f.good + f.average
    return getattr(f, metric)  # type: ignore[no-any-return]


def cell(f: Figures, metric: str, parts: tuple[str, str] | None) -> str:
    """What the table shows for one metric: counts as numbers, rates with their fraction."""
    if metric == "ratings":
        return f"{f.ratings} ({f.good}/{f.average}/{f.poor})"
    if parts is None:
        return str(value_of(f, metric))
    rate = value_of(f, metric)
    top, bottom = value_of(f, parts[0]), value_of(f, parts[1])
    return f"{percent(rate)} ({top}/{bottom})" if bottom else "—"


class ReportsScreen(StationScreen[None]):
    """One month's figures, with charts; the month moves with ←/→."""

    CSS_PATH = "reports.tcss"
    AUTO_FOCUS = "#reports-body"
    COMMANDS: ClassVar[set[Any]] = {ScreenActions}
    PALETTE: ClassVar[list[tuple[Pair, Pair, str]]] = [
        (("上个月", "Previous month"), ("看上个月的报表", "The month before"), "previous"),
        (("下个月", "Next month"), ("看下个月的报表", "The month after"), "next"),
        (("本月报表", "This month"), ("回到本月", "Back to this month"), "this_month"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "month(-1)", "Previous month", id="prev-month", priority=True),
        Binding("right", "month(1)", "Next month", id="next-month", priority=True),
        Binding("comma", "month(-1)", "Previous month", id="prev-month-alt", show=False),
        Binding("full_stop", "month(1)", "Next month", id="next-month-alt", show=False),
        Binding("t", "this_month", "This month", id="this-month"),
        Binding("escape", "app.pop_screen", "Back", id="back"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {
        "prev-month": "上个月", "next-month": "下个月", "prev-month-alt": "上个月",
        "next-month-alt": "下个月", "this-month": "本月", "back": "返回"}

    def __init__(self, month: Month | None = None) -> None:
        super().__init__()
        self.month = month or Month.of(self.station.today())
        self.figures: Figures | None = None  # what is shown, for tests and exports
        self.by_matter: dict[str, Figures] = {}  # shown again, to fit, when the size changes
        self.shown_month = self.month  # whose figures by matter those are

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="reports-body"):
            yield Static("", id="reports-title")
            yield Prose("", id="reports-provisional")
            yield Static(self.t(TEXT["hint"]), id="reports-hint")
            with Horizontal(id="reports-top"):
                yield FittedTable(id="reports-figures", cursor_type="none", zebra_stripes=True)
                yield Static(self.t(TEXT["loading"]), id="reports-charts")
            yield Static(self.t(TEXT["by_matter"]), id="reports-matter-title")
            yield FittedTable(id="reports-matters", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.t(UI["reports"])
        table = self.query_one("#reports-figures", DataTable)
        table.can_focus = False
        table.add_column(self.t(TEXT["item"]), key="item")
        table.add_column(self.t(TEXT["value"]), key="value")
        self.query_one("#reports-matters", DataTable).can_focus = False
        self.load(self.month)

    def on_screen_resume(self) -> None:
        self.load(self.month)

    def reread(self) -> None:
        """A background merge (what a cron sync kept) changed the month's figures."""
        self.load(self.month)

    def action_month(self, by: int) -> None:
        self.month = shift(self.month, by)
        self.load(self.month)

    def action_previous(self) -> None:
        self.action_month(-1)

    def action_next(self) -> None:
        self.action_month(1)

    def action_this_month(self) -> None:
        self.month = Month.of(self.station.today())
        self.load(self.month)

    @work(thread=True, exclusive=True, group="reports", exit_on_error=False,
          description="monthly figures")
    def load(self, month: Month) -> None:
        worker = get_current_worker()
        with self.reading() as reader:
            overall = reader.report(month).get("all", Figures())
            by_matter = reader.report(month, by="matter")
            facts = reader.facts()
            today = reader.today()
        trend = []
        for back in range(TREND_MONTHS - 1, -1, -1):
            m = shift(month, -back)
            trend.append((m, figures(facts, m, today).get("all", Figures())))
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show, month, overall, by_matter, trend)

    def show(self, month: Month, overall: Figures, by_matter: dict[str, Figures],
             trend: list[tuple[Month, Figures]]) -> None:
        if month != self.month:
            return  # an answer for a month the agent has already left
        self.figures = overall
        self.shown_month = month
        self.query_one("#reports-title", Static).update(self.t(TEXT["title"]).format(
            month=month, name=self.station.station_name, id=self.station.station_id))
        self.show_provisional(overall)
        table = self.query_one("#reports-figures", DataTable)
        table.clear()
        for metric, parts in ROWS:
            value = cell(overall, metric, parts)
            style = "bold red" if metric == "open_poor" and overall.open_poor else ""
            table.add_row(self.t(TEXT[metric]), Text(value, style=style, justify="right"),
                          key=metric)
        self.query_one("#reports-charts", Static).update(self.charts(overall, trend))
        self.show_matters(by_matter)

    def show_provisional(self, overall: Figures) -> None:
        """Above the figures, when cases with open conflicts were counted: how many, and
        that the figures may change once they are settled (hidden when there are none)."""
        note = provisional_note({"all": overall}, TEXT["settle"])
        box = self.query_one("#reports-provisional", Static)
        box.update(self.t(note) if note else "")
        box.display = note is not None

    def charts(self, f: Figures, trend: list[tuple[Month, Figures]]) -> Text:
        out = Text(self.t(TEXT["rates"]).format(month=self.month) + "\n", style="bold")
        for label, metric in BARS:
            rate = getattr(f, metric)
            name = self.t(TEXT[label])
            out.append(name + " " * max(1, LABEL_CELLS - cell_len(name)))
            out.append(bar(rate, 20), style="green" if metric != "satisfaction_rate"
                       else "cyan")
            out.append(f" {percent(rate):>6}\n", style="" if rate is not None else "dim")
        out.append("\n" + self.t(TEXT["trend"]) + "\n", style="bold")
        for m, g in trend:
            out.append(f"{m} ")
            for rate, colour in ((g.completion_rate, "green"), (g.satisfaction_rate, "cyan")):
                out.append(bar(rate, 8), style=colour if rate is not None else "dim")
                text = "—" if rate is None else f"{rate * 100:.0f}%"
                out.append(f" {text:>4}  ", style="" if rate is not None else "dim")
            out.append("\n")
        out.rstrip()
        return out

    def on_resize(self) -> None:
        self.show_matters(self.by_matter)

    def show_matters(self, by_matter: dict[str, Figures]) -> None:
        """The figures by matter. Matter names are long (民政、社保事项 run to 30 cells):
        their column takes the width the numbers leave, no more than the longest name
        needs, and a name that still does not fit ends in "…" rather than being cut."""
        self.by_matter = by_matter
        catalogue = self.station.catalogue
        found = [(code, f) for code, f in by_matter.items()
                 if f.received or f.active or f.completed or f.ratings]
        found.sort(key=lambda item: (item[0] == "-", -item[1].active, -item[1].received,
                                     item[0]))
        rows: list[tuple[str, list[str]]] = []
        for code, f in found:
            if code == "-":
                name = self.t(TEXT["other"])
            elif code in catalogue:
                name = catalogue.get(code).name(self.lang)
            else:
                name = code
            rows.append((code, [name, str(f.received), str(f.active), str(f.completed),
                                percent(f.completion_rate), percent(f.on_time_rate),
                                percent(f.satisfaction_rate)]))
        if not rows:
            empty = self.t(TEXT["empty"]).format(month=self.shown_month)
            rows.append(("-empty", [empty, *[""] * (len(MATTER_COLUMNS) - 1)]))
        table = self.query_one("#reports-matters", DataTable)
        labels = [self.t(label) for _, label in MATTER_COLUMNS]
        widths = [max(cell_len(text) for text in [label, *(cells[i] for _, cells in rows)])
                  for i, label in enumerate(labels)]
        room = (self.query_one("#reports-body").scrollable_content_region.width
                - 2 * table.cell_padding * len(widths) - sum(widths[1:]) - 2)
        widths[0] = max(min(widths[0], room), cell_len(labels[0]), 8)
        table.clear(columns=True)
        for (key, _), label, width in zip(MATTER_COLUMNS, labels, widths, strict=True):
            table.add_column(label, key=key, width=width)
        for key, (name, *numbers) in rows:
            table.add_row(Text(cut(name, widths[0])),
                          *(Text(n, justify="right") for n in numbers), key=key)
        # Room for every row: the page scrolls, not the table inside it. A DataTable stops
        # at the page's height (max-height: 100%), and its own scrollbar then covered the
        # last column's last character ("100.0" for "100.0%") at 80 columns.
        table.styles.max_height = table.header_height + len(rows)
