"""Exports: Excel-friendly CSV, JSON, XLSX; formulas never run; the warning is given."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
import tempfile
import zipfile

from station.cli import cli
from station.cli.common import run
from station.store.export import safe_cell, write
from tests.store.test_service import residence_permit


def test_cells_that_look_like_formulas_are_escaped():
    for value in ("=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert safe_cell(value).startswith("'")
    assert safe_cell("王桂英") == "王桂英" and safe_cell(12) == 12 and safe_cell(None) == ""


def test_full_width_and_spaced_formula_starts_are_escaped_and_chinese_text_is_not(tmp_path):
    """A Chinese input method types ＝ ＋ － ＠, which Excel and WPS also take as the start of a
    formula; a spreadsheet that trims spaces meets one after leading spaces. Each is written
    after an apostrophe, in CSV and XLSX alike; ordinary Chinese text is written as it is."""
    risky = ["＝HYPERLINK(\"http://x\")", "＋1", "－2＋3", "＠SUM(A1)", "﹦1+1", "﹢1",
             " =1+1", "\u3000＝1+1", "\r=1", "\tabc"]
    plain = ["青石村 12 号", "王桂英", "（一）组", "【低保】", "１２号楼", "a=b", "王－李"]
    for value in risky:
        assert safe_cell(value) == "'" + value, repr(value)
    for value in plain:
        assert safe_cell(value) == value, value
    path = tmp_path / "out.csv"
    write(path, "csv", ["address"], [[v] for v in risky + plain], home=tmp_path / "V001")
    text = path.read_bytes().decode("utf-8-sig")
    cells = [r[0] for r in csv.reader(io.StringIO(text, newline=""))][1:]
    assert cells == ["'" + v for v in risky] + plain


def test_csv_has_a_bom_and_escapes(tmp_path):
    path = tmp_path / "out.csv"
    write(path, "csv", ["name", "address"], [["王桂英", "=cmd|' /C calc'!A0"]],
          home=tmp_path / "V001")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1] == ["王桂英", "'=cmd|' /C calc'!A0"]


def test_xlsx_is_a_workbook_with_the_text(tmp_path):
    path = tmp_path / "out.xlsx"
    write(path, "xlsx", ["name"], [["王桂英"], ["=1+1"]], home=tmp_path / "V001")
    with zipfile.ZipFile(path) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "王桂英" in strings and "'=1+1" in strings


def test_the_cli_exports_records_and_figures_with_a_warning(station, home, passphrase_file,
                                                            tmp_path, capsys):
    station.create("application", residence_permit(**{"applicant.address": "=青石村 12 号"}))
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    out = tmp_path / "apps.json"
    assert run(cli, ["export", "json", str(out), *auth]) == 0
    assert "plaintext" in capsys.readouterr().err
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert rows[0]["applicant.name"] == "王桂英" and rows[0]["status"] == "awaiting_materials"
    report = tmp_path / "report.csv"
    assert run(cli, ["export", "csv", str(report), "--what", "report", "--month", "2026-11",
                     *auth]) == 0
    table = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert table[0][:3] == ["group", "received", "active"] and table[1][1] == "1"
    csv_out = tmp_path / "apps.csv"
    assert run(cli, ["export", "csv", str(csv_out), *auth]) == 0
    assert "'=青石村 12 号" in csv_out.read_text(encoding="utf-8-sig")


def test_an_export_never_replaces_a_device_or_a_link(station, home, passphrase_file, tmp_path,
                                                     capsys):
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    pipe, link = tmp_path / "pipe", tmp_path / "link.csv"
    os.mkfifo(pipe)
    link.symlink_to(tmp_path / "elsewhere.csv")
    for target in (pipe, link):
        assert run(cli, ["export", "csv", str(target), *auth, "--lang", "zh"]) == 1
        assert "不是普通文件" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and link.is_symlink()


def test_an_export_that_cannot_be_written_says_why_in_chinese(station, home, passphrase_file,
                                                              tmp_path, capsys):
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    target = tmp_path / "no-such-folder" / "out.csv"
    assert run(cli, ["export", "csv", str(target), *auth, "--lang", "zh"]) == 1
    err = capsys.readouterr().err
    assert "文件夹不存在" in err and "No such file" not in err


def test_an_export_is_readable_by_its_owner_only_whatever_the_umask(station, home,
                                                                    passphrase_file,
                                                                    tmp_path):
    """It holds residents' ID numbers in plaintext: other accounts on the laptop must not
    read it, as with the printed notice."""
    station.create("application", residence_permit())
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    old = os.umask(0o022)
    try:
        for fmt in ("csv", "json", "xlsx"):
            out = tmp_path / f"apps.{fmt}"
            out.write_bytes(b"an older export")
            out.chmod(0o644)
            assert run(cli, ["export", fmt, str(out), *auth]) == 0
            assert stat.S_IMODE(out.stat().st_mode) == 0o600, fmt
            assert out.read_bytes() != b"an older export"
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("apps")) == [
        "apps.csv", "apps.json", "apps.xlsx"]  # no copy left beside them


def test_a_workbook_is_built_in_memory_so_no_part_is_left_in_the_temp_folder(
        tmp_path, monkeypatch):
    """xlsxwriter's default writes each part of the workbook (the shared strings hold every
    name and ID number) to the system's temp folder, then zips them: a disk that fills up
    while zipping left them there in plaintext. Built in memory, nothing goes there."""
    spill = tmp_path / "system-temp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "write", disk_full)  # zipping a file from disk
    target = tmp_path / "out.xlsx"
    write(target, "xlsx", ["name", "id"], [["王桂英", "11010519491231002X"]],
          home=tmp_path / "V001")
    assert [p for p in spill.rglob("*")] == []
    with zipfile.ZipFile(target) as book:
        assert "王桂英" in book.read("xl/sharedStrings.xml").decode()


def test_csv_id_numbers_and_phones_keep_every_digit_in_a_spreadsheet(station, home,
                                                                      passphrase_file,
                                                                      tmp_path):
    """Excel and WPS read a CSV cell of bare digits as a number: an 18-digit ID number keeps
    15 significant digits (1.10105E+17) and is saved back with its last three as zeros. Such
    cells must not be bare digits, and still say the number once trimmed."""
    station.create("application", residence_permit(**{
        "applicant.id_number": "110105194912310038", "applicant.phone": "13912345678"}))
    station.close()
    out = tmp_path / "apps.csv"
    assert run(cli, ["export", "csv", str(out), "--home", str(home), "--passphrase-file",
                     str(passphrase_file)]) == 0
    header, row = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    record = dict(zip(header, row, strict=True))
    for name, digits in (("applicant.id_number", "110105194912310038"),
                         ("applicant.phone", "13912345678")):
        assert not record[name].isdigit(), name  # a spreadsheet would make it a number
        assert record[name].strip() == digits
    assert record["applicant.name"] == "王桂英"


def test_a_months_visit_list_has_the_visits_made_in_it(station, home, passphrase_file,
                                                       tmp_path):
    """A visit recorded after it took place has a visit time but no scheduled one: it was
    made in November, so November's list has it; October's does not."""
    station.create("visit", {"resident.name": "张三", "reason": "elderly",
                             "actual_at": "2026-11-20 10:00"})
    station.create("visit", {"resident.name": "李四", "reason": "ill",
                             "scheduled_at": "2026-10-12 09:00",
                             "actual_at": "2026-10-12 09:30"})
    station.close()
    auth = ["--home", str(home), "--passphrase-file", str(passphrase_file)]
    names = {}
    for month in ("2026-10", "2026-11"):
        out = tmp_path / f"visits-{month}.json"
        assert run(cli, ["export", "json", str(out), "--kind", "visit", "--month", month,
                         *auth]) == 0
        names[month] = [r["resident.name"] for r in json.loads(out.read_text("utf-8"))]
    assert names == {"2026-10": ["李四"], "2026-11": ["张三"]}
