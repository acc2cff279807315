"""`station serve-web` for real: the command runs as a subprocess on 127.0.0.1 and a free port,
the test fetches the page a browser would get, then opens the page's websocket the way the
page's JavaScript does (``?width=…&height=…``, then a ``["resize", …]`` message) and reads the
terminal output of the app that textual-serve started for this "tab" until the unlock screen
shows; it types the passphrase and Enter (``["stdin", …]``, as xterm.js sends keys) and reads
on until the dashboard. Then the signal Ctrl+C stands for (SIGTERM here) must stop the server
and the tab's app promptly, with the tab still open.

No browser runs: none is installed on these machines (and none can be downloaded here), so
what xterm.js draws from these bytes is checked by a person once (README, "In a browser").

Plus the refusals a person meets: a directory that is not a station and a port already in use
each exit 2 with a sentence, never a traceback.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import pytest

from station.cli import cli
from station.cli.common import run
from station.cli.serve_web import cannot_listen
from station.store.service import Station
from station.store.vault import FAST_KDF
from tests.conftest import PASSPHRASE
from tests.served import Served, free_port

pytestmark = pytest.mark.timeout(90)

# Stable English strings of the unlock screen (station/tui/screens/unlock.py, TEXT).
UNLOCK_TITLE = "Unlock the station"
UNLOCK_HINT = "The data is encrypted: enter your passphrase."
DASHBOARD = "Due this month: resolve"  # station/tui/screens/dashboard.py, TEXT["to_resolve"]
SCREEN_TIMEOUT = 20.0
# Escape sequences in the app's output: CSI (colours, cursor moves), OSC (…BEL or …ST), and
# the two-character ones; what is left is the text on the screen.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def serve_web_argv(home: Path, port: int, lang: str = "en") -> list[str]:
    return [sys.executable, "-m", "station", "serve-web", "--home", str(home), "--port",
            str(port), "--lang", lang]


def screen_text(raw: bytes) -> str:
    return _ESCAPES.sub("", raw.decode("utf-8", errors="replace"))


@pytest.fixture
def station_home(tmp_path: Path) -> Path:
    home = tmp_path / "a station's home" / "V001"  # quoted into textual-serve's shell command
    station, _ = Station.init(home, station_id="V001", name="青石村便民服务站", agent="李春梅",
                              passphrase=PASSPHRASE, kdf=FAST_KDF)
    station.close()
    return home


class WebServer(Served):
    """One `station serve-web` subprocess; its output goes to a log file beside the home."""

    label = "station serve-web"
    busy = "already in use"  # station/cli/serve_web.py's sentence for a port in use
    start_timeout = 20.0
    stop_timeout = 15.0  # on SIGTERM it first tells each open tab's app to quit

    def __init__(self, home: Path) -> None:
        super().__init__(home.parent / "serve-web.log")
        self.home = home

    def argv(self, port: int) -> list[str]:
        return serve_web_argv(self.home, port)

    def answers(self) -> bool:
        httpx.get(f"{self.url}/", timeout=1.0)  # any reply: it is serving
        return True

    @property
    def key(self) -> str:
        """This run's key, from the address the command printed."""
        found = re.search(rf"http://127\.0\.0\.1:{self.port}/\?key=([A-Za-z0-9_-]+)",
                          self.output())
        assert found, f"no address with a key in the output:\n{self.output()[-2000:]}"
        return found.group(1)

    def cookies(self) -> dict[str, str]:
        """What the page's own requests carry once it was opened with the key."""
        return {f"station_key_{self.port}": self.key}


@pytest.fixture
def web_server(station_home):
    server = WebServer(station_home)
    yield server
    server.stop()  # whatever the test did


def apps_of(home: Path) -> list[int]:
    """The pids of `python -m station --home HOME` apps still running (Linux /proc)."""
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"station" in argv and str(home).encode() in argv and b"serve-web" not in argv:
            pids.append(int(entry.name))
    return pids


async def read_until(ws: aiohttp.ClientWebSocketResponse, needle: str,
                     timeout: float = SCREEN_TIMEOUT) -> str:
    """Read the terminal output until ``needle`` is on the screen (or time is up, or the
    socket closes); returns the screen text read."""
    raw = b""
    deadline = time.monotonic() + timeout
    while needle not in screen_text(raw):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            message = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if message.type == aiohttp.WSMsgType.BINARY:
            raw += message.data
        elif message.type != aiohttp.WSMsgType.TEXT:  # closed: the app ended
            break
    return screen_text(raw)


async def open_tab_and_stop_server(server: WebServer) -> tuple[str, str, float]:
    """Be the page: open its websocket, say the terminal's size, read the screen until the
    unlock screen is there; type the passphrase and Enter as xterm.js sends keys, read until
    the dashboard; then stop the server with the tab still open, as Ctrl+C would, and wait
    for the server to close the socket. Returns both screens' text and how long the close
    took (-1 when a screen never came)."""
    assert server.proc is not None
    width, height = 100, 30
    async with aiohttp.ClientSession(cookies=server.cookies()) as session, session.ws_connect(
            f"ws://127.0.0.1:{server.port}/ws?width={width}&height={height}",
            origin=server.url) as ws:  # a browser sends the page's origin and cookie
        await ws.send_str(json.dumps(["resize", {"width": width, "height": height}]))
        unlock = await read_until(ws, UNLOCK_TITLE)
        if UNLOCK_TITLE not in unlock:
            return unlock, "", -1.0
        await ws.send_str(json.dumps(["stdin", PASSPHRASE + "\r"]))
        dashboard = await read_until(ws, DASHBOARD)
        if DASHBOARD not in dashboard:
            return unlock, dashboard, -1.0
        server.proc.terminate()
        started = time.monotonic()

        async def drain() -> None:
            async for _message in ws:
                pass

        await asyncio.wait_for(drain(), timeout=15)
        return unlock, dashboard, time.monotonic() - started


def test_the_page_and_the_app_over_its_websocket(web_server, station_home):
    server = web_server.start()
    with httpx.Client(timeout=10.0) as browser:
        page = browser.get(f"{server.url}/?key={server.key}", follow_redirects=True)
        assert page.url == f"{server.url}/"  # the key left the address bar for a cookie
        assert browser.cookies.get(f"station_key_{server.port}") == server.key
        assets = browser.get(f"{server.url}/static/js/textual.js").status_code
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert f'data-session-websocket-url="ws://127.0.0.1:{server.port}/ws"' in page.text
    assert "/static/js/textual.js" in page.text  # textual-serve's page, with xterm.js in it
    assert assets == 200

    unlock, dashboard, closing = asyncio.run(open_tab_and_stop_server(server))
    log = f"server log:\n{server.output()[-3000:]}"
    assert UNLOCK_TITLE in unlock, f"no unlock screen in the output:\n{unlock[-2000:]}\n{log}"
    assert UNLOCK_HINT in unlock
    assert DASHBOARD in dashboard, f"no dashboard after Enter:\n{dashboard[-2000:]}\n{log}"
    assert closing < 10, f"the open tab took {closing:.1f} s to close after SIGTERM"

    assert server.proc is not None
    assert server.proc.wait(timeout=15) == 0
    output = server.output()
    assert f"open http://127.0.0.1:{server.port}" in output
    assert "ssh -L" in output and "Ctrl+C" in output and "Stopped." in output
    assert "Traceback" not in output
    if Path("/proc/self/cmdline").exists():  # the tab's app quit with the server
        deadline = time.monotonic() + 10
        while apps_of(station_home) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert apps_of(station_home) == []


def test_a_directory_that_is_not_a_station_is_refused(tmp_path):
    empty = tmp_path / "not-a-station"
    empty.mkdir()
    result = subprocess.run(serve_web_argv(empty, free_port()), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 2
    assert f"{empty} is not a station data directory" in result.stderr
    assert "station init" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_not_a_station_in_chinese(tmp_path, capsys):
    code = run(cli, ["serve-web", "--home", str(tmp_path / "nowhere"), "--lang", "zh"])
    assert code == 2
    assert "不是一个站点数据目录" in capsys.readouterr().err


def test_a_port_in_use_is_refused(station_home):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(serve_web_argv(station_home, port), capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert result.returncode == 2
    assert f"Port {port} is already in use on 127.0.0.1" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


async def try_websocket(server: WebServer, origin: str | None,
                        cookies: dict[str, str] | None = None) -> int:
    """Open the app's websocket as a page from ``origin`` would; the handshake's status."""
    try:
        async with aiohttp.ClientSession(cookies=cookies) as session, session.ws_connect(
                f"ws://127.0.0.1:{server.port}/ws?width=80&height=24", origin=origin):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


def test_another_site_in_the_same_browser_cannot_drive_the_app(web_server, station_home):
    """A page from any site the agent has open may open ws://127.0.0.1:PORT/ws (no same-origin
    rule for websockets) and would get an app to try passphrases on and read; and a site that
    rebinds its own name to 127.0.0.1 could read the page as its own. Both are refused with a
    sentence, and no app is started for them; the page's own origin still works."""
    server = web_server.start()
    for origin in ("http://evil.example", f"http://evil.example:{server.port}",
                   "null", None):
        assert asyncio.run(try_websocket(server, origin, server.cookies())) == 403, origin
    rebound = httpx.get(f"{server.url}/", headers={"Host": f"evil.example:{server.port}"},
                        cookies=server.cookies(), timeout=10.0)
    assert rebound.status_code == 403
    assert "only the page at" in rebound.text and "其他网站" in rebound.text
    assert apps_of(station_home) == []
    assert asyncio.run(try_websocket(server, f"http://localhost:{server.port}",
                                     server.cookies())) == 101
    assert httpx.get(f"http://localhost:{server.port}/", cookies=server.cookies(),
                     timeout=10.0).status_code == 200


def test_without_the_key_it_printed_no_one_gets_an_app(web_server, station_home):
    """Another account of the same computer reaches 127.0.0.1 too: without this run's key
    (none, a wrong one, an earlier run's) the page and the websocket are refused with a
    sentence, and no app is started to try passphrases on."""
    server = web_server.start()
    page = httpx.get(f"{server.url}/", timeout=10.0)
    assert page.status_code == 403
    assert "with its key" in page.text and "完整地址" in page.text
    assert httpx.get(f"{server.url}/?key=guess", timeout=10.0).status_code == 403
    assert httpx.get(f"{server.url}/static/js/textual.js", timeout=10.0).status_code == 403
    wrong = {f"station_key_{server.port}": "an-earlier-runs-key"}
    assert asyncio.run(try_websocket(server, server.url)) == 403
    assert asyncio.run(try_websocket(server, server.url, wrong)) == 403
    assert apps_of(station_home) == []
    assert server.key not in server.output().split("Refused", 1)[-1]  # never logged back


@pytest.mark.parametrize(("value", "lang", "words"), [
    ("0", "en", "“0” given for --port is not a port: give a whole number from 1 to 65535"),
    ("99999", "zh", "--port 的“99999”不是端口号：请写 1 到 65535 之间的整数"),
    ("abc", "zh", "--port 的“abc”不是端口号")])
def test_a_port_that_is_not_one_is_said_in_the_persons_language(station_home, capsys, value,
                                                                 lang, words):
    code = run(cli, ["serve-web", "--home", str(station_home), "--port", value, "--lang", lang])
    err = capsys.readouterr().err
    assert code == 2 and words in err
    assert "Invalid value" not in err and "range" not in err


@pytest.mark.parametrize(("code", "lang", "words"), [
    (errno.EACCES, "zh", "没有权限使用这个端口（Permission denied），1024 以下的端口需要管理员"),
    (errno.EACCES, "en", "not allowed to use this port (Permission denied); ports below 1024"),
    (errno.EADDRNOTAVAIL, "zh", "系统报告：Cannot assign requested address"),
])
def test_a_port_the_system_refuses_is_said_in_the_persons_language(code, lang, words):
    """The system's reason is English ("Permission denied" for port 80 without root): the
    common one is said in words, any other is quoted after a Chinese lead."""
    refused = cannot_listen(OSError(code, os.strerror(code)), 80)
    assert words in refused.message(lang) and refused.exit_code == 2
    assert "--port" in refused.message(lang)
