"""``station export``: lists and figures to CSV, JSON or XLSX — personal data in plaintext."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from station.cli.common import Env, NewFile, UsageProblem, common
from station.cli.followup import SETTLE_AT_STATION, MonthType
from station.cli.vault import unlock
from station.domain.english import counted
from station.domain.followup import Month, provisional_note
from station.domain.records import SCHEMAS
from station.store.export import FORMATS, figures_table, record_table, write


class ByNeedsReport(UsageProblem):
    code = "cli.export.by_needs_report"
    zh = ("--by 只用于统计数字：请加上 --what report，例如 station export csv 报表.csv "
          "--what report --by matter；没有导出（不加时导出的是含居民个人信息的记录）")
    en = ("--by groups the figures only: add --what report, e.g. station export csv "
          "report.csv --what report --by matter; nothing was exported (without it the "
          "export is the records, with residents' personal data)")


class KindNeedsRecords(UsageProblem):
    code = "cli.export.kind_needs_records"
    zh = ("--kind 只用于导出记录；统计数字（--what report）包括所有代办件和上门服务，"
          "不能按类型选择；没有导出")
    en = ("--kind chooses which records to export; the figures (--what report) cover every "
          "application and visit and cannot be chosen by kind; nothing was exported")


def refuse_mixed(what: str, by: str | None) -> None:
    """Options of the other kind of export are refused, not ignored: ``--by`` without
    ``--what report`` would write every resident's details in plaintext to a file its
    author thinks holds only figures, and ``--kind`` with it figures of another choice."""
    kind_given = (click.get_current_context().get_parameter_source("kind")
                  is ParameterSource.COMMANDLINE)
    if what == "records" and by is not None:
        raise ByNeedsReport()
    if what == "report" and kind_given:
        raise KindNeedsRecords()


@click.command("export")
@click.argument("fmt", metavar="csv|json|xlsx", type=click.Choice(FORMATS))
@click.argument("path", type=NewFile())
@click.option("--what", type=click.Choice(["records", "report"]), default="records",
              show_default=True, help="Records (with residents' details) or the figures.")
@click.option("--kind", type=click.Choice(list(SCHEMAS)), default="application",
              show_default=True, help="Which records.")
@click.option("--month", type=MonthType(), help="Only this month (records received, closed "
              "or visited in it; the figures of it).")
@click.option("--by", type=click.Choice(["matter", "channel"]), help="Group the figures.")
@common(json_output=True)
def export_cmd(env: Env, fmt: str, path: Path, what: str, kind: str, month: Month | None,
               by: str | None) -> None:
    """Export records or the month's figures. Records leave the vault in plaintext."""
    refuse_mixed(what, by)
    note = None
    with unlock(env) as station:
        if what == "records":
            header, rows = record_table(station, kind=kind, month=month)
        else:
            groups = station.report(month or Month.of(station.today()), by=by)
            header, rows = figures_table(groups)
            note = provisional_note(groups, SETTLE_AT_STATION)
    write(path, fmt, header, rows, home=env.home)
    if note:  # the file has the count in its "conflicted" column; the person is told why
        env.say(*note)
    if what == "records":
        env.say(f"注意：{path} 含居民个人信息（明文），请妥善保管，用完即删",
                f"Note: {path} holds residents' personal data in plaintext: keep it safe and "
                "delete it when done")
    env.emit({"path": str(path), "rows": len(rows), "format": fmt},
             lambda: env.say(f"已导出 {len(rows)} 行到 {path}",
                             f"Exported {counted(len(rows), 'row')} to {path}"))
