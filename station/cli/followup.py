"""``station due | contact | rate | followup | report``: following every case to the end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.table import Table

from station.cli.common import Env, UsageProblem, common
from station.cli.records import console, print_summaries
from station.cli.vault import unlock
from station.domain.followup import Facts, Figures, Month, provisional_note
from station.domain.records import CONTACT_VIAS, RATINGS, choice_label
from station.store.service import Station


class BadMonth(UsageProblem):
    code = "cli.bad_month"
    zh = "--month 的“{value}”不是月份：请写成 年-月，如 2026-11（2000 至 2200 年）"
    en = ("“{value}” given for --month is not a month: write year-month, e.g. 2026-11 "
          "(years 2000 to 2200)")


class MonthType(click.ParamType):
    """``--month 2026-11``; anything else is a usage error in the person's language."""

    name = "month"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Month:
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(str(value))
        except ValueError:
            raise BadMonth(value=str(value)) from None


def _summaries(station: Station, facts: list[Facts]) -> list[Any]:
    ids = [f.id for f in facts]
    found = {s.id: s for s in station.list(ids=ids)} if ids else {}
    return [found[i] for i in ids if i in found]


@click.command("due")
@click.option("--month", type=MonthType(), help="Which month (default: this one), e.g. 2026-11.")
@common(json_output=True)
def due_cmd(env: Env, month: Month | None) -> None:
    """This month's open cases: to resolve, to contact (overdue ones first)."""
    with unlock(env) as station:
        lists = station.due(month)
        groups = {"overdue": lists.overdue, "to_resolve": lists.to_resolve,
                  "to_contact": lists.to_contact}
        data = {"month": lists.month, **{k: [s.as_dict() for s in _summaries(station, v)]
                                         for k, v in groups.items()}}

        def human() -> None:
            titles = {"overdue": ("已超期", "Overdue"),
                      "to_resolve": ("本月到期，需办结", "Due this month: to resolve"),
                      "to_contact": ("本月需联系", "To contact this month")}
            for key, rows in groups.items():
                zh, en = titles[key]
                env.say(f"\n{zh}（{len(rows)}）— {lists.month}", f"\n{en} ({len(rows)}) — "
                        f"{lists.month}")
                if rows:
                    print_summaries(env, _summaries(station, rows), station)

        env.emit(data, human)


@click.command("contact")
@click.argument("ref")
@click.option("--via", type=click.Choice(CONTACT_VIAS), required=True,
              help="How the resident was reached (message: SMS or WeChat).")
@click.option("--note", required=True, help="What was said or done.")
@click.option("--outcome", default="", help="The result, e.g. 已告知补交材料.")
@common(json_output=True)
def contact_cmd(env: Env, ref: str, via: str, note: str, outcome: str) -> None:
    """Log a contact with the resident about a case."""
    with unlock(env) as station:
        record = station.add_contact(ref, via, note, outcome)
    env.emit(record.as_dict(), lambda: env.say(f"已记录 {record.receipt} 的联系",
                                               f"Logged a contact on {record.receipt}"))


@click.command("rate")
@click.argument("ref")
@click.argument("grade", type=click.Choice(RATINGS))
@click.option("--comment", default="", help="What the resident said.")
@common(json_output=True)
def rate_cmd(env: Env, ref: str, grade: str, comment: str) -> None:
    """Record the resident's one rating (好差评) of a finished service."""
    with unlock(env) as station:
        record = station.rate(ref, grade, comment)

    def human() -> None:
        env.say(f"已记录 {record.receipt} 的评价", f"Recorded the rating of {record.receipt}")
        if grade == "poor":
            env.say("差评已开启整改，请跟进后用 station followup close 关闭",
                    "A follow-up is open for this poor rating: close it with "
                    "`station followup close` once handled")

    env.emit(record.as_dict(), human)


@click.group("followup")
def followup_group() -> None:
    """Follow-ups of poor ratings (差评整改)."""


@followup_group.command("close")
@click.argument("ref")
@click.option("--note", required=True, help="What was done about it.")
@common(json_output=True)
def followup_close(env: Env, ref: str, note: str) -> None:
    """Close the follow-up of a poor rating."""
    with unlock(env) as station:
        record = station.close_followup(ref, note)
    env.emit(record.as_dict(), lambda: env.say(f"{record.receipt} 的差评整改已关闭",
                                               f"Closed the follow-up of {record.receipt}"))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


FIGURE_LABELS = (
    ("received", "受理", "received"), ("active", "在办", "active"),
    ("completed", "办结", "completed"), ("completion_rate", "办结率", "completion rate"),
    ("on_time_rate", "按时办结率", "on-time rate"), ("to_contact", "应联系", "to contact"),
    ("contact_rate", "联系率", "contact rate"), ("ratings", "评价", "ratings"),
    ("satisfaction_rate", "满意率", "satisfaction"), ("open_poor", "差评待整改", "open poor"),
)


SETTLE_AT_STATION = ("station conflicts", "station conflicts")  # where a station settles them
WHOLE = ("全部", "all")  # the one group of figures that are not grouped
# the group of what has no matter or channel to be grouped by: the visits' ratings
UNGROUPED = ("（无，如上门服务）", "(none, e.g. visits)")


def group_label(env: Env, name: str, by: str | None,
                names: Mapping[str, Sequence[str]]) -> str:
    """A group's name as the person reads it: the domain names the whole ``all`` and what
    has nothing to group by ``-``, a channel by its code, and a matter or department by what
    the catalogue calls it (``names``); a Chinese table read 'all', 'home_visit' and a bare
    '-'."""
    if by is None and name == "all":
        return env.t(*WHOLE)
    if name == "-":
        return env.t(*UNGROUPED)
    if name in names:
        zh, en = names[name]
        return env.t(zh, en)
    return choice_label(name, env.lang) if by == "channel" else name


def print_figures(env: Env, groups: dict[str, Figures], label: str,
                  settle: tuple[str, str] = SETTLE_AT_STATION, by: str | None = None,
                  names: Mapping[str, Sequence[str]] | None = None) -> None:
    """The figures as a table, and under it, when cases with open conflicts were counted,
    how many and that their figures may still change. An English header has a line per word,
    so that at 120 columns none is cut ('satisfacti…') to fit the longer ones."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column(label)
    for _, zh, en in FIGURE_LABELS:
        table.add_column(env.t(zh, en.replace(" ", "\n")), justify="right")
    for name, f in sorted(groups.items()):
        values = f.as_dict()
        table.add_row(group_label(env, name, by, names or {}),
                      *[percent(values[k]) if k.endswith("rate") else str(values[k])
                        for k, _, _ in FIGURE_LABELS])
    console().print(table)
    if note := provisional_note(groups, settle):
        console().print(env.t(*note))


@click.command("report")
@click.option("--month", type=MonthType(), help="Which month (default: this one).")
@click.option("--by", type=click.Choice(["matter", "channel"]), help="Group the figures.")
@common(json_output=True)
def report_cmd(env: Env, month: Month | None, by: str | None) -> None:
    """The month's figures: completion, on-time, contact and satisfaction rates."""
    with unlock(env) as station:
        chosen = month or Month.of(station.today())
        groups = station.report(chosen, by=by)
        names = station.catalogue.group_names(by, groups)
    data = {"month": str(chosen), "by": by,
            "conflicted": sum(g.conflicted for g in groups.values()),
            "figures": {k: v.as_dict() for k, v in groups.items()}, "names": names}
    env.emit(data, lambda: print_figures(env, groups, env.t("分组", by or "station"), by=by,
                                         names=names))
