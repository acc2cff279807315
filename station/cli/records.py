"""``station import | list | show | edit | catalogue``: records from the command line.

Each command is a few lines over ``Station``; scripted edits obey the same rules as the TUI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from station.cli.common import Env, ExistingFile, UsageProblem, common, progress_bar
from station.cli.vault import unlock
from station.domain.chinatime import china_time
from station.domain.english import agrees, counted
from station.domain.records import SCHEMAS, field_for, split_items
from station.domain.status import LATTICES
from station.domain.workdays import ESTIMATE
from station.store.importer import ImportRefused, ImportReport, import_file
from station.store.projection import Record
from station.store.service import Station, Summary, current_catalogue

KIND_ZH = {"application": "代办件", "visit": "上门服务", "resident": "居民"}


def console() -> Console:
    # Piped output is read by people too (less, a printout): at least 120 columns.
    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    return console


def status_label(kind: str, status: str, lang: str) -> str:
    lattice = LATTICES[kind]
    return lattice.label(status, lang) if status in lattice.states else status


def print_summaries(env: Env, rows: list[Summary], station: Station) -> None:
    cells = []
    for s in rows:
        matter = ""
        if s.matter and s.matter in station.catalogue:
            matter = station.catalogue.get(s.matter).name(env.lang)
        cells.append((s.receipt or s.id, env.t(KIND_ZH[s.kind], s.kind),
                      status_label(s.kind, s.status, env.lang), s.name, matter,
                      s.next_due or "", str(s.conflicts or "")))
    table = Table(box=None, header_style="bold", pad_edge=False)
    headers = (("编号", "Receipt"), ("类型", "Kind"), ("状态", "Status"), ("姓名", "Name"),
               ("事项", "Matter"), ("到期", "Due"), ("冲突", "!"))
    for i, (zh, en) in enumerate(headers):
        # Everything but the matter's name keeps its full width; the name is cut to fit.
        widest = max((cell_len(row[i]) for row in cells), default=0)
        table.add_column(env.t(zh, en), no_wrap=True, overflow="ellipsis",
                         min_width=None if i == 4 else widest,
                         max_width=36 if i == 4 else None)
    for row in cells:
        table.add_row(*row)
    console().print(table)


@click.command("import")
@click.argument("path", type=ExistingFile())
@click.option("--kind", "default_kind", type=click.Choice(list(SCHEMAS)), default="resident",
              show_default=True, help="Kind of rows that do not say (CSV of residents).")
@click.option("--skip-bad", is_flag=True, help="Import the good rows, list the bad ones.")
@common(json_output=True)
def import_cmd(env: Env, path: Path, default_kind: str, skip_bad: bool) -> None:
    """Import records from a .csv or .jsonl file; nothing is half-imported."""
    with unlock(env) as station:
        try:
            with progress_bar(env, "导入", "Importing") as progress:
                report = import_file(station, path, default_kind=default_kind,
                                     skip_bad=skip_bad, progress=progress)
        except ImportRefused as exc:
            for row in exc.params["report"].bad[:50]:
                click.echo(row.message(env.lang), err=True)
            raise
    for row in report.bad[:50]:
        click.echo(row.message(env.lang), err=True)
    data = {"imported": report.imported, "skipped": len(report.bad),
            "bad_lines": [row.line for row in report.bad],
            "already_on_record": len(report.existing), "already_lines": report.existing,
            "already_imported": len(report.already_imported),
            "already_imported_lines": report.already_imported}
    env.emit(data, lambda: env.say(*_import_summary(report)))


def _import_summary(report: ImportReport) -> tuple[str, str]:
    """What an import did, in Chinese and English: rows imported, bad rows skipped,
    residents passed over because they are on record already, and rows passed over because
    an earlier import wrote them (the same file imported twice)."""
    zh, en = f"已导入 {report.imported} 条记录", f"Imported {counted(report.imported, 'record')}"
    if report.bad:
        zh += f"，跳过 {len(report.bad)} 行"
        en += f", skipped {counted(len(report.bad), 'bad row')}"
    if report.existing:
        n = len(report.existing)
        zh += f"；{n} 位居民已有记录（身份证号相同），未重复导入"
        en += (f"; {counted(n, 'resident')} {agrees(n, 'is', 'are')} on record already "
               f"(same ID number) and {agrees(n, 'was', 'were')} not imported again")
    if report.already_imported:
        n = len(report.already_imported)
        zh += f"；{n} 行在之前的导入中已经导入过，未重复导入"
        en += (f"; {counted(n, 'row')} {agrees(n, 'was', 'were')} imported before and "
               f"{agrees(n, 'was', 'were')} not imported again")
    return zh, en


@click.command("list")
@click.option("--kind", type=click.Choice(list(SCHEMAS)), help="Only this kind of record.")
@click.option("--status", help="Only this status (e.g. received, awaiting_materials).")
@click.option("--matter", help="Only this matter code.")
@click.option("--due", type=click.Choice(["overdue", "this_month", "to_resolve", "to_contact"]),
              help="Only records whose next step is overdue or due this month, or the "
                   "applications of this month's list to resolve or to contact (station due).")
@click.option("--search", "query", help="Name (or pinyin), receipt no., ID number or phone.")
@click.option("--limit", type=click.IntRange(1), help="At most this many.")
@common(json_output=True)
def list_cmd(env: Env, kind: str | None, status: str | None, matter: str | None,
             due: str | None, query: str | None, limit: int | None) -> None:
    """List records, newest first."""
    with unlock(env) as station:
        if query:
            rows = station.search(query, kind=kind, status=status, matter=matter, due=due,
                                  limit=limit or 200)
        else:
            rows = station.list(kind=kind, status=status, matter=matter, due=due, limit=limit)
        env.emit([s.as_dict() for s in rows], lambda: print_summaries(env, rows, station))


def _label(kind: str, name: str, lang: str) -> str:
    spec = field_for(kind, name)
    if spec is None:
        return name
    base = spec.zh if lang == "zh" else spec.en
    return f"{base} {name[len(spec.name) + 1:]}" if spec.merge == "map" else base


def print_record(env: Env, record: Record, station: Station) -> None:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row(env.t("编号", "Receipt"), record.receipt or record.id)
    table.add_row(env.t("类型", "Kind"), env.t(KIND_ZH[record.kind], record.kind))
    table.add_row(env.t("状态", "Status"),
                  status_label(record.kind, record.status["to"], env.lang)
                  + (env.t(f"（{record.status['reason']}）", f" ({record.status['reason']})")
                     if record.status.get("reason") else ""))
    from station.tui.screens.values import show  # how the app words each value

    estimate = env.t(*ESTIMATE) if station.promise_estimated(record) else ""
    for name, value in record.fields.items():
        if name == "receipt" or value in (None, [], ""):
            continue
        table.add_row(_label(record.kind, name, env.lang),
                      _worded(record.kind, name, value, env.lang, station)
                      + (estimate if name == "promised_date" else ""))
    for conflict in record.conflicts:
        heads = "; ".join(
            f"{show(record.kind, conflict.field, h.value, env.lang, station.catalogue)}"
            f" ({h.author}, {h.device})" for h in conflict.heads)
        table.add_row(env.t("冲突", "Conflict"), f"{_label(record.kind, conflict.field, env.lang)}:"
                      f" {heads}")
    console().print(table)


def _worded(kind: str, name: str, value: Any, lang: str, station: Station) -> str:
    """A field's value as the app words it (a rating's grade, a contact's way, a choice's
    label), so `station show` never prints a stored dict such as {'grade': 'poor', …}; a
    note keeps when and by whom it was written, which the app shows in its own columns."""
    from station.tui.screens.values import show

    spec = field_for(kind, name)
    if spec is not None and spec.merge == "log" and name != "contacts":
        return "\n".join(f"{china_time(e['at'])} {e['by']}: {e['entry']}" for e in value)
    return show(kind, name, value, lang, station.catalogue)


@click.command("show")
@click.argument("ref")
@click.option("--history", is_flag=True, help="Also list every change: who, when, which device.")
@common(json_output=True)
def show_cmd(env: Env, ref: str, history: bool) -> None:
    """Show one record by receipt number or id."""
    with unlock(env) as station:
        record = station.get(ref)
        data = record.as_dict()
        if record.kind == "application":
            data["promised_estimate"] = station.promise_estimated(record)
        changes = station.history(ref) if history else []
        if history:
            data["history"] = changes

        def human() -> None:
            print_record(env, record, station)
            for change in changes:
                fields = env.t("、", ", ").join(
                    sorted({_label(record.kind, op["f"], env.lang) for op in change["ops"]}))
                click.echo(f"  {china_time(change['hlc'])} {change['author']} "
                           f"@ {change['device']}: {fields}")

        env.emit(data, human)


class NothingToEdit(UsageProblem):
    code = "cli.edit.nothing"
    zh = ("请说明要改什么：--set 字段=值（可写多个），和/或 --status 状态，"
          "如 station edit 编号 --set applicant.phone=13912345678")
    en = ("Say what to change: --set FIELD=VALUE (as many as needed) and/or --status STATUS, "
          "e.g. station edit RECEIPT --set applicant.phone=13912345678")


class NotFieldValue(UsageProblem):
    # the text given is not repeated: it may be a phone or a name typed without its field (G2)
    code = "cli.edit.not_field_value"
    zh = "第 {n} 个 --set 应写成 字段=值，如 --set applicant.phone=13912345678"
    en = "--set number {n} should read FIELD=VALUE, e.g. --set applicant.phone=13912345678"


def _check_sets(sets: tuple[str, ...], status: str | None) -> None:
    """The shape of what an edit asks, refused before the passphrase is asked for."""
    if not sets and not status:
        raise NothingToEdit()
    for n, pair in enumerate(sets, 1):
        if not pair.split("=", 1)[0].strip() or "=" not in pair:
            raise NotFieldValue(n=n)


def _parse_sets(kind: str, pairs: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, value = pair.split("=", 1)
        name = name.strip()
        spec = field_for(kind, name)
        values[name] = split_items(value) if spec is not None and spec.merge == "orset" else value
    return values


@click.command("edit")
@click.argument("ref")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Change a field (repeatable); sets take a;b;c.")
@click.option("--status", help="Move to this status (same rules as the TUI).")
@click.option("--reason", default="",
              help="Why (needed to void or to move a promised date; kept in the history).")
@common(json_output=True)
def edit_cmd(env: Env, ref: str, sets: tuple[str, ...], status: str | None, reason: str) -> None:
    """Change fields or the status of a record, as one change each."""
    _check_sets(sets, status)
    with unlock(env) as station:
        with station.atomic():  # a refused status writes the --set values neither
            record = station.get(ref)
            values = _parse_sets(record.kind, sets)
            # a closing day given with the move corrects the one the move writes (today)
            closing = {"closed_on": values.pop("closed_on")} if (
                status and "closed_on" in values) else {}
            if values:
                record = station.update(record.id, values, reason=reason)
            if status:
                record = station.change_status(record.id, status, reason=reason)
            if closing:
                record = station.update(record.id, closing, reason=reason)
        env.emit(record.as_dict(), lambda: print_record(env, record, station))


@click.command("catalogue")
@click.argument("code", required=False)
@common(json_output=True)
def catalogue_cmd(env: Env, code: str | None) -> None:
    """The matter catalogue (事项清单), or one matter with its materials."""
    catalogue = current_catalogue(env.home)
    if code:
        matter = catalogue.get(code.upper())

        def one() -> None:
            click.echo(f"{matter.code} {matter.name(env.lang)} — {matter.department(env.lang)}")
            click.echo(env.t(f"法定时限 {matter.time_limit_days} 个工作日；",
                             f"Time limit {matter.time_limit_days} working days; ")
                       + env.t("村站可办结" if matter.decided_at == "station" else "镇中心决定",
                               "decided at the station" if matter.decided_at == "station"
                               else "decided at the centre"))
            for m in matter.materials:
                mark = env.t("必要", "essential") if m.essential else env.t("可容缺", "optional")
                click.echo(f"  {m.code} [{mark}] {m.name(env.lang)}")

        env.emit(matter.to_dict(), one)
        return

    def table() -> None:
        t = Table(box=None, header_style="bold", pad_edge=False)
        for zh, en in (("编码", "Code"), ("事项", "Matter"), ("部门", "Department"),
                       ("时限", "Days"), ("决定", "Decided")):
            t.add_column(env.t(zh, en))
        for m in catalogue:
            t.add_row(m.code, m.name(env.lang), m.department(env.lang), str(m.time_limit_days),
                      env.t("村站", "station") if m.decided_at == "station"
                      else env.t("中心", "centre"))
        console().print(t)

    env.emit(catalogue.to_dict(), table)
