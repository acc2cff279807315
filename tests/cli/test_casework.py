"""Casework after the form is saved, through the real `station` command: status moves,
contacts, ratings, follow-ups, the monthly lists and figures, and exports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run

# YB-002 is decided at the station and needs one essential material (M01)
STATION_CASE = {"kind": "application", "matter": "YB-002", "applicant.name": "王桂英",
                "applicant.id_number": "11010519491231002X", "applicant.phone": "13912345678",
                "materials.received": ["M01"]}


@pytest.fixture
def station_cli(capsys, tmp_path: Path, passphrase_file: Path):
    """``station ARGS --home … --passphrase-file …`` → (exit code, stdout, stderr), on a
    station made with ``station init``."""
    home = tmp_path / "home"

    def call(*args: str) -> tuple[int, str, str]:
        code = run(cli, [*args, "--home", str(home), "--passphrase-file", str(passphrase_file)])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = call("init", "--station", "V001", "--name", "青石村便民服务站",
                        "--agent", "李春梅", "--insecure-fast-kdf", "--json")
    assert code == 0, err
    return call


@pytest.fixture
def case(station_cli, tmp_path: Path) -> str:
    """The receipt number of one received application the station may complete itself."""
    path = tmp_path / "case.jsonl"
    path.write_text(json.dumps(STATION_CASE, ensure_ascii=False) + "\n", encoding="utf-8")
    code, _, err = station_cli("import", str(path))
    assert code == 0, err
    return str(json.loads(station_cli("list", "--json")[1])[0]["receipt"])


def test_a_finished_case_is_reopened_without_a_reason_as_the_help_allows(station_cli, case):
    assert station_cli("edit", case, "--status", "completed")[0] == 0
    code, out, err = station_cli("edit", case, "--status", "reopened", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == {"to": "reopened", "round": 1}
    code, out, err = station_cli("edit", case, "--status", "received", "--json")
    assert code == 0, err


def test_the_promise_of_a_closed_case_stays_as_it_was_closed_against(station_cli, case):
    promised = json.loads(station_cli("show", case, "--json")[1])["fields"]["promised_date"]
    assert station_cli("edit", case, "--status", "completed")[0] == 0
    before = json.loads(station_cli("report", "--json")[1])["figures"]["all"]
    code, _, err = station_cli("edit", case, "--set", "promised_date=2026-12-30",
                               "--reason", "补录", "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert "已办结" in err and "承诺办结时限" in err and "按时办结率" in err
    code, _, err = station_cli("edit", case, "--set", "promised_date=2026-12-30",
                               "--reason", "typo", "--lang", "en")
    assert code == 1 and "completed" in err and "on-time rate" in err
    assert json.loads(station_cli("show", case, "--json")[1])["fields"]["promised_date"] \
        == promised
    assert json.loads(station_cli("report", "--json")[1])["figures"]["all"] == before
    assert station_cli("edit", case, "--status", "reopened", "--reason", "补材料")[0] == 0
    code, _, err = station_cli("edit", case, "--set", "promised_date=2027-01-05",
                               "--reason", "补材料")
    assert code == 0, err


def test_a_voided_case_takes_no_edit_and_no_contact_but_a_note(station_cli, case):
    assert station_cli("edit", case, "--status", "voided", "--reason", "重复登记")[0] == 0
    before = json.loads(station_cli("show", case, "--json")[1])
    report = json.loads(station_cli("report", "--json")[1])["figures"]
    code, _, err = station_cli("edit", case, "--set", "applicant.phone=13800001111",
                               "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert "已作废" in err and "作废不能撤销" in err and "重新登记" in err
    code, _, err = station_cli("contact", case, "--via", "phone", "--note", "电话告知进度",
                               "--lang", "en")
    assert code == 1 and "Traceback" not in err
    assert "voided" in err and "cannot be undone" in err and "enter the record again" in err
    assert json.loads(station_cli("show", case, "--json")[1]) == before
    assert json.loads(station_cli("report", "--json")[1])["figures"] == report
    code, out, err = station_cli("edit", case, "--set", "notes=已另行登记为新件", "--json")
    assert code == 0, err
    note = json.loads(out)["fields"]["notes"][-1]
    assert "已另行登记为新件" in json.dumps(note, ensure_ascii=False)


@pytest.mark.parametrize("target", ["station.db", "transport.key", "other-station"])
def test_an_export_never_replaces_a_station_file(station_cli, case, tmp_path, target):
    home = tmp_path / "home"
    if target == "other-station":  # another station's database on the same laptop
        path = tmp_path / "BUS01.db"
        path.write_bytes((home / "station.db").read_bytes())
    else:
        path = home / target
    before = path.read_bytes()
    code, _, err = station_cli("export", "csv", str(path), "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert "站点自己的文件" in err and "没有导出" in err
    assert path.read_bytes() == before
    code, out, err = station_cli("list", "--json")
    assert code == 0 and json.loads(out)[0]["receipt"] == case
    code, out, err = station_cli("export", "csv", str(tmp_path / "apps.csv"), "--lang", "en")
    assert code == 0 and "Exported 1 row to" in out + err  # a new file
    assert station_cli("export", "csv", str(tmp_path / "apps.csv"))[0] == 0  # and again


def test_show_in_english_words_the_reason_of_a_status_in_english_brackets(station_cli, case):
    assert station_cli("edit", case, "--status", "voided", "--reason", "duplicate")[0] == 0
    code, out, _ = station_cli("show", case, "--lang", "en")
    assert code == 0 and " (duplicate)" in out and "（" not in out


@pytest.mark.parametrize("status", ["completed", "submitted"])
def test_a_case_past_intake_keeps_its_essential_materials(station_cli, case, status):
    assert station_cli("edit", case, "--status", status)[0] == 0
    code, _, err = station_cli("edit", case, "--set", "materials.received=", "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert "不能缺少必要材料" in err and "材料" in err
    shown = json.loads(station_cli("show", case, "--json")[1])
    assert shown["fields"]["materials.received"] == ["M01"]


@pytest.mark.parametrize("command", [("report",), ("due",), ("export", "csv", "out.csv")])
@pytest.mark.parametrize(("month", "lang", "words"), [
    ("2026-13", "zh", "不是月份：请写成 年-月，如 2026-11"),
    ("1999-01", "en", "is not a month: write year-month, e.g. 2026-11 (years 2000 to 2200)")])
def test_a_month_that_is_not_one_is_said_in_the_persons_language(station_cli, command, month,
                                                                 lang, words):
    code, _, err = station_cli(*command, "--month", month, "--lang", lang)
    assert code == 2 and words in err and month in err
    assert "Invalid value" not in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "lang", "words"), [
    (("--by", "matter"), "zh", "--by 只用于统计数字：请加上 --what report"),
    (("--by", "channel"), "en", "--by groups the figures only: add --what report"),
    (("--what", "report", "--kind", "visit"), "zh", "--kind 只用于导出记录"),
    (("--what", "report", "--kind", "application"), "en", "cover every application and visit")])
def test_an_export_mixing_records_and_figures_options_writes_nothing(station_cli, case,
                                                                     tmp_path, args, lang,
                                                                     words):
    """`station export csv 报表.csv --by matter` means figures by matter; it wrote every
    applicant's name and ID number in plaintext to a file meant to be sent as figures, and
    `--what report --kind visit` wrote the figures of every kind as if of visits."""
    target = tmp_path / "报表.csv"
    code, _, err = station_cli("export", "csv", str(target), *args, "--lang", lang)
    assert code == 2 and words in err and "Traceback" not in err
    assert not target.exists()
    assert station_cli("export", "csv", str(target), "--what", "report", "--by", "matter")[0] == 0
    assert "王桂英" not in target.read_text(encoding="utf-8-sig")


def test_show_words_a_rating_its_follow_up_and_contacts_as_the_app_does(station_cli, case):
    """`station show` printed the stored dicts: {'comment': '太慢', 'grade': 'poor', …} for
    the rating, {'note': '', 'state': 'open'} for the follow-up, and a contact as a dict."""
    assert station_cli("edit", case, "--status", "completed")[0] == 0
    assert station_cli("rate", case, "poor", "--comment", "等太久")[0] == 0
    assert station_cli("contact", case, "--via", "phone", "--note", "回访致歉")[0] == 0
    code, out, err = station_cli("show", case, "--lang", "zh")
    assert code == 0, err
    assert "{" not in out and "'grade'" not in out
    assert "不满意，等太久" in out and "整改中" in out and "电话 回访致歉" in out
    assert "村站" in out  # the channel's label, not its code
    code, out, err = station_cli("show", case, "--lang", "en")
    assert code == 0 and "{" not in out
    assert "poor: 等太久" in out and "open" in out and "phone 回访致歉" in out


@pytest.fixture
def earlier_case(station_cli, tmp_path: Path) -> tuple[str, dt.date]:
    """The receipt number of a case received five days ago (entered late), and that day."""
    received = dt.date.today() - dt.timedelta(days=5)
    path = tmp_path / "earlier.jsonl"
    path.write_text(json.dumps({**STATION_CASE, "received_on": received.isoformat()},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    code, _, err = station_cli("import", str(path))
    assert code == 0, err
    return str(json.loads(station_cli("list", "--json")[1])[0]["receipt"]), received


def test_a_closing_day_is_refused_for_a_case_still_in_hand(station_cli, earlier_case):
    """It was taken: the list still showed the case received, while the figures counted it
    closed that day, out of the cases in hand and to contact the months after."""
    case, received = earlier_case
    month = received.strftime("%Y-%m")
    before = json.loads(station_cli("report", "--month", month, "--json")[1])["figures"]
    day = (received + dt.timedelta(days=1)).isoformat()
    code, _, err = station_cli("edit", case, "--set", f"closed_on={day}", "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert "办结日期是办件办结、退回或作废的日期" in err and "一并填写" in err
    code, _, err = station_cli("edit", case, "--set", f"closed_on={day}", "--lang", "en")
    assert code == 1 and "a case still in hand has none" in err
    assert "closed_on" not in json.loads(station_cli("show", case, "--json")[1])["fields"]
    assert json.loads(station_cli("report", "--month", month, "--json")[1])["figures"] == before


def test_a_closing_day_given_with_the_move_is_the_one_kept(station_cli, earlier_case):
    """`--status completed --set closed_on=D` (a case finished days ago, entered now) said
    done and kept today instead of D, which the on-time rate then counted."""
    case, received = earlier_case
    day = (received + dt.timedelta(days=2)).isoformat()
    code, out, err = station_cli("edit", case, "--status", "completed", "--set",
                                 f"closed_on={day}", "--json")
    assert code == 0, err
    assert json.loads(out)["fields"]["closed_on"] == day
    assert json.loads(station_cli("show", case, "--json")[1])["fields"]["closed_on"] == day


@pytest.mark.parametrize(("args", "zh", "en"), [
    ((), "请说明要改什么：--set 字段=值", "Say what to change: --set FIELD=VALUE"),
    (("--set", "notes=好", "--set", "13912345678"), "第 2 个 --set 应写成 字段=值",
     "--set number 2 should read FIELD=VALUE"),
    (("--set", "=王桂英"), "第 1 个 --set 应写成 字段=值", "--set number 1 should read")])
def test_an_edit_that_says_nothing_to_change_is_said_in_the_persons_language(
        station_cli, case, args, zh, en):
    """Said in English under the Chinese lead ('give --set FIELD=VALUE …', "'…' is not
    FIELD=VALUE"), or, for '=王桂英', as a field with no name; and never repeating what was
    typed, which may be a phone or a name put without its field."""
    before = station_cli("show", case, "--json")[1]
    for lang, words in (("zh", zh), ("en", en)):
        code, _, err = station_cli("edit", case, *args, "--lang", lang)
        assert code == 2 and words in err and "Traceback" not in err
        assert "13912345678" not in err.replace("applicant.phone=13912345678", "")
        assert "王桂英" not in err and "give --set" not in err
    assert station_cli("show", case, "--json")[1] == before


def test_the_report_table_names_its_groups_in_the_persons_language_and_cuts_no_header(
        station_cli, case, tmp_path):
    """A Chinese report read 'all', 'station' and 'home_visit' beside the Chinese headers and
    a bare '-' for the visits' ratings; the English one cut its header to 'satisfacti…'."""
    visit = tmp_path / "visit.jsonl"
    visit.write_text(json.dumps({"kind": "visit", "resident.name": "赵秀兰",
                                 "reason": "elderly"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    assert station_cli("import", str(visit))[0] == 0
    visit_receipt = json.loads(station_cli("list", "--kind", "visit", "--json")[1])[0]["receipt"]
    assert station_cli("edit", visit_receipt, "--status", "done")[0] == 0
    assert station_cli("edit", case, "--status", "completed")[0] == 0
    assert station_cli("rate", case, "good")[0] == 0
    assert station_cli("rate", visit_receipt, "average")[0] == 0
    rows = station_cli("report", "--lang", "zh")[1].splitlines()
    assert rows[1].split()[0] == "全部"
    rows = station_cli("report", "--lang", "zh", "--by", "channel")[1].splitlines()
    assert [row.split()[0] for row in rows[1:]] == ["（无，如上门服务）", "村站"]
    out = station_cli("report", "--lang", "en", "--by", "channel")[1]
    assert "(none, e.g. visits)" in out and "…" not in out and "satisfaction" in out


@pytest.mark.parametrize("lang,said", [
    ("en", "Date promised for missing material M02 must be a date like 2026-11-23"),
    ("zh", "容缺承诺日期 M02应为 年-月-日 格式的日期")])
def test_a_wrong_promised_date_names_the_material_it_is_for(station_cli, case, lang, said):
    """A case can wait for several missing materials, each with its own promised date; a
    wrong one read 'Missing material due must be a date', naming neither the material nor
    what was due."""
    code, _, err = station_cli("edit", case, "--set", "materials.due.M02=next week",
                               "--lang", lang)
    assert code != 0 and said in " ".join(err.split()), err
