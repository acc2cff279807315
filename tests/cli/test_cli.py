"""The `station` command as a new user runs it: init → import → list → show → edit."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import click
import pytest

from station.cli import cli
from station.cli.common import run
from station.cli.sync import _interval
from station.domain.chinatime import china_now, china_time
from station.wire.bundle import MAX_BUNDLE, write_bundle
from tests.served import free_port

ROOT = Path(__file__).resolve().parents[2]
CSV = """姓名,身份证号,手机号,住址,村民小组,类别
王桂英,11010519491231002x,13912345678,青石村三组 12 号,三组,老年人
"""


@pytest.fixture
def invoke(capsys, tmp_path, passphrase_file):
    home = tmp_path / "home"

    def call(*args: str, auth: bool = True) -> tuple[int, str, str]:
        argv = [*list(args), "--home", str(home)]
        if auth:
            argv += ["--passphrase-file", str(passphrase_file)]
        code = run(cli, argv)
        out, err = capsys.readouterr()
        return code, out, err

    call.home = home
    return call


@pytest.fixture
def ready(invoke, tmp_path):
    code, _out, err = invoke("init", "--station", "V001", "--name", "青石村便民服务站",
                            "--agent", "李春梅", "--insecure-fast-kdf", "--json")
    assert code == 0, err
    return invoke


def test_init_prints_the_recovery_key_once(invoke):
    code, out, err = invoke("init", "--station", "v001", "--name", "青石村便民服务站",
                            "--agent", "李春梅", "--insecure-fast-kdf", "--lang", "zh")
    assert code == 0
    key = out.strip()
    assert len(key.split("-")) == 8
    assert "恢复密钥" in err and "V001" in err


def test_init_import_list_show_as_the_readme_says(ready, tmp_path):
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    code, out, err = ready("import", str(path))
    assert code == 0, err
    assert "Imported 1 record\n" in err  # not 'Imported 1 records'
    code, out, _ = ready("list", "--json")
    rows = json.loads(out)
    assert [(r["kind"], r["name"]) for r in rows] == [("resident", "王桂英")]
    code, out, _ = ready("list")
    assert "王桂英" in out and "resident" in out
    code, out, _ = ready("show", rows[0]["receipt"], "--json")
    assert json.loads(out)["fields"]["resident.id_number"] == "11010519491231002X"
    code, out, _ = ready("list", "--search", "wgy", "--json")
    assert len(json.loads(out)) == 1


def test_importing_the_same_list_twice_says_the_residents_are_on_record(ready, tmp_path):
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    code, out, err = ready("import", str(path), "--json")
    assert code == 0, err
    assert json.loads(out) == {"imported": 0, "skipped": 0, "bad_lines": [],
                               "already_on_record": 1, "already_lines": [2],
                               "already_imported": 0, "already_imported_lines": []}
    code, _, err = ready("import", str(path), "--lang", "zh")
    assert "已导入 0 条记录；1 位居民已有记录（身份证号相同），未重复导入" in err
    assert len(json.loads(ready("list", "--json")[1])) == 1


def test_importing_the_same_applications_twice_adds_nothing_and_says_so(ready, tmp_path):
    # The first import seemed to hang, the USB stick was plugged in again: the agent imports
    # the same file of applications a second time, then runs station check.
    path = tmp_path / "applications.jsonl"
    rows = [{"kind": "application", "matter": "HJ-001", "applicant.name": name,
             "materials.received": ["M01", "M02", "M03", "M04"]} for name in ("王桂英", "赵建国")]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    code, out, err = ready("import", str(path), "--json")
    assert code == 0, err
    assert json.loads(out) == {"imported": 0, "skipped": 0, "bad_lines": [],
                               "already_on_record": 0, "already_lines": [],
                               "already_imported": 2, "already_imported_lines": [1, 2]}
    code, _, err = ready("import", str(path))
    assert "Imported 0 records; 2 rows were imported before and were not imported again" in err
    code, _, err = ready("import", str(path), "--lang", "zh")
    assert "已导入 0 条记录；2 行在之前的导入中已经导入过，未重复导入" in err
    assert len(json.loads(ready("list", "--json")[1])) == 2
    code, out, err = ready("check", "--json")
    assert code == 0, err


def test_edit_follows_the_same_rules_as_the_tui(ready, tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_text(json.dumps({"kind": "application", "matter": "HJ-001",
                                "applicant.name": "王桂英",
                                "materials.received": ["M01", "M02", "M03", "M04"]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    receipt = json.loads(ready("list", "--json")[1])[0]["receipt"]
    code, out, err = ready("edit", receipt, "--set", "applicant.phone=13912345678", "--json")
    assert code == 0, err
    assert json.loads(out)["fields"]["applicant.phone"] == "13912345678"
    code, _, err = ready("edit", receipt, "--status", "completed", "--lang", "zh")
    assert code == 1
    assert "镇中心决定" in err and "Traceback" not in err
    code, _, err = ready("edit", receipt, "--set", "applicant.phone=123")
    assert code == 1 and "mobile number" in err
    code, out, _ = ready("edit", receipt, "--status", "voided", "--reason", "重复", "--json")
    assert json.loads(out)["status"]["to"] == "voided"


def test_wrong_passphrase_is_a_sentence_and_exit_1(ready, tmp_path):
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not the passphrase\n", encoding="utf-8")
    code = run(cli, ["list", "--home", str(ready.home), "--passphrase-file", str(wrong)])
    assert code == 1


def test_errors_never_show_a_traceback(invoke, tmp_path, capsys):
    code, _, err = invoke("list")
    assert code == 1 and "station init" in err and "Traceback" not in err
    code, _, err = invoke("list", "--passphrase-file", str(tmp_path / "nope.txt"), auth=False)
    assert code == 1 and "nope.txt" in err
    code, _, err = invoke("frobnicate")
    assert code == 2
    code, _, err = invoke("show", auth=False)
    assert code == 2 and "Missing argument" in err


def test_catalogue_needs_no_passphrase(invoke):
    code, out, _ = invoke("catalogue", "--json", auth=False)
    assert code == 0 and len(json.loads(out)["matters"]) >= 30
    code, out, _ = invoke("catalogue", "hj-001", "--lang", "zh", auth=False)
    assert "居住证" in out and "必要" in out
    code, _, err = invoke("catalogue", "XX-000", auth=False)
    assert code == 1 and "XX-000" in err


def test_agents_passwd_and_recover(ready, tmp_path):
    new = tmp_path / "new.txt"
    new.write_text("second agent passphrase\n", encoding="utf-8")
    code, _, err = ready("agent", "add", "张建国", "--new-passphrase-file", str(new),
                         "--insecure-fast-kdf")
    assert code == 0, err
    code, out, _ = ready("agent", "list", "--json")
    assert json.loads(out)["agents"] == ["李春梅", "张建国"]
    code = run(cli, ["list", "--home", str(ready.home), "--passphrase-file", str(new)])
    assert code == 0


def test_an_agent_cannot_remove_the_slot_they_opened_the_station_with(ready, tmp_path):
    """With two agents, the one at the keyboard typing their own name (a slip, or leaving
    on their last day) was out of the station the moment the command ended."""
    other = tmp_path / "other.txt"
    other.write_text("second agent passphrase\n", encoding="utf-8")
    assert ready("agent", "add", "张建国", "--new-passphrase-file", str(other),
                 "--insecure-fast-kdf")[0] == 0
    before = (ready.home / "station.db").read_bytes()
    code, _, err = ready("agent", "remove", "李春梅", "--lang", "zh")
    assert code == 1 and "不能删除您自己的口令" in err and "Traceback" not in err
    code, _, err = ready("agent", "remove", "李春梅")
    assert code == 1 and "your own key slot" in err
    assert (ready.home / "station.db").read_bytes() == before
    code, _, err = ready("agent", "remove", "李春梅", "--passphrase-file", str(other),
                         auth=False)
    assert code == 0, err
    code, out, _ = ready("agent", "list", "--json", "--passphrase-file", str(other),
                         auth=False)
    assert json.loads(out)["agents"] == ["张建国"]


def test_recover_reads_the_recovery_key_from_a_file_kept_off_the_command_line(invoke,
                                                                              tmp_path):
    """A key on the command line shows in `ps` and stays in the shell history; from a file
    (as copied from the paper) it sets the new passphrase, which then opens the station."""
    code, out, err = invoke("init", "--station", "V001", "--name", "青石村便民服务站",
                            "--agent", "李春梅", "--insecure-fast-kdf", "--json")
    assert code == 0, err
    key_file = tmp_path / "key.txt"
    key_file.write_text("\ufeff" + json.loads(out)["recovery_key"] + "\n", encoding="utf-8")
    new = tmp_path / "new.txt"
    new.write_text("set with the recovery key\n", encoding="utf-8")
    code, _, err = invoke("recover", "--recovery-key-file", str(key_file),
                          "--new-passphrase-file", str(new), "--insecure-fast-kdf",
                          "--agent", "李春梅")
    assert code == 0, err
    assert "李春梅" in err
    assert run(cli, ["list", "--home", str(invoke.home), "--passphrase-file", str(new)]) == 0


def test_recover_for_a_name_no_agent_has_says_it_added_a_new_agent(invoke, tmp_path):
    """李春妹 typed for 李春梅: the recovery key made a new agent and said it had set a new
    passphrase for her, while 李春梅's forgotten one was left as it was."""
    code, out, err = invoke("init", "--station", "V001", "--name", "青石村便民服务站",
                            "--agent", "李春梅", "--insecure-fast-kdf", "--json")
    assert code == 0, err
    key_file = tmp_path / "key.txt"
    key_file.write_text(json.loads(out)["recovery_key"] + "\n", encoding="utf-8")
    new = tmp_path / "new.txt"
    new.write_text("set with the recovery key\n", encoding="utf-8")
    code, _, err = invoke("recover", "--recovery-key-file", str(key_file),
                          "--new-passphrase-file", str(new), "--insecure-fast-kdf",
                          "--agent", "李春妹", "--lang", "zh", auth=False)
    assert code == 0, err
    assert "添加为新代办员" in err and "李春梅" in err and "未改变" in err


def test_recover_says_how_to_give_the_key_and_changes_nothing_when_it_cannot(invoke,
                                                                            tmp_path):
    code, out, err = invoke("init", "--station", "V001", "--name", "青石村便民服务站",
                            "--agent", "李春梅", "--insecure-fast-kdf", "--json")
    assert code == 0, err
    key = json.loads(out)["recovery_key"]
    before = (invoke.home / "station.db").read_bytes()
    key_file = tmp_path / "key.txt"
    key_file.write_text(key + "\n", encoding="utf-8")
    code, _, err = invoke("recover", "--recovery-key-file", str(key_file),
                          "--recovery-key", key, "--insecure-fast-kdf", "--lang", "zh")
    assert code == 2 and "只用" in err and "Traceback" not in err
    code, _, err = invoke("recover", "--recovery-key-file", str(tmp_path / "nope.txt"),
                          "--insecure-fast-kdf")
    assert code == 1 and "recovery key file" in err and "nope.txt" in err
    code, _, err = invoke("recover", "--insecure-fast-kdf")  # no terminal to type it on
    assert code == 1 and "--recovery-key-file" in err and "Traceback" not in err
    assert (invoke.home / "station.db").read_bytes() == before


def test_a_new_passphrase_is_never_taken_from_the_unlock_passphrase_file(ready, tmp_path):
    """--passphrase-file (or STATION_PASSPHRASE_FILE) unlocks; it must not silently become
    the new agent's passphrase, nor the "changed" one."""
    code, _, err = ready("agent", "add", "张建国", "--insecure-fast-kdf")
    assert code == 1 and "--new-passphrase-file" in err and "Traceback" not in err
    code, out, _ = ready("agent", "list", "--json")
    assert json.loads(out)["agents"] == ["李春梅"]
    before = (ready.home / "station.db").read_bytes()
    code, _, err = ready("passwd")
    assert code == 1 and "--new-passphrase-file" in err
    assert (ready.home / "station.db").read_bytes() == before
    new = tmp_path / "new.txt"
    new.write_text("a changed passphrase\n", encoding="utf-8")
    code, _, err = ready("passwd", "--new-passphrase-file", str(new))
    assert code == 0, err
    assert run(cli, ["list", "--home", str(ready.home), "--passphrase-file", str(new)]) == 0


def test_list_json_never_loads_textual(ready, passphrase_file):
    probe = ("import sys; from station.cli import main; sys.argv=['station','list','--json',"
             f"'--home',{str(ready.home)!r},'--passphrase-file',{str(passphrase_file)!r}];\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "assert 'textual' not in sys.modules, 'textual was imported'")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_demo_runs_and_prints_a_list(invoke):
    code, out, err = invoke("demo", auth=False)
    assert code == 0, err
    assert "V001-" in out and "Demo station V001" in err


def test_home_and_lang_before_the_command_apply_to_it(tmp_path, passphrase_file, capsys,
                                                      monkeypatch):
    home, elsewhere = tmp_path / "s1", tmp_path / "elsewhere"
    monkeypatch.setenv("STATION_HOME", str(elsewhere))
    auth = ["--passphrase-file", str(passphrase_file)]
    assert run(cli, ["--home", str(home), "init", "--station", "V001", "--name", "青石村",
                     "--agent", "李春梅", "--insecure-fast-kdf", *auth]) == 0
    assert (home / "station.db").exists() and not elsewhere.exists()
    capsys.readouterr()
    assert run(cli, ["--home", str(home), "--lang", "zh", "list", *auth]) == 0
    assert "姓名" in capsys.readouterr().out
    # what is typed after the command wins over what is typed before it
    assert run(cli, ["--home", str(elsewhere), "--lang", "zh", "list", "--home", str(home),
                     "--lang", "en", *auth]) == 0
    assert "Name" in capsys.readouterr().out


def test_a_refused_status_writes_the_edits_set_with_it_neither(ready, tmp_path):
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    receipt = json.loads(ready("list", "--json")[1])[0]["receipt"]
    code, _, err = ready("edit", receipt, "--set", "notes=来过电话", "--status", "bogus")
    assert code == 1 and "Traceback" not in err and "Internal error" not in err
    code, _, err = ready("edit", receipt, "--set", "notes=来过电话", "--status", "bogus")
    assert code == 1
    shown = json.loads(ready("show", receipt, "--json", "--history")[1])
    assert not shown["fields"].get("notes") and len(shown["history"]) == 1


@pytest.mark.parametrize("args", [("list", "--search", "\udcff"), ("show", "\udcffab"),
                                  ("edit", "V001", "--set", "notes=\udce4\udcb8")])
def test_text_that_is_not_utf8_is_refused_with_a_sentence(ready, args):
    code, _, err = ready(*args, "--lang", "zh")
    assert code == 2 and "不是有效的 UTF-8" in err and "\\x" in err
    code, _, err = ready(*args)
    assert code == 2 and "is not valid UTF-8" in err and "Internal error" not in err


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_init_never_replaces_another_programs_database(invoke, force):
    invoke.home.mkdir()
    other = sqlite3.connect(invoke.home / "station.db")
    other.execute("CREATE TABLE photos (name TEXT)")
    other.commit()
    other.close()
    code, _, err = invoke("init", "--station", "V001", "--name", "青石村", "--agent", "李春梅",
                          "--insecure-fast-kdf", "--lang", "zh", *force)
    assert code == 1 and "不是站点的数据库" in err and "内部错误" not in err
    code, _, err = invoke("list")
    assert code == 1 and "is an SQLite database, but not a station's" in err
    other = sqlite3.connect(invoke.home / "station.db")
    assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("photos",)]


@pytest.mark.parametrize(("damage", "missing"), [
    ("DROP TABLE records", "records"),
    ("DELETE FROM secrets", "secrets: sign, secrets: seal"),
    ("DELETE FROM keyslots WHERE kind = 'agent'", "keyslots"),
])
def test_a_damaged_station_database_says_so(ready, damage, missing):
    db = sqlite3.connect(ready.home / "station.db")
    db.execute(damage)
    db.commit()
    db.close()
    code, _, err = ready("list")
    assert code == 1 and f"is damaged (missing {missing}); restore it from a backup" in err
    code, _, err = ready("list", "--lang", "zh")
    assert "已损坏" in err and "Wrong passphrase" not in err


@contextlib.contextmanager
def refusing_writes(path: Path):
    """Make ``path`` refuse writes for real: root ignores permission bits, so as root the
    file or folder is made immutable (chattr +i); otherwise its write bits are taken away."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)],
                                                    capture_output=True).returncode:
        pytest.skip("as root, a file refuses writes only if chattr +i works here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_disk_that_refuses_writes_is_not_called_a_corrupt_database(ready, tmp_path, capsys,
                                                                    passphrase_file):
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    receipt = json.loads(ready("list", "--json")[1])[0]["receipt"]
    with refusing_writes(ready.home / "station.db"):
        code, _, err = ready("edit", receipt, "--set", "notes=来过电话")
        assert code == 1 and "Cannot read or write" in err and "write-protected" in err
        code, _, err = ready("edit", receipt, "--set", "notes=来过电话", "--lang", "zh")
        assert "写保护" in err and "备份" not in err
    folder = tmp_path / "usb"
    folder.mkdir()
    with refusing_writes(folder):
        for home in (folder, folder / "station"):
            code = run(cli, ["init", "--home", str(home), "--station", "V002", "--name", "红岩村",
                             "--agent", "李春梅", "--insecure-fast-kdf",
                             "--passphrase-file", str(passphrase_file)])
            err = capsys.readouterr().err
            assert code == 1 and "write-protected" in err and "corrupt" not in err


def test_a_bundle_used_the_wrong_way_round_says_what_to_do_with_it(ready, tmp_path):
    uplink, other, junk = tmp_path / "up.stb", tmp_path / "v002.stb", tmp_path / "notes.stb"
    uplink.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, []))
    other.write_bytes(write_bundle({"kind": "downlink", "station": "V002"}, []))
    junk.write_bytes(b"just some text, not a bundle at all" * 3)
    code, _, err = ready("bundle", "import", str(uplink))
    assert code == 1 and "station bundle upload" in err and "Export it again" not in err
    code, _, err = ready("bundle", "import", str(other), "--lang", "zh")
    assert code == 1 and "是给站点 V002 的" in err and "重新导出" not in err
    code, _, err = ready("bundle", "upload", str(other), "--url", "http://127.0.0.1:9")
    assert code == 1 and "import it at the station" in err
    code, _, err = ready("bundle", "import", str(junk), "--lang", "zh")
    assert code == 1 and "不是站点数据包" in err
    junk.write_bytes(uplink.read_bytes()[:-1] + b"?")
    code, _, err = ready("bundle", "import", str(junk), "--lang", "zh")
    assert code == 1 and "校验和不符" in err and "checksum" not in err


@pytest.mark.parametrize(("lang", "wrong", "cut"), [
    ("en", "is not a station bundle (perhaps the wrong file", "incomplete or altered (cut"),
    ("zh", "不是站点数据包（也许选错了文件", "不完整或已被改动（文件被截断"),
])
def test_a_photo_picked_on_the_stick_is_called_the_wrong_file_not_a_damaged_bundle(
        ready, tmp_path, lang, wrong, cut):
    """The agent or the clerk picks the wrong file on the stick (a photo). It was called an
    'incomplete or altered' bundle to 'make again', which sends them to export again for
    nothing; an empty or cut-off copy of a bundle is still said to be cut short."""
    photo, empty = tmp_path / "IMG_0412.jpg", tmp_path / "V001.stb"
    photo.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(4000))
    empty.write_bytes(b"")
    for argv in (["bundle", "import", str(photo)],
                 ["bundle", "upload", str(photo), "--url", "http://127.0.0.1:9"]):
        code, _, err = ready(*argv, "--lang", lang)
        assert code == 1 and wrong in err and "Traceback" not in err
        assert "重新制作" not in err and "Make it again" not in err
    code, _, err = ready("bundle", "import", str(empty), "--lang", lang)
    assert code == 1 and cut in err


@pytest.mark.parametrize(("lang", "again", "sync_words"), [
    ("en", "upload it again once the link is back", "saved work will be sent"),
    ("zh", "联网后再上传一次即可", "已保存的工作会在下次联网时发送"),
])
def test_an_upload_that_cannot_reach_the_centre_says_to_upload_again(
        invoke, tmp_path, lang, again, sync_words):
    """The town computer's link is down (no centre answers at the address). A sync's words,
    'saved work will be sent when the link is back', told the clerk nothing needed doing,
    while nothing on that computer sends it later: the stick's file must be uploaded again.
    Exit 3 as for any centre out of reach."""
    stick = tmp_path / "V001.stb"
    stick.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, [b"sealed"]))
    before = stick.read_bytes()
    code, _, err = invoke("bundle", "upload", str(stick), "--url",
                          f"http://127.0.0.1:{free_port()}", "--lang", lang)
    assert code == 3 and again in err and sync_words not in err and "Traceback" not in err
    assert stick.read_bytes() == before


ESCAPE = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J"  # sets the clipboard, clears the screen


def test_a_crafted_station_name_in_a_bundles_header_never_reaches_the_terminal(ready,
                                                                             tmp_path):
    """Whoever carries a stick can write its header: a reply 'for' a station named with an
    escape sequence was refused naming that station raw, and the terminal ran it."""
    crafted = tmp_path / "V001.reply.stb"
    crafted.write_bytes(write_bundle({"kind": "downlink", "station": f"V002{ESCAPE}"}, []))
    for lang in ("en", "zh"):
        code, _, err = ready("bundle", "import", str(crafted), "--lang", lang)
        assert code == 1 and "V002" in err and "\x1b" not in err and "\x07" not in err


def test_the_reply_file_is_named_as_upload_really_names_it(ready, tmp_path):
    """--help said the reply goes to PATH.reply.stb (V001.stb.reply.stb), and an uplink
    imported by mistake was told to import 'the reply file that makes': the clerk and the
    agent looked for a file that is never there. The reply of V001.stb is V001.reply.stb."""
    code, out, _ = ready("bundle", "upload", "--help")
    assert code == 0 and "V001.stb → V001.reply.stb" in " ".join(out.split())
    uplink = tmp_path / "V001.stb"
    uplink.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, []))
    code, _, err = ready("bundle", "import", str(uplink))
    assert code == 1 and "import the reply file the upload saves beside it" in err
    code, _, err = ready("bundle", "import", str(uplink), "--lang", "zh")
    assert code == 1 and "上传时在旁边生成的回传包" in err


def test_a_huge_file_on_a_stick_is_refused_without_being_loaded(ready, tmp_path):
    """A crafted stick (or the wrong file: a film, a disk image) far bigger than any bundle:
    import and upload refuse it in a sentence, without reading it into memory — read whole,
    it took the laptop's memory and ended in 'Internal error: MemoryError'."""
    huge = tmp_path / "V001.stb"
    with huge.open("wb") as fh:  # sparse: takes no room on the test machine's disk
        fh.truncate(MAX_BUNDLE + 1)
    tracemalloc.start()
    try:
        code, _, err = ready("bundle", "import", str(huge))
        assert code == 1 and "far bigger than a station bundle" in err and "nothing was" in err
        code, _, err = ready("bundle", "upload", str(huge), "--url", "http://127.0.0.1:9",
                             "--lang", "zh")
        assert code == 1 and "远大于站点数据包" in err and "Traceback" not in err
        assert tracemalloc.get_traced_memory()[1] < MAX_BUNDLE // 8
    finally:
        tracemalloc.stop()
    assert ready("sync", "--status", "--json")[0] == 0  # the station is untouched


@pytest.mark.parametrize("here", ["no station", "not enrolled"])
def test_uploading_a_bundle_on_a_computer_without_a_centre_asks_for_url(invoke, tmp_path,
                                                                        here):
    """The person in town who uploads a village's stick has no station, or one never
    enrolled: they are told to give --url, not sent off to `station init` or `enroll`."""
    if here == "not enrolled":
        assert invoke("init", "--station", "V009", "--name", "网吧的电脑", "--agent", "李春梅",
                      "--insecure-fast-kdf", "--json")[0] == 0
    stick = tmp_path / "V001.stb"
    stick.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, []))
    code, _, err = invoke("bundle", "upload", str(stick), auth=False)
    assert code == 2 and "--url" in err
    assert "station init" not in err and "station enroll" not in err
    code, _, err = invoke("bundle", "upload", str(stick), "--lang", "zh", auth=False)
    assert code == 2 and "请用 --url 指定" in err


def test_a_passphrase_file_saved_by_notepad_unlocks(ready, tmp_path, passphrase_file):
    notepad = tmp_path / "notepad.txt"
    notepad.write_bytes(b"\xef\xbb\xbf" + passphrase_file.read_bytes().replace(b"\n", b"\r\n"))
    code, _, err = ready("list", "--passphrase-file", str(notepad), auth=False)
    assert code == 0, err


@pytest.mark.parametrize(("content", "zh"), [(None, "文件不存在"), (b"\xff\xfe", "不是 UTF-8"),
                                             (b"\n", "第一行是空的")])
def test_an_unreadable_passphrase_file_is_explained_in_chinese(ready, tmp_path, content, zh):
    path = tmp_path / "pass-bad.txt"
    if content is not None:
        path.write_bytes(content)
    code, _, err = ready("list", "--passphrase-file", str(path), "--lang", "zh", auth=False)
    assert code == 1 and f"无法读取口令文件 {path}：{zh}" in err


def test_wrong_option_combinations_are_usage_errors_in_the_persons_language(ready, tmp_path):
    bundle = tmp_path / "up.stb"
    bundle.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, []))
    for args, words in ((("conflicts", "settle", "R:notes"), "--pick"),
                        (("conflicts", "settle", "R:notes", "--pick", "1", "--value", "x"),
                         "--value"),
                        (("sync", "--every", "30m"), "--watch"),
                        (("bundle", "upload", str(bundle), "--url", "notaurl"), "notaurl")):
        code, _, err = ready(*args)
        assert code == 2 and words in err, (args, err)
        code, _, err = ready(*args, "--lang", "zh")
        assert code == 2 and any("\u4e00" <= ch <= "\u9fff" for ch in err), (args, err)
    code, _, err = ready("conflicts", "settle", "nonsense", "--pick", "1")
    assert code == 1 and "nonsense" in err


def test_clicks_own_usage_errors_lead_with_a_chinese_sentence(invoke):
    # (a bad --month has its own sentence in both languages: tests/cli/test_casework.py)
    code, _, err = invoke("contact", "V001", "--via", "email", "--note", "x", "--lang", "zh",
                          auth=False)
    assert code == 2 and err.startswith("命令用法有误（可运行 station contact --help 查看用法）")
    assert "email" in err
    code, _, err = invoke("--lang", "zh", "frobnicate", auth=False)
    assert code == 2 and err.startswith("命令用法有误") and "frobnicate" in err
    code, _, err = invoke("contact", "V001", "--via", "email", "--note", "x", "--lang", "en",
                          auth=False)
    assert code == 2 and "Usage: station contact" in err and "命令" not in err


@pytest.mark.parametrize("args", [("import",), ("bundle", "upload"), ("bundle", "import")])
def test_a_missing_file_or_a_folder_is_named_in_the_persons_language(ready, tmp_path, args):
    missing = tmp_path / "在U盘上.csv"
    code, _, err = ready(*args, str(missing), "--lang", "zh")
    assert code == 2 and err.strip() == f"找不到文件 {missing}：请检查路径和文件名"
    code, _, err = ready(*args, str(missing))
    assert code == 2 and f"There is no file {missing}" in err
    code, _, err = ready(*args, str(tmp_path), "--lang", "zh")
    assert code == 2 and f"{tmp_path} 是一个文件夹" in err


@pytest.mark.parametrize("args", [("export", "csv"), ("bundle", "export"),
                                  ("bundle", "upload", "{bundle}", "--url",
                                   "http://127.0.0.1:9", "--reply")])
def test_a_folder_given_as_the_file_to_write_is_named_in_the_persons_language(ready, tmp_path,
                                                                              args):
    """click said "Invalid value for 'PATH': File '导出' is a directory." in English, under
    the Chinese lead, for a file the command writes."""
    bundle = tmp_path / "up.stb"
    bundle.write_bytes(write_bundle({"kind": "uplink", "station": "V001"}, []))
    folder = tmp_path / "导出"
    folder.mkdir()
    argv = [a.format(bundle=bundle) for a in args]
    code, _, err = ready(*argv, str(folder), "--lang", "zh")
    assert code == 2 and f"{folder} 是一个文件夹：请写上其中的文件名" in err
    assert "directory" not in err
    code, _, err = ready(*argv, str(folder), "--lang", "en")
    assert code == 2 and f"{folder} is a folder: give the name of a file in it" in err
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(("seconds", "zh", "en"), [(20, "20 秒", "20 s"),
                                                   (1800, "30 分钟", "30 min"),
                                                   (7200, "2 小时", "2 h"),
                                                   (90, "90 秒", "90 s")])
def test_the_watch_interval_is_said_in_the_unit_it_was_given_in(seconds, zh, en):
    assert _interval(seconds) == (zh, en)  # "--every 20s" once read "every 0 min"


def test_show_history_gives_china_time_and_field_names_not_milliseconds(ready, tmp_path):
    """`station show --history` printed each change's time as 13 digits of milliseconds
    (1795000000000) and its fields by their inner names (resident.name)."""
    path = tmp_path / "residents.csv"
    path.write_text(CSV, encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    receipt = json.loads(ready("list", "--json")[1])[0]["receipt"]
    assert ready("edit", receipt, "--set", "notes=来过电话")[0] == 0
    shown = json.loads(ready("show", receipt, "--json", "--history")[1])
    code, out, _ = ready("show", receipt, "--history", "--lang", "zh")
    assert code == 0
    lines = [line for line in out.splitlines() if "@" in line]
    assert len(lines) == len(shown["history"]) == 2
    wall = shown["history"][-1]["wall"]
    assert china_time(wall) in lines[-1] and str(wall) not in out
    assert re.search(r"^  \d{4}-\d\d-\d\d \d\d:\d\d 李春梅 @ ", lines[-1])
    assert "备注" in lines[-1] and "notes" not in lines[-1]
    (note,) = shown["fields"]["notes"]
    assert f"{china_time(note['at'])} 李春梅: 来过电话" in out  # the note, when it was made


def test_a_visit_made_later_than_now_is_refused_naming_the_field(ready, tmp_path):
    """A visit's actual time three hours from now (China time) has not happened yet; the old
    check compared dates only and kept it if it was still today."""
    later = (china_now() + dt.timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    path = tmp_path / "visit.jsonl"
    path.write_text(json.dumps({"kind": "visit", "resident.name": "王桂英",
                                "scheduled_at": later}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    assert ready("import", str(path))[0] == 0
    receipt = json.loads(ready("list", "--json")[1])[0]["receipt"]
    code, _, err = ready("edit", receipt, "--set", f"actual_at={later}", "--lang", "zh")
    assert code == 1 and "Traceback" not in err
    assert f"实际时间 {later} 还没有到" in err
    code, _, err = ready("edit", receipt, "--set", f"actual_at={later}")
    assert code == 1 and f"Visited at {later} has not come yet" in err
    assert "actual_at" not in json.loads(ready("show", receipt, "--json")[1])["fields"]


def test_every_option_of_every_command_says_what_it_is_for():
    """`station centre serve --help` listed --host and --port, and `station contact --help`
    --via, with no word on them: a new user had to guess what --via wants."""
    def bare(command: click.Command, path: str) -> list[str]:
        found = [f"{path} {p.opts[0]}" for p in command.params
                 if isinstance(p, click.Option) and not p.hidden and not p.help]
        for name, sub in getattr(command, "commands", {}).items():
            found += bare(sub, f"{path} {name}")
        return found

    assert bare(cli, "station") == []
