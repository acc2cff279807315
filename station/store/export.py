"""Exports: the one place personal data leaves the vault in plaintext, on purpose.

Lists (records with their fields) and monthly figures, as CSV (UTF-8 with a BOM, so Excel
opens Chinese correctly), JSON, or XLSX. A cell that begins with ``=``, ``+``, ``-``, ``@``
(or a tab or carriage return) is prefixed with an apostrophe, so a spreadsheet never runs an
address like ``=HYPERLINK(…)`` as a formula. So is one that begins with their full-width
forms (``＝ ＋ － ＠``, what a Chinese input method types, which Excel and WPS take as the
start of a formula too) or their small forms, and one where any of them follows leading
spaces (a spreadsheet that trims spaces on opening would meet the formula). Other text,
Chinese or not, is written as it is. The CLI warns and the app asks before writing.

A CSV cell carries no type, and Excel and WPS read a run of digits as a number: an 18-digit
ID number keeps only 15 significant digits (110105194912310021 becomes 1.10105E+17 and, once
saved, 110105194912310000). So in CSV a text made only of digits (an ID number, a phone) is
written after a tab, the usual way to make them read it as text; the importer trims it. An
XLSX cell is typed, and a text cell stays text there.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from station.domain.followup import Figures, Month
from station.domain.records import SCHEMAS
from station.store.errors import (
    OverStationFile,
    StoreError,
    refuse_non_file,
    refuse_station_file,
)
from station.store.home import write_private
from station.store.service import Station

FORMATS = ("csv", "json", "xlsx")
# a record is in a month's list when one of these falls in it: received or closed
# (applications), scheduled or visited (visits: a walk-in visit has no scheduled time)
MONTH_DATES = ("received_on", "closed_on", "scheduled_at", "actual_at")
# what a spreadsheet starts a formula with, once NFKC has folded the full-width (＝＋－＠) and
# small (﹦﹢﹣﹫) forms a Chinese input method types into these
_FORMULA = ("=", "+", "-", "@")
# what a spreadsheet takes as a formula start as well, whatever follows (OWASP's list)
_CONTROL_LEAD = ("\t", "\r")


class ExportError(StoreError):
    code = "store.export"
    zh = "无法写入导出文件 {path}：{detail_zh}"
    en = "Cannot write the export file {path}: {detail}"


class ExportOverStation(OverStationFile):
    code = "store.export.station_file"
    zh = ("{path} 是站点自己的文件（数据库、密钥等），导出到这里会覆盖它、丢失其中的全部记录；"
          "没有导出，请换一个文件名或文件夹")
    en = ("{path} is one of the station's own files (its database, keys…): an export there "
          "would replace it and lose every record in it, so nothing was exported; choose "
          "another file name or folder")


def safe_cell(value: Any) -> Any:
    """What goes into a spreadsheet cell: never something it would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and _opens_a_formula(value):
        return "'" + value
    return value


def _opens_a_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: its first character after any
    spaces, in any width, is one that starts one; or it begins with a tab or return."""
    if text.startswith(_CONTROL_LEAD):
        return True
    lead = text.lstrip()[:1]
    return unicodedata.normalize("NFKC", lead).startswith(_FORMULA)


def csv_cell(value: Any) -> Any:
    """A CSV cell: safe as :func:`safe_cell`, and digits that must stay text kept as text."""
    cell = safe_cell(value)
    if isinstance(cell, str) and cell.isascii() and cell.isdigit():
        return "\t" + cell
    return cell


def record_table(station: Station, *, kind: str, month: Month | None = None
                 ) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of every record of ``kind`` (with a date of ``MONTH_DATES`` in
    ``month``, if given)."""
    names = [f.name for f in SCHEMAS[kind]
             if f.merge not in ("map", "log") and f.name not in ("receipt", "status")]
    header = ["receipt", "status", *names]
    rows = []
    for summary in station.list(kind=kind):
        record = station.get(summary.id)
        days = (record.fields.get(d) for d in MONTH_DATES)
        if month is None or any(month.holds(str(d)[:10]) for d in days if d):
            rows.append([record.receipt, record.status["to"],
                         *[record.fields.get(n) for n in names]])
    return header, rows


def figures_table(groups: dict[str, Figures]) -> tuple[list[str], list[list[Any]]]:
    keys = list(Figures().as_dict())
    return ["group", *keys], [[name, *[g.as_dict()[k] for k in keys]]
                              for name, g in sorted(groups.items())]


def write(path: Path, fmt: str, header: Sequence[str], rows: Sequence[Sequence[Any]], *,
          home: Path) -> None:
    """Write a table as ``fmt``; the file appears whole or not at all, readable by this user
    only (it holds residents' details in plaintext), and nothing of it is ever written
    anywhere else (xlsxwriter's default spills each part to the system's temp folder, left
    there if the zip cannot be written). Only an ordinary file is ever replaced: renaming
    over a device (/dev/full, as root) or a link would destroy it rather than write into it,
    and never a file of the station in ``home`` or a station's database."""
    if fmt not in FORMATS:
        raise ExportError(path=str(path), detail=f"unknown format {fmt}")
    refuse_station_file(path, home, ExportOverStation)
    try:
        refuse_non_file(path)
        write_private(path, _encode(fmt, header, rows))
    except OSError as exc:
        raise ExportError.writing(exc, path=str(path)) from None


def _encode(fmt: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows([[csv_cell(v) for v in row] for row in rows])
        return buf.getvalue().encode("utf-8-sig")
    if fmt == "json":
        return json.dumps([dict(zip(header, row, strict=True)) for row in rows],
                          ensure_ascii=False, indent=1).encode("utf-8")
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, list(header))
    for i, row in enumerate(rows, start=1):
        sheet.write_row(i, 0, [safe_cell(v) for v in row])
    book.close()
    return out.getvalue()
