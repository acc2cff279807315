"""``station export``: lists and figures to CSV, JSON or XLSX — personal data in plaintext."""

from __future__ import annotations

from pathlib import Path

import click

from station.cli.common import Env, common
from station.cli.followup import SETTLE_AT_STATION, MonthType
from station.cli.vault import unlock
from station.domain.followup import Month, provisional_note
from station.domain.records import SCHEMAS
from station.store.export import FORMATS, figures_table, record_table, write


@click.command("export")
@click.argument("fmt", metavar="csv|json|xlsx", type=click.Choice(FORMATS))
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
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
                             f"Exported {len(rows)} rows to {path}"))
