"""``station demo``: the embedded centre, the two demo stations, and — once — the whole
command driven in a real terminal (tmux), the way a newcomer runs ``make demo``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from station.cli import cli
from station.cli.common import run
from station.cli.demo import DEMO_PASSPHRASE, build_demo, sync
from station.cli.embedded import EmbeddedCentre

ROOT = Path(__file__).resolve().parents[2]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_pair_is_enrolled_synced_and_has_something_to_show(tmp_path):
    centre = EmbeddedCentre(tmp_path / "centre").start()
    try:
        assert httpx.get(centre.url + "/v1/health", timeout=5).json()["ok"]
        demo = build_demo(tmp_path, centre=centre)
        village, bus = demo.village, demo.bus
        try:
            board = village.dashboard()
            assert board.enrolled and board.conflicts >= 1 and board.overdue >= 1
            assert board.open_poor >= 1 and board.unsent >= 1  # work for the first sync
            (conflict,) = village.conflicts()
            assert conflict.field == "applicant.phone" and conflict.receipt == demo.conflict
            assert [c.id for c in bus.conflicts()] == [conflict.id]  # both sides see it
            assert village.get(demo.poor).fields["followup"]["state"] == "open"
            assert bus.sync.unsent() == 0 and bus.sync.centre().scope == ("BUS01", "V001", "V002")
            # the decisions the centre made came down to the village
            outcomes = {village.get(s.id).fields.get("outcome")
                        for s in village.list(kind="application", limit=1000)}
            assert {"completed", "returned"} <= outcomes
            # months of history: last month has completions and ratings of its own
            report = village.report()["all"]
            assert report.completed and report.ratings
            report = sync(village)  # the first sync in the app really moves something
            assert report.pushed == board.unsent and report.pulled >= 1
        finally:
            demo.close()
    finally:
        centre.stop()
    assert not centre.running and not port_open(centre.port)
    assert "embedded-centre" not in {t.name for t in threading.enumerate()}


def test_demo_without_a_terminal_prints_the_summary_and_cleans_up(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    code = run(cli, ["demo", "--no-tui", "--lang", "en"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "V001-" in out  # the latest applications
    assert f"Passphrase  {DEMO_PASSPHRASE}" in err and "1 conflict" in err
    assert "The centre has stopped; the temporary directory is removed." in err
    assert not list(tmp_path.glob("station-demo-*"))
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)", err).group(1))
    assert not port_open(port)


# --- the whole command in a real terminal -------------------------------------------------


class Tmux:
    """One detached tmux server of our own (its own socket, no user config)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"station-test-{uuid.uuid4().hex[:8]}"
        self.env = env

    def __call__(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                                env=self.env, capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-t", "demo")

    def wait(self, ok: Callable[[str], bool], what: str, deadline: float) -> str:
        while True:
            text = self.screen()
            if ok(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"waiting for {what}; the screen shows:\n{text}")
            time.sleep(0.25)


def card_numbers(screen: str, label: str) -> list[int]:
    """The numbers on the row of dashboard cards whose labels include ``label``."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if label in line and i > 0:
            return [int(n) for n in re.findall(r"\d+", lines[i - 1])]
    return []


def test_station_demo_in_tmux(tmp_path):
    """Issue 7: drive `station demo` in tmux once and check the screen text."""
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but tmux is not installed: the demo's terminal test needs it")
        pytest.skip("tmux is not installed: `station demo` is not driven in a terminal here")
    command = Path(sys.executable).parent / "station"
    argv = [str(command)] if command.exists() else [sys.executable, "-c",
                                                   "from station.cli import main; main()"]
    env = {**os.environ, "LANG": "C.UTF-8", "TMPDIR": str(tmp_path),
           "TEXTUAL_ANIMATIONS": "none"}
    env.pop("TMUX", None)
    shell = (f"cd {shlex.quote(str(ROOT))} && {shlex.join([*argv, 'demo', '--lang', 'zh'])}; "
             "echo DEMO-EXIT=$?; sleep 60")
    tmux = Tmux(env)
    deadline = time.monotonic() + 55
    tmux("new-session", "-d", "-s", "demo", "-x", "100", "-y", "30", shell)
    try:
        # the dashboard of the village station, its cards filled in
        screen = tmux.wait(lambda s: "青石村便民服务站" in s
                           and len(card_numbers(s, "差评待整改")) == 3
                           and len(card_numbers(s, "已超期")) == 3, "the dashboard", deadline)
        assert "(V001)" in screen and "李春梅" in screen
        _to_resolve, _to_contact, overdue = card_numbers(screen, "已超期")
        open_poor, conflicts, unsent = card_numbers(screen, "差评待整改")
        assert overdue >= 1 and open_poor >= 1 and conflicts >= 1 and unsent >= 1, screen
        # the sync screen, then a real sync against the embedded centre
        tmux("send-keys", "-t", "demo", "s")
        tmux.wait(lambda s: "已连通" in s and f"未发送 {unsent} 条" in s, "the sync screen",
                  deadline)
        tmux("send-keys", "-t", "demo", "s")
        screen = tmux.wait(lambda s: "同步完成" in s, "the sync to finish", deadline)
        assert f"已发送 {unsent} 条" in screen and "已接收" in screen, screen
        assert "Traceback" not in screen and "未发送 0 条" in tmux.wait(
            lambda s: "未发送 0 条" in s, "the count of unsent changes", deadline)
        # quit: the app closes, the centre stops, the temporary directory goes
        tmux("send-keys", "-t", "demo", "C-q")
        screen = tmux.wait(lambda s: "DEMO-EXIT=" in s, "the demo to exit", deadline)
        assert "DEMO-EXIT=0" in screen and "镇中心已停止" in screen, screen
        assert "Traceback" not in screen
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", screen).group(1))
        assert not port_open(port)
        assert not list(tmp_path.glob("station-demo-*"))
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], env=env,
                       capture_output=True, timeout=10)


def test_a_demo_centre_that_cannot_start_is_said_in_chinese_too(tmp_path):
    """An address the demo's centre cannot take (not this computer's): a sentence in both
    languages, whose Chinese carries no English lead of its own."""
    from station.cli.embedded import EmbeddedCentreFailed

    with pytest.raises(EmbeddedCentreFailed) as caught:
        EmbeddedCentre(tmp_path / "centre", host="192.0.2.1").start()
    zh = caught.value.message("zh")
    assert zh.startswith("演示用的镇中心无法启动：程序报告（") and "OSError" in zh
    assert caught.value.message("en").startswith("The demo's town centre could not start: ")
