"""`station centre …` and `station enroll` against a REAL centre: `station centre serve` runs as a
subprocess on 127.0.0.1 and a free port, and the CLI talks to it over HTTP as staff would.

The loop a town runs: enroll-code → station init → station enroll → push → decide → the
decision flows down → revoke → the station's signed requests are refused with the revoked
sentence. Plus the failure paths a person meets: a bad staff token (exit 1, the centre's own
sentence), a centre that is down (exit 3), bad options (exit 2), never a traceback.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from station.cli import cli
from station.cli.centre import parse_duration, redact, station_list
from station.cli.common import run
from station.store.service import Station
from station.store.syncstate import SyncState
from station.sync.client import link_for
from station.sync.engine import pull, push
from station.sync.errors import Refused
from tests.centre.conftest import pg_url  # noqa: F401 — the fixture, used by name below
from tests.conftest import PASSPHRASE
from tests.served import Served

# How the subprocess starts the command (a scratch copy may wrap it, see test_ordering.py).
LAUNCH = "from station.cli import main; main()"
APPLICATION = {"kind": "application", "matter": "HJ-001", "applicant.name": "王桂英",
               "materials.received": ["M01", "M02", "M03", "M04"]}


class CentreProcess(Served):
    """One `station centre serve` subprocess; its output goes to a log file beside its home."""

    label = "station centre serve"
    busy = "port may be in use"  # station/cli/centre.py's sentence when it cannot bind

    def __init__(self, home: Path, key_file: Path, *, db: str = "", extra: tuple[str, ...] = (),
                 launch: str = LAUNCH, name: str = "") -> None:
        super().__init__(home.parent / f"{name or home.name}-serve.log")
        self.home, self.key_file, self.db, self.extra, self.launch = (home, key_file, db,
                                                                     extra, launch)

    def argv(self, port: int) -> list[str]:
        return [sys.executable, "-c", self.launch, "centre", "serve", "--home", str(self.home),
                "--key-file", str(self.key_file), "--port", str(port),
                *(["--db", self.db] if self.db else []), *self.extra]

    def answers(self) -> bool:
        return httpx.get(f"{self.url}/v1/health", timeout=1.0).status_code == 200

    def health(self) -> dict:
        return httpx.get(f"{self.url}/v1/health", timeout=5.0).json()


@pytest.fixture
def start_centre(tmp_path):
    """Start centres; every one is stopped afterwards, whatever the test did."""
    started: list[CentreProcess] = []

    def start(name: str = "centre", *, db: str = "", extra: tuple[str, ...] = (),
              key_file: Path | None = None) -> CentreProcess:
        proc = CentreProcess(tmp_path / name, key_file or tmp_path / f"{name}.keyfile", db=db,
                             extra=extra)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def cli_run(capsys):
    def call(*args: str) -> tuple[int, str, str]:
        code = run(cli, list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def in_process_serve():
    """For a test that runs `station centre serve` in this process up to a refusal: serve
    sets the root logger's handler on the stderr pytest captures, which is closed after the
    test; the logging of later tests in this process would fail on it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def staff_args(centre: CentreProcess) -> list[str]:
    return ["--home", str(centre.home), "--url", centre.url]


def new_station(cli_run, tmp_path: Path, passphrase_file: Path, station: str = "V001",
                records: int = 1) -> list[str]:
    """`station init` plus a few applications made before enrolling; the station's args.
    Each row has its own note: rows alike in every field are one case typed twice."""
    args = ["--home", str(tmp_path / station), "--passphrase-file", str(passphrase_file)]
    code, _, err = cli_run("init", "--station", station, "--name", f"{station} 便民服务站",
                           "--agent", "李春梅", "--insecure-fast-kdf", "--json", *args)
    assert code == 0, err
    if records:
        path = tmp_path / f"{station}.jsonl"
        path.write_text("".join(json.dumps({**APPLICATION, "notes": f"第 {n + 1} 件"},
                                           ensure_ascii=False) + "\n"
                                for n in range(records)), encoding="utf-8")
        code, _, err = cli_run("import", str(path), *args)
        assert code == 0, err
    return args


def open_station(args: list[str]) -> Station:
    return Station.open(Path(args[1]), PASSPHRASE)


def test_the_whole_loop_on_a_real_centre(start_centre, cli_run, tmp_path, passphrase_file):
    centre = start_centre()
    fingerprint = centre.health()["fingerprint"]
    assert (centre.home / "staff.token").exists() and (centre.home / "centre.keys").exists()

    # staff: a one-time code for V001 (JSON as DESIGN §9 shows)
    code_rc, out, err = cli_run("centre", "enroll-code", "v001", "--expires", "2d", "--json",
                                *staff_args(centre))
    assert code_rc == 0, err
    issued = json.loads(out)
    assert issued["station"] == "V001" and issued["expires_s"] == 2 * 86400
    assert issued["code"].startswith(centre.url + "#") and issued["code"].endswith(fingerprint)

    # the station: init, work before enrolling, enroll (fingerprint, scope, sealed backlog)
    st_args = new_station(cli_run, tmp_path, passphrase_file, records=2)
    rc, out, err = cli_run("enroll", issued["code"], *st_args)
    assert rc == 0, err
    assert fingerprint in out and "V001" in err and "2 earlier changes were sealed" in err
    # the code was one-time: another laptop using it again is refused with the centre's
    # sentence (the same station running it again is answered as before: a lost reply)
    other = tmp_path / "other"
    other.mkdir()
    other_args = new_station(cli_run, other, passphrase_file, records=0)
    rc, _, err = cli_run("enroll", issued["code"], "--lang", "zh", *other_args)
    assert rc == 1 and "登记码无效、已用过或已过期" in err and "Traceback" not in err
    rc, _, err = cli_run("enroll", issued["code"], *st_args)
    assert rc == 0, err

    with open_station(st_args) as station:
        receipt = station.list(kind="application")[0].receipt
        with link_for(station.sync) as link:
            report = push(station.sync, link)
    assert report.pushed == 2 and not report.refused

    # staff: decide it; the decision flows down on the station's next pull
    rc, out, err = cli_run("centre", "decide", receipt, "completed", "--reason", "准予办理",
                           "--staff", "张科员", "--json", *staff_args(centre))
    assert rc == 0, err
    assert json.loads(out)["outcome"] == "completed"
    # in words: the receipt and the outcome, not the status's inner value ({'to': …})
    with open_station(st_args) as station:
        other = station.list(kind="application")[1].receipt
    rc, out, err = cli_run("centre", "decide", other, "returned", "--reason", "缺户口簿",
                           "--lang", "zh", *staff_args(centre))
    assert rc == 0 and not out, err
    assert err.strip() == f"已退回 {other}；站点下次同步时会收到"
    with open_station(st_args) as station, link_for(station.sync) as link:
        pull(station.sync, link, station=station)
        record = station.get(receipt)
        assert record.fields["outcome"] == "completed"
        assert record.fields["outcome_reason"] == "准予办理"

    rc, out, _ = cli_run("centre", "stations", "--json", *staff_args(centre))
    assert rc == 0
    [row] = json.loads(out)
    assert row["station"] == "V001" and row["scope"] == ["V001"] and row["revoked_ms"] is None
    rc, out, _ = cli_run("centre", "stations", "--lang", "zh", *staff_args(centre))
    assert rc == 0 and "V001" in out and "服务村" in out

    # revoke: the station's signed requests are refused with the revoked sentence
    rc, out, err = cli_run("centre", "revoke", "V001", "--json", *staff_args(centre))
    assert rc == 0, err
    assert json.loads(out) == {"station": "V001", "revoked": True, "already": False}
    rc, _, err = cli_run("centre", "revoke", "V001", *staff_args(centre))
    assert rc == 0 and "already revoked" in err
    rc, _, err = cli_run("centre", "revoke", "V404", *staff_args(centre))
    assert rc == 1 and "not enrolled" in err
    with (open_station(st_args) as station, link_for(station.sync) as link,
          pytest.raises(Refused) as refused):
        pull(station.sync, link, station=station)
    assert refused.value.params["centre_code"] == "centre.revoked"
    assert "were revoked by the town centre" in refused.value.message("en")
    assert "已被镇中心吊销" in refused.value.message("zh")

    # the centre goes down: staff commands and enrollment exit 3 with a sentence
    centre.stop()
    rc, _, err = cli_run("centre", "stations", *staff_args(centre))
    assert rc == 3 and "Cannot reach the town centre" in err and "Traceback" not in err
    rc, _, err = cli_run("enroll", issued["code"], "--lang", "zh", *st_args)
    assert rc == 3 and "无法连接镇中心" in err


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= {int(child)} | _descendants(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_stopping_the_centre_stops_its_check_processes(start_centre):
    """systemd stops a centre with SIGTERM: it exits cleanly and leaves none of the processes
    that check pushes running (uvicorn re-raises the signal once it has shut down)."""
    centre = start_centre()
    children = _descendants(centre.proc.pid)
    if (os.cpu_count() or 1) > 1:
        assert children, "a centre on several cores checks pushes in worker processes"
    assert centre.stop() in (0, -signal.SIGTERM)  # not killed after a hang
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in children if _alive(p)]


def test_enroll_code_draws_a_qr_code_and_refuses_a_bad_token(start_centre, cli_run, tmp_path):
    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "BUS01", "--scope", "V001,v002", "--qr",
                           *staff_args(centre))
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[-1].startswith(centre.url + "#")
    assert len(lines) > 15 and any("█" in line or "▀" in line for line in lines[:-1])
    assert "V001, V002" in err and "1 week" in err

    # a bad staff token: exit 1 with the centre's sentence, in the language asked for
    bad = tmp_path / "bad.token"
    bad.write_text("NOT-THE-TOKEN\n")
    for lang, words in (("en", "A valid staff token is needed"), ("zh", "工作人员令牌")):
        rc, _, err = cli_run("centre", "enroll-code", "V002", "--token-file", str(bad),
                             "--url", centre.url, "--lang", lang)
        assert rc == 1 and words in err and "Traceback" not in err
    # no token file at all: a sentence saying where it looked
    rc, _, err = cli_run("centre", "stations", "--home", str(tmp_path / "elsewhere"),
                         "--url", centre.url)
    assert rc == 1 and "staff token" in err and "elsewhere" in err
    rc, _, err = cli_run("centre", "stations", "--home", str(tmp_path / "elsewhere"),
                         "--url", centre.url, "--lang", "zh")
    assert rc == 1 and "工作人员令牌" in err and "文件不存在" in err and "no such" not in err
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    rc, _, err = cli_run("centre", "stations", "--token-file", str(empty), "--url", centre.url,
                         "--lang", "zh")
    assert rc == 1 and "文件是空的" in err and "is empty" not in err

    # a refusal from the centre's own rules (a receipt it does not have)
    rc, _, err = cli_run("centre", "decide", "NOPE-1", "returned", "--reason", "x",
                         *staff_args(centre))
    assert rc == 1 and "No such record NOPE-1" in err


def test_decide_with_a_control_character_in_the_receipt_names_the_receipt(start_centre,
                                                                          cli_run):
    """A receipt pasted with a stray control character was answered "Bad request: body.
    receipt: Value error, …" in English under the Chinese: the receipt is named, in words."""
    centre = start_centre()
    rc, _, err = cli_run("centre", "decide", "V001-20261123-0001\x01", "completed",
                         *staff_args(centre), "--lang", "zh")
    assert rc == 1 and "Traceback" not in err
    assert "编号（RECEIPT）含有不可见的控制字符" in err
    assert "body." not in err and "Value error" not in err and "Bad request" not in err
    rc, _, err = cli_run("centre", "decide", "V001-20261123-0001\x01", "completed",
                         *staff_args(centre))
    assert rc == 1 and "The receipt number (RECEIPT) contains control characters" in err


def test_a_service_bus_enrolled_as_the_readme_shows_gets_its_own_work_through(
        start_centre, cli_run, tmp_path, passphrase_file):
    """A bus files its own applications under its own id (BUS01): a code naming only the
    villages it serves left every one of them refused by the centre and quarantined."""
    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "BUS01", "--scope", "V001,V002,v001",
                           "--json", *staff_args(centre))
    assert rc == 0, err
    issued = json.loads(out)
    assert issued["scope"] == ["BUS01", "V001", "V002"]
    bus = new_station(cli_run, tmp_path, passphrase_file, "BUS01", records=2)
    assert cli_run("enroll", issued["code"], *bus)[0] == 0
    rc, out, err = cli_run("sync", "--json", *bus)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["pushed"] == 2 and not summary["refused"], summary
    rc, out, _ = cli_run("centre", "stations", "--json", *staff_args(centre))
    assert [row["scope"] for row in json.loads(out)] == [["BUS01", "V001", "V002"]]

    # a second code for a station in use (a typo for BUS02?) says whose place it would take
    for lang, words in (("en", "station BUS01 is enrolled now, on device BUS01-"),
                        ("zh", "站点 BUS01 目前已由设备 BUS01-")):
        rc, out, err = cli_run("centre", "enroll-code", "bus01", "--json", "--lang", lang,
                               *staff_args(centre))
        assert rc == 0 and words in err and "revoke BUS01" in err
        assert json.loads(out)["replaces"].startswith("BUS01-")
    rc, out, err = cli_run("centre", "enroll-code", "BUS02", "--json", *staff_args(centre))
    assert rc == 0 and json.loads(out)["replaces"] is None and "Note" not in err


def test_work_the_centre_refused_is_sent_again_once_the_cause_is_mended(
        start_centre, cli_run, tmp_path, passphrase_file):
    """A bus enrolled before the centre put its own id in its scope had its applications
    refused and set aside. Once the centre is mended, `sync --retry-refused` sends them
    again; a plain sync leaves them aside, so a refusal is never sent round and round."""
    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "BUS01", "--scope", "V001", "--json",
                           *staff_args(centre))
    bus = new_station(cli_run, tmp_path, passphrase_file, "BUS01", records=2)
    assert cli_run("enroll", json.loads(out)["code"], *bus)[0] == 0
    sync = SyncState.open_locked(tmp_path / "BUS01")
    for item in sync.outbox(limit=10, max_bytes=1 << 30):  # as the old centre refused them
        sync.quarantine(item.changeset, {"code": "centre.scope", "en": "not in scope"})
    sync.close()
    rc, out, err = cli_run("sync", "--json", *bus)
    assert rc == 0 and json.loads(out)["pushed"] == 0, err
    rc, out, err = cli_run("sync", "--retry-refused", "--json", *bus)
    assert rc == 0, err
    assert "2 refused changes are queued again" in err
    assert json.loads(out)["pushed"] == 2 and not json.loads(out)["refused"]
    sync = SyncState.open_locked(tmp_path / "BUS01")
    assert sync.quarantined() == [] and sync.unsent() == 0
    sync.close()


def test_a_centre_whose_database_cannot_serve_is_not_called_unreachable(start_centre,
                                                                        cli_run):
    """A 503 (the database locked by another process, down or restarting) comes from a
    centre that runs: the staff are told to try again, not to go and check it is running."""
    centre = start_centre()
    other = sqlite3.connect(centre.home / "centre.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        rc, _, err = cli_run("centre", "enroll-code", "V002", *staff_args(centre),
                             "--lang", "zh")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert rc == 3 and "在运行，但暂时无法处理请求" in err and "5 秒后再试" in err
    assert "它的回复：镇中心的数据库暂时无法使用（数据库正忙）" in err  # its reason, not a guess
    assert "是否在运行" not in err
    rc, _, err = cli_run("centre", "enroll-code", "V002", *staff_args(centre))
    assert rc == 0, err


def test_catalogue_publish(start_centre, cli_run, tmp_path):
    from station.domain.catalogue import shipped_catalogue

    centre = start_centre()
    doc = shipped_catalogue().to_dict()
    doc["version"] = "2099-01"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    rc, out, err = cli_run("centre", "catalogue", "publish", str(path), "--json",
                           *staff_args(centre))
    assert rc == 0, err
    assert json.loads(out)["version"] == "2099-01"
    rc, _, err = cli_run("centre", "catalogue", "publish", str(path), *staff_args(centre))
    # the rule's own sentence, not dressed as a fault of the program ("Bad request: …")
    assert rc == 1 and err.strip() == ("The town centre refused: Catalogue version 2099-01 is "
                                       "already published")
    doc["version"] = "2098-12"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    rc, _, err = cli_run("centre", "catalogue", "publish", str(path), "--lang", "zh",
                         *staff_args(centre))
    assert rc == 1 and err.strip() == ("镇中心拒绝了请求：事项清单版本 2098-12 比已发布的 "
                                       "2099-01 旧")
    path.write_text("{not json", encoding="utf-8")
    rc, _, err = cli_run("centre", "catalogue", "publish", str(path), *staff_args(centre))
    assert rc == 1 and "Traceback" not in err
    rc, _, err = cli_run("centre", "catalogue", "publish", str(tmp_path / "missing.json"),
                         *staff_args(centre))
    assert rc == 1 and "Cannot read the catalogue file" in err


def test_hybrid_post_quantum_keys(start_centre, cli_run, tmp_path, passphrase_file):
    from station.wire.keys import SUITE_HYBRID

    centre = start_centre(extra=("--hybrid-pq",))
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    assert rc == 0, err
    st_args = new_station(cli_run, tmp_path, passphrase_file)
    assert cli_run("enroll", json.loads(out)["code"], *st_args)[0] == 0
    with open_station(st_args) as station:
        assert station.sync.centre().seal_public[0] == SUITE_HYBRID
        with link_for(station.sync) as link:
            assert push(station.sync, link).pushed == 1


def test_the_loop_on_postgresql(start_centre, cli_run, tmp_path, passphrase_file, pg_url):  # noqa: F811
    centre = start_centre(db=pg_url)
    assert centre.health()["backend"] == "postgresql"
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    assert rc == 0, err
    st_args = new_station(cli_run, tmp_path, passphrase_file)
    rc, out, err = cli_run("enroll", json.loads(out)["code"], "--json", *st_args)
    assert rc == 0, err
    enrolled = json.loads(out)
    assert enrolled["fingerprint"] == centre.health()["fingerprint"]
    assert (enrolled["station"], enrolled["scope"], enrolled["sealed"]) == ("V001", ["V001"], 1)
    assert enrolled["centre"] == centre.url
    with open_station(st_args) as station:
        receipt = station.list(kind="application")[0].receipt
        with link_for(station.sync) as link:
            assert push(station.sync, link).pushed == 1
    rc, out, err = cli_run("centre", "decide", receipt, "returned", "--reason", "材料不全",
                           "--json", *staff_args(centre))
    assert rc == 0, err
    assert json.loads(out)["outcome"] == "returned"
    assert cli_run("centre", "revoke", "V001", *staff_args(centre))[0] == 0


def test_a_relative_sqlite_file_is_the_one_in_the_centre_home(tmp_path, cli_run):
    """`--db sqlite:///centre.db` (as DESIGN §9 writes it) was opened wherever the server was
    started: started from another directory the next day, the centre had an empty database
    and every station it knew was "not enrolled"."""
    shell = tmp_path / "wherever-the-shell-was"
    shell.mkdir()
    centre = CentreProcess(tmp_path / "centre", tmp_path / "centre.keyfile",
                           db="sqlite:///centre.db")
    centre.cwd = shell
    centre.start()
    try:
        rc, _, err = cli_run("centre", "enroll-code", "V001", "--no-qr", *staff_args(centre))
        assert rc == 0, err
    finally:
        centre.stop()
    assert (centre.home / "centre.db").exists() and not (shell / "centre.db").exists()
    assert f"database sqlite:///{centre.home / 'centre.db'}" in centre.log.read_text()


def test_serve_refuses_bad_configuration_with_a_sentence(cli_run, tmp_path, monkeypatch):
    home = ["--home", str(tmp_path / "centre")]
    key = ["--key-file", str(tmp_path / "kf")]
    rc, _, err = cli_run("centre", "serve", "--db", "mysql://x", *home, *key)
    assert rc == 2 and "sqlite:///FILE" in err
    rc, _, err = cli_run("centre", "serve", "--host", "0.0.0.0", *home, *key)
    assert rc == 2 and "--public-url" in err
    pf = tmp_path / "pass"
    pf.write_text("a passphrase\n")
    rc, _, err = cli_run("centre", "serve", "--key-passphrase-file", str(pf), *home, *key)
    assert rc == 2 and "not both" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal to type a passphrase in
    rc, _, err = cli_run("centre", "serve", "--lang", "zh", *home)
    assert rc == 1 and "--key-passphrase-file" in err and "口令" in err
    short = tmp_path / "short"
    short.write_bytes(b"abc")
    rc, _, err = cli_run("centre", "serve", "--key-file", str(short), *home)
    assert rc == 1 and "fewer than 16 bytes" in err
    rc, _, err = cli_run("centre", "serve", "--db", "postgresql://u:secret@127.0.0.1:1/x",
                         *home, *key)
    assert rc == 1 and "Cannot open the centre's database" in err and "secret" not in err
    rc, _, err = cli_run("centre", "enroll-code", "V 1", *home)
    assert rc == 2 and "station id" in err
    rc, _, err = cli_run("centre", "enroll-code", "V001", "--expires", "100d", *home)
    assert rc == 2 and "between 1 minute and 90 days" in err
    rc, _, err = cli_run("centre", "stations", "--url", "localhost:8700", *home)
    assert rc == 2 and "http://host:port" in err
    rc, _, err = cli_run("enroll", "not-a-code", "--home", str(tmp_path / "st"))
    assert rc == 1 and "expected shape" in err


def test_small_parsers():
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("2W") == 14 * 86400
    assert parse_duration("600") == 600
    assert station_list("v001, V002，v003") == ["V001", "V002", "V003"]
    assert redact("postgresql://u:pw@h/db?options=x") == "postgresql://u:***@h/db"
    assert redact("sqlite:////srv/centre.db") == "sqlite:////srv/centre.db"



def test_revoke_help_tells_the_supervisor_to_revoke_before_enrolling_the_replacement(cli_run):
    """Revoking after the replacement laptop enrolled locks out the replacement, not the
    stolen one: the order is the one thing a supervisor must know before running it."""
    rc, out, _ = cli_run("centre", "revoke", "--help")
    assert rc == 0 and "revoke first" in " ".join(out.split())


def test_a_centre_address_with_a_path_a_slash_or_no_scheme_works_or_says_what_to_type(
        start_centre, cli_run, tmp_path, passphrase_file):
    """An API path pasted after the address (from a browser) or a trailing slash still
    reaches the centre; a path the centre does not serve, or an address without http://,
    is a sentence saying what to type, not "the centre refused: Not Found"."""
    centre = start_centre()
    token = ["--home", str(centre.home)]
    for url in (centre.url + "/", centre.url + "/v1/", centre.url + "/v1/health"):
        rc, out, err = cli_run("centre", "stations", "--json", "--url", url, *token)
        assert rc == 0, (url, err)
    for lang, words in (("en", "which is usually just http://host:port with no path"),
                        ("zh", "通常只写 http://主机:端口，不带路径")):
        rc, _, err = cli_run("centre", "stations", "--url", centre.url + "/centre/", *token,
                             "--lang", lang)
        assert rc == 1 and words in err and "Not Found" not in err, err
    bare = centre.url.removeprefix("http://")
    for lang, words in (("en", f"lacks http:// at the start: type http://{bare}"),
                        ("zh", f"前面少了 http://：请写成 http://{bare}")):
        rc, _, err = cli_run("centre", "stations", "--url", bare, *token, "--lang", lang)
        assert rc == 2 and words in err, err
    for typo in (f"http//{bare}", f"http:/{bare}"):  # no "type http://http//…" advice
        rc, _, err = cli_run("centre", "stations", "--url", typo, *token)
        assert rc == 2 and "should look like http://host:port" in err and "type" not in err
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    code = json.loads(out)["code"]
    village = new_station(cli_run, tmp_path, passphrase_file)
    assert cli_run("enroll", code.replace("#", "/v1/#"), *village)[0] == 0
    rc, out, err = cli_run("sync", "--json", *village)
    assert rc == 0 and json.loads(out)["pushed"] == 1, err


def test_a_sync_that_brought_only_a_new_catalogue_says_so(start_centre, cli_run, tmp_path,
                                                           passphrase_file):
    """The centre published a new matter catalogue and nothing else changed: the sync says
    the catalogue came, in both languages, not just "pulled 0" as if nothing had."""
    from station.domain.catalogue import shipped_catalogue

    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    village = new_station(cli_run, tmp_path, passphrase_file, records=0)
    assert cli_run("enroll", json.loads(out)["code"], *village)[0] == 0
    assert cli_run("sync", *village)[0] == 0
    doc = shipped_catalogue().to_dict()
    doc["version"] = "2099-01"
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert cli_run("centre", "catalogue", "publish", str(path), *staff_args(centre))[0] == 0
    rc, _, err = cli_run("sync", "--lang", "zh", *village)
    assert rc == 0 and "事项目录已更新到 2099-01 版" in err, err
    assert "version 2099-01" not in err
    rc, _, err = cli_run("sync", *village)  # already had it: nothing said
    assert rc == 0 and "catalogue" not in err, err


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "Sync stopped: what was sent and received so far is kept"),
    ("zh", "同步已中止：已发送和已接收的部分都已保存")])
def test_ctrl_c_in_the_middle_of_a_sync_says_what_is_kept(start_centre, cli_run, tmp_path,
                                                          passphrase_file, monkeypatch,
                                                          lang, words):
    """Ctrl-C while the pull runs, after the push went through: a sentence saying nothing
    is lost and how to go on, not a silent exit; the next sync has nothing left to send."""
    import station.cli.sync as sync_cli

    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    village = new_station(cli_run, tmp_path, passphrase_file, records=2)
    assert cli_run("enroll", json.loads(out)["code"], *village)[0] == 0
    real = sync_cli.sync_once

    def ctrl_c_at_pull(*args: Any, **kwargs: Any) -> Any:
        def progress(p: Any) -> None:
            if p.phase == "pull":
                raise KeyboardInterrupt
        return real(*args, **{**kwargs, "progress": progress})

    monkeypatch.setattr(sync_cli, "sync_once", ctrl_c_at_pull)
    rc, _, err = cli_run("sync", *village, "--lang", lang)
    assert rc == 130 and words in err and "Traceback" not in err, err
    monkeypatch.setattr(sync_cli, "sync_once", real)
    rc, out, err = cli_run("sync", "--json", *village)
    assert rc == 0 and json.loads(out)["pushed"] == 0 and json.loads(out)["duplicates"] == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def centre_db(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'town.db'}"
    return request.getfixturevalue("pg_url")


def test_staff_list_the_conflicts_stations_left_open(start_centre, cli_run, tmp_path,
                                                     passphrase_file, centre_db):
    """The village and the bus changed the same case apart: the centre's staff see it, in
    the words a station sees, with each value's station, and which stations settle it —
    and never the resident's phone numbers, which no staff command shows."""
    centre = start_centre(db=centre_db)
    homes = {}
    for station, scope in (("V001", "V001"), ("BUS01", "V001")):
        rc, out, err = cli_run("centre", "enroll-code", station, "--scope", scope, "--json",
                               *staff_args(centre))
        assert rc == 0, err
        homes[station] = new_station(cli_run, tmp_path, passphrase_file, station,
                                     records=1 if station == "V001" else 0)
        assert cli_run("enroll", json.loads(out)["code"], *homes[station])[0] == 0
    for station in ("V001", "BUS01"):
        assert cli_run("sync", *homes[station])[0] == 0
    with open_station(homes["V001"]) as village:
        receipt = village.list(kind="application")[0].receipt
    for station, phone, who in (("V001", "13900000001", "spouse"),
                                ("BUS01", "13900000002", "child")):
        rc, _, err = cli_run("edit", receipt, "--set", f"applicant.phone={phone}", "--set",
                             f"authorisation.relationship={who}", *homes[station])
        assert rc == 0, err
    for station, matter in (("V001", "HJ-002"), ("BUS01", "HJ-005")):  # each its own matter
        rc, _, err = cli_run("edit", receipt, "--set", f"matter={matter}", *homes[station])
        assert rc == 0, err
    for station in ("V001", "BUS01", "V001"):
        assert cli_run("sync", *homes[station])[0] == 0

    rc, out, err = cli_run("centre", "conflicts", "--lang", "zh", *staff_args(centre))
    assert rc == 0, err
    assert f"{receipt}:applicant.phone  申请人手机号  (代办件, V001)" in out
    assert f"{receipt}:authorisation.relationship  " in out
    assert "配偶" in out and "子女" in out  # a choice reads as at the station
    assert "13900000001" not in out and "13900000002" not in out
    assert "个人信息或站点填写的文字，不在镇中心显示" in out
    assert "李春梅 @ V001" in out and "李春梅 @ BUS01" in out
    assert (f"由站点解决（BUS01、V001）：在其中一个站点运行 station conflicts settle "
            f"{receipt}:applicant.phone") in out
    # the case's matter and the competing ones by their names, not codes alone
    shown = {row.split("  ")[0]: row for row in out.splitlines() if row.startswith(receipt)}
    matter = next(m for m in ("HJ-002 出生登记（新生儿落户）", "HJ-005 死亡人员户口注销")
                  if m in shown[f"{receipt}:applicant.phone"])
    assert shown[f"{receipt}:matter"].endswith(matter)
    assert "HJ-002 出生登记（新生儿落户）" in out and "HJ-005 死亡人员户口注销" in out
    rc, out, err = cli_run("centre", "conflicts", *staff_args(centre))
    assert rc == 0, err
    assert "HJ-002 Birth registration" in out and "HJ-005 " in out

    rc, out, _ = cli_run("centre", "conflicts", "--json", "--station", "bus01",
                         *staff_args(centre))
    assert rc == 0
    rows = {r["field"]: r for r in json.loads(out)}
    assert set(rows) == {"applicant.phone", "authorisation.relationship", "matter"}
    named = {(h["value"], h["matter_zh"]) for h in rows["matter"]["heads"]}
    assert named == {("HJ-002", "出生登记（新生儿落户）"), ("HJ-005", "死亡人员户口注销")}
    phone = rows["applicant.phone"]
    assert phone["matter"] in ("HJ-002", "HJ-005") and phone["matter_en"] and phone["matter_zh"]
    assert all(not h["shown"] and "value" not in h for h in rows["applicant.phone"]["heads"])
    assert rows["applicant.phone"]["stations"] == ["BUS01", "V001"]
    assert "139000000" not in out
    rc, out, err = cli_run("centre", "conflicts", "--scope", "V002", *staff_args(centre))
    assert rc == 0 and "No open conflicts" in err and not out

    rc, _, err = cli_run("conflicts", "settle", f"{receipt}:applicant.phone", "--value",
                         "13900000003", *homes["BUS01"])
    assert rc == 0, err
    assert cli_run("sync", *homes["BUS01"])[0] == 0
    rc, out, _ = cli_run("centre", "conflicts", "--json", *staff_args(centre))
    assert [r["field"] for r in json.loads(out)] == ["authorisation.relationship", "matter"]


@pytest.mark.parametrize("lang,said", [
    ("zh", "其中 2 件有待处理的冲突，按目前显示的值统计；冲突处理后，这些数字可能会变"
           "（station centre conflicts）"),
    ("en", "2 of the cases counted have open conflicts")])
def test_the_centre_report_says_where_staff_see_the_conflicts_behind_its_figures(
        capsys, tmp_path, lang, said):
    """station centre report prints the figures the centre sent; two counted cases in
    conflict are said under them, with the staff's own listing to look them up in."""
    from station.cli.centre import SETTLE_AT_CENTRE, _figures
    from station.cli.common import Env
    from station.cli.followup import print_figures

    groups = {"V001": _figures({"received": 3, "active": 3, "conflicted": 1}),
              "V002": _figures({"received": 1, "active": 1, "conflicted": 1})}
    print_figures(Env(tmp_path, lang, None, None), groups, "station", settle=SETTLE_AT_CENTRE)
    out = " ".join(capsys.readouterr().out.split())
    assert said in out and "station centre conflicts" in out


def test_keys_that_cannot_be_opened_are_said_in_chinese_with_what_to_do(cli_run, tmp_path,
                                                                         in_process_serve):
    """The centre's keys from another centre, or damaged: the technician running the centre
    in Chinese read 'wrong passphrase or key file' and 'it is damaged … (JSONDecodeError)'
    in English after the Chinese lead."""
    from station.centre.keys import CentreKeys, Protector

    home = tmp_path / "centre"
    home.mkdir()
    ours, theirs = tmp_path / "ours.key", tmp_path / "theirs.key"
    ours.write_bytes(os.urandom(32))
    theirs.write_bytes(os.urandom(32))
    CentreKeys.generate().save(home / "centre.keys", Protector(key_file=theirs))
    args = ("centre", "serve", "--lang", "zh", "--home", str(home), "--key-file", str(ours))
    rc, _, err = cli_run(*args)
    assert rc == 1 and "口令或密钥文件不对" in err and "另一个镇中心" in err, err
    assert "wrong" not in err and "Traceback" not in err
    (home / "centre.keys").write_text("not a key file")
    rc, _, err = cli_run(*args)
    assert rc == 1 and "已损坏" in err and "从备份恢复" in err, err
    assert "damaged" not in err and "Error" not in err


def test_a_database_the_centre_cannot_open_at_start_is_said_in_words(
        cli_run, tmp_path, pg_url, in_process_serve):  # noqa: F811
    """Starting the centre on a database it cannot open printed the driver's English (and,
    for an address it could not parse, the address with its password) after the Chinese
    lead; a SQLite file held by another centre process said 'try again in a moment: the
    station's work is kept', a station's sentence, to the technician starting it."""
    from urllib.parse import urlsplit, urlunsplit

    home = tmp_path / "centre"
    key = tmp_path / "kf"
    key.write_bytes(os.urandom(32))

    def start(db: str) -> str:
        rc, _, err = cli_run("centre", "serve", "--lang", "zh", "--home", str(home),
                             "--key-file", str(key), "--port", "1", "--db", db)
        assert rc == 1 and "Traceback" not in err, err
        return err

    parts = urlsplit(pg_url)
    wrong = urlunsplit(parts._replace(netloc=f"{parts.username}:not-the-password@"
                                             f"{parts.hostname}:{parts.port or 5432}"))
    err = start(wrong)
    assert "用户名或口令不对" in err and "not-the-password" not in err and "FATAL" not in err
    err = start(urlunsplit(parts._replace(path="/no_such_database_here")))
    assert "数据库不存在" in err and "createdb" in err and "does not exist" not in err
    err = start("postgresql://staff:sekrit@[127.0.0.1/db")
    assert "地址的格式不对" in err and "sekrit" not in err
    home.mkdir(exist_ok=True)
    (home / "notes.db").write_text("these are someone's notes, not a database\n" * 20)
    err = start("sqlite:///notes.db")
    assert "不是 SQLite 数据库或已损坏" in err and "file is not a database" not in err
    (home / "a-file").write_text("")
    err = start("sqlite:///a-file/centre.db")
    assert "已有同名的文件" in err and "EEXIST" not in err
    err = start("sqlite:///a-file/sub/centre.db")
    assert "路径中有一段不是文件夹" in err and "Not a directory" not in err
    held = sqlite3.connect(home / "centre.db", isolation_level=None)
    held.execute("BEGIN EXCLUSIVE")  # another centre process in the middle of a write
    try:
        err = start("sqlite:///centre.db")
    finally:
        held.execute("ROLLBACK")
        held.close()
    assert "另一个镇中心进程正在写入" in err and "站点的工作已保存" not in err, err


def test_an_address_the_centre_cannot_listen_on_is_said_as_its_cause(cli_run, tmp_path,
                                                                      in_process_serve):
    """uvicorn only exits when it cannot bind, and every cause was said as 'the port may be
    in use': a --host that is not this computer's sent the technician hunting for another
    centre process that did not exist."""
    key = tmp_path / "kf"
    key.write_bytes(os.urandom(32))
    args = ("centre", "serve", "--lang", "zh", "--home", str(tmp_path / "centre"),
            "--key-file", str(key))
    rc, _, err = cli_run(*args, "--host", "192.0.2.1", "--public-url", "http://192.0.2.1:8700")
    assert rc == 1 and "192.0.2.1 不是这台电脑的地址" in err and "--host" in err, err
    assert "占用" not in err and "Traceback" not in err
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        rc, _, err = cli_run(*args, "--port", port)
    assert rc == 1 and f"127.0.0.1:{port}" in err and "端口可能已被占用" in err, err


def test_the_centre_report_names_departments_and_matters_in_the_staffs_language(
        start_centre, cli_run, tmp_path, passphrase_file, monkeypatch):
    """By department, an English table named each department in Chinese (the centre grouped
    by the Chinese name); by matter, both reports listed bare codes like HJ-001."""
    monkeypatch.setenv("COLUMNS", "200")  # a name on one line, not wrapped in its cell
    centre = start_centre()
    rc, out, err = cli_run("centre", "enroll-code", "V001", "--json", *staff_args(centre))
    assert rc == 0, err
    station = new_station(cli_run, tmp_path, passphrase_file)
    assert cli_run("enroll", json.loads(out)["code"], *station)[0] == 0
    assert cli_run("sync", *station)[0] == 0
    said = {(by, lang): cli_run("centre", "report", "--by", by, "--lang", lang,
                                *staff_args(centre))[1]
            for by in ("department", "matter") for lang in ("en", "zh")}
    assert "County Public Security Bureau, Household Registration" in said["department", "en"]
    assert "县公安局户政管理大队" not in said["department", "en"]
    assert "县公安局户政管理大队" in said["department", "zh"]
    assert "HJ-001 Residence permit application" in said["matter", "en"]
    assert "HJ-001 居住证申领" in said["matter", "zh"]
    rc, out, _ = cli_run("report", "--by", "matter", "--lang", "en", *station)
    assert rc == 0 and "HJ-001 Residence permit application" in out
    rc, out, _ = cli_run("centre", "report", "--by", "department", "--json",
                         *staff_args(centre))
    assert json.loads(out)["names"] == {"县公安局户政管理大队": [
        "县公安局户政管理大队", "County Public Security Bureau, Household Registration Brigade"]}
