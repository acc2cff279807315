"""Bulk import of records from CSV or JSON Lines (e.g. the village's list of elderly residents).

Every row is validated first and every bad row is reported with its line number; nothing is
written unless all rows are good — or, with ``skip_bad``, the good ones are written and the
bad ones listed. The write is one transaction: a crash half-way leaves no half-import.

CSV files may use the field names (``resident.name``) or the headers a village spreadsheet
has (姓名, 身份证号, 手机号, 住址, 村民小组, 类别 …); person columns go to the record kind's
person (``applicant.`` for applications). Files from Excel are UTF-8 with a BOM, GB18030 or
tab-separated UTF-16 ("Unicode text", .txt); all are read (``station.store.textfile``).

The same file imported twice adds nothing the second time (``AlreadyImported``): a resident
with an ID number is known by it, any other row by a keyed mark of what it says, kept with
the record it made; the rows passed over are counted in the report.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from station.domain import merge
from station.domain.english import agrees, counted
from station.domain.errors import StationError
from station.domain.records import PERSON_PREFIX, SCHEMAS, field_for
from station.domain.status import VOID
from station.domain.validate import has_lone_surrogates
from station.store.errors import StoreError
from station.store.service import Prepared, Station
from station.store.textfile import ImportFileError, read_import

Progress = Callable[[int, int], None]

PERSON_HEADERS = {
    "姓名": "name", "name": "name",
    "身份证号": "id_number", "身份证号码": "id_number", "公民身份号码": "id_number",
    "id_number": "id_number",
    "手机号": "phone", "手机号码": "phone", "联系电话": "phone", "电话": "phone", "phone": "phone",
    "住址": "address", "地址": "address", "家庭住址": "address", "address": "address",
    "村民小组": "village_group", "组别": "village_group", "village_group": "village_group",
}
OTHER_HEADERS = {"类别": "categories", "人员类别": "categories", "类型": "kind", "记录类型": "kind",
                 "事项": "matter", "事项编码": "matter", "备注": "notes"}
# A \uD800–\uDFFF escape, the only way a lone surrogate gets into text decoded as UTF-8.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
KIND_WORDS = {"居民": "resident", "代办件": "application", "上门服务": "visit"}
# Columns a village spreadsheet has that hold nothing of the resident: left out of the import.
IGNORED_HEADERS = frozenset({"序号"})


class NotAJsonObject(StoreError):
    code = "store.bad_json_line"
    zh = "这一行不是有效的 JSON 对象"
    en = "this line is not a JSON object"


class UnclosedQuote(ImportFileError):
    code = "store.import_unclosed_quote"
    zh = ("无法读取导入文件 {path}：第 {line} 行的引号 \" 没有配对，后面的内容都被当成了"
          "一个单元格；请改正这一行后再导入")
    en = ("Cannot read the import file {path}: the quote \" on line {line} is never closed, so "
          "everything after it would be read as one cell; correct that line and import again")


class DuplicateColumn(ImportFileError):
    code = "store.import_duplicate_column"
    zh = "无法读取导入文件 {path}：表头“{first}”和“{second}”是同一列，请删掉其中一列"
    en = ("Cannot read the import file {path}: the headers “{first}” and “{second}” name the "
          "same column; remove one of them")


class UnknownColumns(ImportFileError):
    """Headers no record kind has a field for: said once for the file, rather than as the
    same refusal on every row."""

    code = "store.import_unknown_columns"
    zh = ("无法读取导入文件 {path}：表头 {names} 不是可以导入的列；请删掉这些列，或把表头改成"
          "下列之一：{known}")
    en = ("Cannot read the import file {path}: the columns {names} are not fields station "
          "keeps; remove them, or rename their headers to one of: {known}")


class BadCsvHeader(ImportFileError):
    code = "store.import_bad_header"
    zh = "无法读取导入文件 {path}：第 {line} 行的表头不是有效的 CSV"
    en = "Cannot read the import file {path}: the header on line {line} is not valid CSV"


class TooManyCells(StoreError):
    code = "store.import_too_many_cells"
    zh = "这一行有 {cells} 个单元格，但表头只有 {columns} 列"
    en = "this row has {cells} cells but the header has only {columns} columns"


class CellWithoutHeader(StoreError):
    code = "store.import_cell_without_header"
    zh = "第 {column} 列有内容，但这一列没有表头"
    en = "column {column} has a value but no header"


class CellTooLong(StoreError):
    code = "store.import_cell_too_long"
    zh = "这一行有一个单元格超过 {limit} 个字符"
    en = "a cell in this row is longer than {limit} characters"


class BadCsvRow(StoreError):
    code = "store.import_bad_csv_row"
    zh = "这一行的引号用法不对（引号内的 \" 要写成 \"\"）"
    en = "the quotes in this row are malformed (a \" inside quotes is written \"\")"


class LoneSurrogate(StoreError):
    code = "store.import_lone_surrogate"
    zh = "这一行含有无效的文字编码（没有配对的 \\u 代理码，例如 \\ud800）"
    en = "this line holds text that is not valid Unicode (an unpaired \\u escape such as \\ud800)"


class SameIdAsLine(StoreError):
    code = "store.import_same_id"
    zh = "身份证号与第 {first} 行相同：同一位居民只导入一次，请删掉重复的一行"
    en = ("the ID number is the same as on line {first}: a resident is imported once, so "
          "remove the repeated row")


class ImportRefused(StoreError):
    code = "store.import_refused"
    zh = "{bad} 行有误，未导入任何记录（可加 --skip-bad 只导入正确的行）"
    en = "{rows} {are} invalid, so nothing was imported (add --skip-bad to import the rest)"


@dataclass
class RowError:
    line: int
    error: StationError

    def message(self, lang: str) -> str:
        word = "第 {} 行" if lang == "zh" else "line {}"
        return f"{word.format(self.line)}: {self.error.message(lang)}"


@dataclass
class ImportReport:
    imported: int = 0
    bad: list[RowError] = field(default_factory=list)
    receipts: Sequence[str] = ()
    # lines of residents already on record with the same ID number: not imported again
    existing: list[int] = field(default_factory=list)
    # lines of rows an earlier import wrote (the same file imported twice): not again
    already_imported: list[int] = field(default_factory=list)


class SameRowAsLine(StoreError):
    code = "store.import_same_row"
    zh = "这一行与第 {first} 行相同：同一条记录只导入一次，请删掉重复的一行"
    en = ("this row is the same as line {first}: a record is imported once, so remove the "
          "repeated row")


def _comparable(value: Any) -> Any:
    """A cleaned value as rows are compared: text in NFKC (full-width Ｘ and １２ as X and
    12) with each run of spaces as one space, so that a re-typed or re-saved list still
    matches; lists item by item. Nothing else is loosened: 12 号 and 1 2 号 stay apart."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).split())
    if isinstance(value, list | tuple):
        return [_comparable(v) for v in value]
    return value


def row_mark(station: Station, prepared: Prepared) -> bytes:
    """The keyed mark of what a row says: its kind and every field it gave, as validation
    cleaned it (ID numbers upper-cased, categories sorted, dates ISO) and ``_comparable``
    evens it out. The fields the station filled in (``received_on`` today, this agent, the
    promised date computed from it) are left out, so the same file imported on another day
    or by another agent is the same file."""
    given = {name: _comparable(value) for name, value in prepared.cleaned.items()
             if name not in prepared.defaulted}
    return station.keys.row_mark(merge.dump({"kind": prepared.kind, "fields": given}))


class AlreadyImported:
    """What a row is known by, so that the same list imported twice adds nothing.

    A resident with an ID number is known by it: one record per ID number. A row for a
    resident already on record (the same list imported twice, or a longer version of it) is
    passed over; a second row for the same ID number in one file is a bad row, as the file
    does not say which is right. Any other row — an application, a visit, a resident with no
    ID number — has no natural key, so it is known by its whole content: ``row_mark``. A row
    an earlier import wrote is passed over, and the same row twice in one file is a bad row
    (``--skip-bad`` imports the first), as two rows alike in every field are one record
    typed twice; rows that differ in any field are never taken for each other. A record
    since voided no longer counts: its row is imported again, as for residents.

    The keys seen are kept as tokens in a temporary SQLite table, not in a Python set: a
    county's list of two million residents would hold ~300 MB of them. SQLite keeps the table
    in a temporary file, behind a page cache of a fixed size; what it holds are HMAC tokens
    and marks as the database holds them, never an ID number or a name (G2). It is written
    in the import's transaction, as are the marks kept for the next import (``import_rows``),
    so a refused import leaves both as they were; the temporary one is dropped at the end.
    ``line`` 0 marks a key on record before the import."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.db = station.db

    def __enter__(self) -> AlreadyImported:
        self.db.execute("DROP TABLE IF EXISTS temp.import_ids")
        self.db.execute("CREATE TEMP TABLE import_ids(token BLOB PRIMARY KEY,"
                        " line INTEGER NOT NULL) WITHOUT ROWID")
        self.db.execute(
            "INSERT OR IGNORE INTO temp.import_ids(token, line)"
            " SELECT b.token, 0 FROM blind_index b JOIN records r ON r.id = b.record"
            " WHERE r.kind = 'resident' AND r.status != ?", [VOID])
        self.db.execute(
            "INSERT OR IGNORE INTO temp.import_ids(token, line)"
            " SELECT i.mark, 0 FROM import_rows i JOIN records r ON r.id = i.record"
            " WHERE r.status != ?", [VOID])
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.import_ids")

    def _first_line(self, token: bytes, line: int) -> int:
        """The line first seen with this token (0: on record), which is this one if new."""
        (first,) = self.db.execute(
            "INSERT INTO temp.import_ids(token, line) VALUES (?, ?)"
            " ON CONFLICT(token) DO UPDATE SET line = line RETURNING line",
            [token, line]).fetchone()
        return int(first)

    def on_record_already(self, line: int, prepared: Prepared) -> str | None:
        """``"resident"`` when this row's resident is on record by ID number, ``"row"`` when
        an earlier import wrote this very row, else None (and the row's mark is noted, to be
        kept with its record); ``SameIdAsLine`` or ``SameRowAsLine`` for a repeat."""
        id_number = prepared.cleaned.get("resident.id_number")
        by_id = prepared.kind == "resident" and bool(id_number)
        token = (self.station.id_token(id_number) if by_id
                 else row_mark(self.station, prepared))
        first = self._first_line(token, line)
        if first == 0:
            return "resident" if by_id else "row"
        if first != line:
            raise SameIdAsLine(first=first) if by_id else SameRowAsLine(first=first)
        if not by_id:
            self.db.execute("INSERT OR REPLACE INTO import_rows(mark, record) VALUES (?, ?)",
                            [token, prepared.record_id])
        return None


def _flatten(kind: str, data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        spec = field_for(kind, name)
        if isinstance(value, dict) and (spec is None or spec.merge != "map"):
            out.update(_flatten(kind, value, name + "."))
        else:
            out[name] = value
    return out


KIND_HEADERS = ("kind", "类型", "记录类型")
Row = tuple[int, str, dict[str, Any] | StationError]


def _csv_row(row: dict[str, str], default_kind: str) -> tuple[str, dict[str, Any]]:
    kind_text = next((row[h].strip() for h in KIND_HEADERS if row.get(h, "").strip()), "")
    kind = KIND_WORDS.get(kind_text, kind_text) or default_kind
    person = PERSON_PREFIX.get(kind, "resident")
    values: dict[str, Any] = {}
    for key, cell in row.items():
        cell = cell.strip()
        if key in KIND_HEADERS or not cell:
            continue
        if key in PERSON_HEADERS:
            values[f"{person}.{PERSON_HEADERS[key]}"] = cell
        else:
            values[OTHER_HEADERS.get(key, key)] = cell
    return kind, values


def _column(header: str) -> str:
    """The field a header fills, whatever the spreadsheet calls it (手机号 and 电话 are one)."""
    if header in KIND_HEADERS:
        return "kind"
    if header in PERSON_HEADERS:
        return "person." + PERSON_HEADERS[header]
    return OTHER_HEADERS.get(header, header)


def _known(header: str) -> bool:
    """Whether some record kind has a field for this header (a spreadsheet's name or ours)."""
    column = _column(header)
    return (column == "kind" or column.startswith("person.")
            or any(field_for(kind, column) is not None for kind in SCHEMAS))


def _first_names(headers: dict[str, str]) -> list[str]:
    """The first Chinese header of each field: what the refusal of a header suggests."""
    return list({f: h for h, f in reversed(headers.items()) if not h.isascii()}.values())[::-1]


def _check_known(path: Path, header: list[str]) -> None:
    unknown = [name for name in header
               if name and name not in IGNORED_HEADERS and not _known(name)]
    if unknown:
        known = _first_names(PERSON_HEADERS) + _first_names(OTHER_HEADERS)
        raise UnknownColumns(path=str(path), names="、".join(f"“{n}”" for n in unknown),
                             known="、".join(known))


def _header_name(name: str) -> str:
    """A header as the tables above spell it: 姓  名 (spaced out to line up with longer
    headers) is 姓名; Name and ID Number are name and id_number. Others are only trimmed."""
    text = unicodedata.normalize("NFKC", name).strip()
    spelt = "_".join(text.lower().split()) if text.isascii() else "".join(text.split())
    known = spelt in PERSON_HEADERS or spelt in OTHER_HEADERS or spelt in KIND_HEADERS
    return spelt if known else text


def _csv_header(path: Path, names: list[str]) -> list[str]:
    """The header, each name as ``_header_name`` spells it; two headers for one field, or a
    header for no field (but those of ``IGNORED_HEADERS``), are refused, as a column would
    silently be dropped."""
    header = [_header_name(name) for name in names]
    _check_known(path, header)
    seen: dict[str, str] = {}
    for name in filter(None, header):
        column = _column(name)
        if column in seen:
            raise DuplicateColumn(path=str(path), first=seen[column], second=name)
        seen[column] = name
    return header


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, each with its ending, one at a time: a big file is read
    without a second copy of its text (``io.StringIO`` holds four bytes a character), and
    only "\\n" ends a line (``str.splitlines`` also splits inside a JSON string at U+2028)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        end = size if end < 0 else end + 1
        yield text[start:end]
        start = end


def _old_mac_line_ends(text: str) -> str:
    """A file whose lines end in a lone "\r" (Excel for Mac's "CSV (Macintosh)", old Mac
    text editors) with its lines ending in "\n": read as it is, it would be one line, and
    its header refused as broken CSV. A file with any "\n" is left as it is (a "\r" in it
    is inside a cell or part of "\r\n")."""
    return text.replace("\r", "\n") if "\r" in text and "\n" not in text else text


def _delimiter(text: str) -> str:
    """A tab for a header with tabs and no comma (Excel's "Unicode text"), else a comma."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if "\t" in first and "," not in first else ","


def _csv_rows(path: Path, text: str, default_kind: str) -> Iterator[Row]:
    """Rows of a CSV file, each with the line it starts on. A row the header cannot hold
    (more cells than columns, a value under no header) or with broken quotes is a bad row,
    never imported with a cell dropped."""
    reader = csv.reader(_lines(text), delimiter=_delimiter(text), strict=True)
    header: list[str] | None = None
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "end of data" in str(exc):
                raise UnclosedQuote(path=str(path), line=line) from None
            if header is None:
                raise BadCsvHeader(path=str(path), line=line) from None
            if "field larger" in str(exc):
                yield line, "", CellTooLong(limit=csv.field_size_limit())
            else:
                yield line, "", BadCsvRow()
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _csv_header(path, cells)
            continue
        filled = [i for i, cell in enumerate(cells) if cell.strip()]
        if filled[-1] >= len(header):
            yield line, "", TooManyCells(cells=filled[-1] + 1, columns=len(header))
        elif unnamed := [i for i in filled if not header[i]]:
            yield line, "", CellWithoutHeader(column=unnamed[0] + 1)
        else:
            # a short row (trailing empty cells left out) is fine: its missing cells are empty
            named = {h: c for h, c in zip(header, cells, strict=False)
                     if h and h not in IGNORED_HEADERS}
            kind, values = _csv_row(named, default_kind)
            yield line, kind, values
    if header is None:
        raise ImportFileError(path=str(path), detail="no header row",
                              detail_zh="没有表头行")


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
# .txt and .tsv: what Excel and WPS save as "Unicode text" (UTF-16, tab-separated)
CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def _jsonl_rows(text: str, default_kind: str) -> Iterator[Row]:
    for n, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            yield n, "", NotAJsonObject()
            continue
        if SURROGATE_ESCAPE.search(line) and has_lone_surrogates(
                json.dumps(data, ensure_ascii=False)):
            yield n, "", LoneSurrogate()
            continue
        kind = str(data.pop("kind", default_kind))
        yield n, kind, _flatten(kind, data) if kind in SCHEMAS else data


def rows_from_file(path: Path, default_kind: str = "resident") -> tuple[int, Iterator[Row]]:
    """The file's number of lines (for progress), and (line number, kind, values — or why
    the line is unreadable) for each row, read as they are asked for, so that a big file is
    never held as a list of rows. The header and the first row are read at once: a file that
    cannot be imported at all is refused before anything starts."""
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise ImportFileError(path=str(path), detail="the name must end in .csv or .jsonl",
                              detail_zh="文件名必须以 .csv 或 .jsonl 结尾")
    text = _old_mac_line_ends(read_import(path))
    rows = (_jsonl_rows(text, default_kind) if suffix in JSONL_SUFFIXES
            else _csv_rows(path, text, default_kind))
    first = list(islice(rows, 1))
    return text.count("\n") + 1, chain(first, rows)


def import_file(station: Station, path: Path, *, default_kind: str = "resident",
                skip_bad: bool = False, progress: Progress | None = None) -> ImportReport:
    """Validate every row and write the good ones, in one transaction: the writing (on
    other cores, for a big file) keeps pace with the validating. At the first bad row the
    writing stops — unless ``skip_bad`` — while the validating goes on, to name every bad
    row; then the transaction is rolled back and nothing of the file is written."""
    report = ImportReport()
    total, rows = rows_from_file(path, default_kind)

    def good(seen: AlreadyImported) -> Iterator[Prepared]:
        for i, (line, kind, values) in enumerate(rows, start=1):
            if progress and i % 500 == 0:
                progress(min(line, total), total)
            try:
                if isinstance(values, StationError):
                    raise values
                prepared = station.prepare(kind, values)
                known = seen.on_record_already(line, prepared)
                if known:
                    (report.existing if known == "resident"
                     else report.already_imported).append(line)
                    continue
            except StationError as exc:
                report.bad.append(RowError(line, exc))
                continue
            if skip_bad or not report.bad:
                yield prepared
        if report.bad and not skip_bad:
            bad = len(report.bad)
            raise ImportRefused(bad=bad, rows=counted(bad, "row"), are=agrees(bad, "is", "are"),
                                report=report)

    with AlreadyImported(station) as seen:
        report.receipts = station.create_many(good(seen), count=total)
    report.imported = len(report.receipts)
    if progress:
        progress(total, total)
    return report
