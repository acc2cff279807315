"""The text of an import file, in the encodings village spreadsheets are really saved in.

Excel and WPS on Chinese Windows save CSV as GB18030 (GBK), as UTF-8 with a byte-order mark
("CSV UTF-8"), or as UTF-16 with a byte-order mark ("Unicode text", tab-separated). Each is
decoded strictly, never with replacement characters. The only fallback is from UTF-8 to
GB18030, and it is taken only when the file is not UTF-8 at all: a file that is UTF-8 but
for a few bytes (rows pasted from a GBK file, a damaged copy) also decodes as GB18030 —
into garbled names — so it is refused, naming the line, rather than imported garbled.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from station.store.errors import StoreError

# How an Excel or WPS workbook starts: .xlsx (a zip) and the older .xls (an OLE file).
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SAVE_AS = ("请用 Excel 或 WPS 打开，另存为“CSV UTF-8（逗号分隔）”后再导入",
           "open it in Excel or WPS and save it as “CSV UTF-8 (Comma delimited)”, then import "
           "that file")


class ImportFileError(StoreError):
    code = "store.import_file"
    zh = "无法读取导入文件 {path}：{detail_zh}"
    en = "Cannot read the import file {path}: {detail}"


class NotText(ImportFileError):
    """Bytes that no encoding a spreadsheet uses decodes."""

    code = "store.import_not_text"
    zh = ("无法读取导入文件 {path}：它不是 UTF-8 或 GB18030 编码的文本，也不是带标记的 "
          "UTF-16 文本（第 {line} 行无法识别）；" + SAVE_AS[0])
    en = ("Cannot read the import file {path}: it is not UTF-8 or GB18030 (GBK) text, nor "
          "UTF-16 with a byte-order mark (line {line} cannot be read); " + SAVE_AS[1])


class MixedEncoding(ImportFileError):
    """A UTF-8 file with bytes that are not UTF-8: decoded as GB18030 it would import every
    name of it garbled."""

    code = "store.import_mixed_encoding"
    zh = ("无法读取导入文件 {path}：文件是 UTF-8 编码，但第 {line} 行不是（常见于从别的文件"
          "粘贴进来的行），照此导入姓名会变成乱码；请重新输入这一行，或" + SAVE_AS[0])
    en = ("Cannot read the import file {path}: the file is UTF-8 but line {line} is not "
          "(often a row pasted from another file), so names would be imported garbled; "
          "retype that line, or " + SAVE_AS[1])


class Workbook(ImportFileError):
    code = "store.import_workbook"
    zh = ("无法读取导入文件 {path}：这是 Excel/WPS 工作簿（.xlsx 或 .xls），不是 CSV 文件；"
          + SAVE_AS[0])
    en = ("Cannot read the import file {path}: it is an Excel/WPS workbook (.xlsx or .xls), "
          "not a CSV file; " + SAVE_AS[1])


class NulBytes(ImportFileError):
    code = "store.import_nul_bytes"
    zh = ("无法读取导入文件 {path}：文件中有空字节（NUL），不是 CSV 文本（可能是去掉了标记的 "
          "UTF-16“Unicode 文本”）；" + SAVE_AS[0])
    en = ("Cannot read the import file {path}: it holds NUL bytes, so it is not CSV text "
          "(perhaps UTF-16 “Unicode text” without its byte-order mark); " + SAVE_AS[1])


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _mostly_utf8(raw: bytes) -> bool:
    """Whether more of the file's non-ASCII text is valid UTF-8 than not. Chinese in GB18030
    is mostly invalid as UTF-8 (about one character in ten passes by chance); a UTF-8 file
    with a few foreign bytes is mostly valid."""
    text = raw.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - broken > broken


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise NotText(path=str(path), line=_line_of(raw, exc.start)) from None


def decode_import(raw: bytes, path: Path) -> str:
    """The text of an import file's bytes, or an error that names the encoding problem and
    how to save the file so that it imports."""
    if raw.startswith(UTF16_BOMS):
        return _decode(raw, path, "utf-16")
    if raw.startswith(WORKBOOK_MAGIC):
        raise Workbook(path=str(path))
    if b"\x00" in raw:
        raise NulBytes(path=str(path))
    marked = raw.startswith(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        if marked or _mostly_utf8(raw):
            raise MixedEncoding(path=str(path), line=_line_of(raw, exc.start)) from None
    return _decode(raw, path, "gb18030")


def read_import(path: Path) -> str:
    """The decoded text of the file at ``path`` (see ``decode_import``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError.reading(exc, path=str(path)) from None
    return decode_import(raw, path)
