"""``station serve-web``: the station app in a browser, through textual-serve.

For a person more at ease in a browser than in a terminal, the same app, unchanged: textual-serve
runs a small web server, and every browser tab that opens its page gets its own
``python -m station --home H --lang L`` process, whose screen travels over a websocket and is
drawn by xterm.js in the page; keys go back the same way.

Why it listens on 127.0.0.1 only, with no ``--host``: the page and its websocket are plain
HTTP, and once an agent unlocks, the screen shows residents' names, ID numbers and phones.
G2 (DESIGN §5) says no personal data crosses the wire in plaintext, so the server stays on
loopback. Another machine reaches it through an SSH tunnel, which encrypts the way:
``ssh -L 8000:127.0.0.1:8000 user@station-pc``, then http://127.0.0.1:8000 on that machine.

Every tab starts at the unlock screen, so whoever reaches the page still needs an agent's
passphrase; a tab that closes ends its app process, and nothing is kept unlocked between tabs.
Only the page itself may open a tab: a request naming another host, or a websocket from
another origin (another site open in the same browser), is refused (``refusal``). And only
whoever was given the address: it carries a random key (as Jupyter's does), which the page
turns into a cookie of this port; without it, another account on the same computer could
reach 127.0.0.1 too and try passphrases on tab after tab, each a fresh app with no count of
wrong tries.

textual-serve (and its aiohttp) is imported inside the command, so ``station list`` does not
pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import click

from station.cli.common import (
    HOME_OPTION,
    IN_USE,
    Env,
    PortType,
    detect_lang,
    listen_reason,
    or_before_command,
)
from station.domain.errors import StationError
from station.store.errors import NotAStation
from station.store.home import resolve_home
from station.store.service import Station

if TYPE_CHECKING:
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

HOST = "127.0.0.1"  # loopback only, on purpose: see the module docstring (G2)
DEFAULT_PORT = 8000
QUIT_TIMEOUT = 10.0  # seconds a tab's app has to quit before it is killed
KEY_PARAM = "key"  # the address's parameter carrying this run's key
KEY_BYTES = 24  # random bytes of the key: 32 characters in the address


class ServeWebRefused(StationError):
    """A reason not to start: exit 2, like a usage error, with a sentence in both languages."""

    exit_code: ClassVar[int] = 2


class NoStationToServe(ServeWebRefused):
    code = "cli.serve_web.not_a_station"
    zh = ("{home} 不是一个站点数据目录，没有可以在浏览器中打开的站点：请先运行 station init，"
          "或用 --home 指定站点的数据目录")
    en = ("{home} is not a station data directory, so there is nothing to open in a browser: "
          "run `station init` first, or give the station's directory with --home")


class PortInUse(ServeWebRefused):
    code = "cli.serve_web.port_in_use"
    zh = "端口 {port} 已被占用（{host}）：请用 --port 换一个，例如 --port {other}"
    en = "Port {port} is already in use on {host}: choose another with --port, e.g. --port {other}"


class ForeignPage(StationError):
    """A request this server refuses (HTTP 403): a websocket opened by a page from another
    site, or a request that names another host (DNS rebinding). Never a CLI exit: the
    sentence is the reply's body, for whoever looks at the browser's network tab."""

    code = "cli.serve_web.foreign_page"
    zh = ("拒绝：只有本机打开的 {url} 页面才能使用站点应用，其他网站的页面或其他主机名（{what}）"
          "不能连接")
    en = ("Refused: only the page at {url} opened on this computer can use the station app, "
          "not a page from another site or another host name ({what})")


class NoKey(StationError):
    """A request without this run's key (HTTP 403): an address typed by hand, an old one
    from an earlier run, or another account of this computer trying its luck."""

    code = "cli.serve_web.no_key"
    zh = ("拒绝：请打开 station serve-web 启动时显示的完整地址（含 key=…）；"
          "此地址没有本次运行的 key（{what}）")
    en = ("Refused: open the whole address station serve-web printed when it started "
          "(with its key=…); this one lacks this run's key ({what})")


class CannotListen(ServeWebRefused):
    code = "cli.serve_web.cannot_listen"
    zh = "无法在 {host}:{port} 上监听：{detail_zh}；请用 --port 换一个端口"
    en = "Cannot listen on {host}:{port}: {detail}; choose another port with --port"


HELP = f"""Serve the station app to a browser (textual-serve) on {HOST} only.

Open the address it prints; each browser tab runs its own app, which starts at the unlock
screen, so an agent's passphrase is still needed.

The page and its websocket are plain HTTP, so it listens on loopback only (G2: no personal
data in plaintext on the wire). From another machine, tunnel through SSH with the same port
on both ends (the page carries absolute addresses):

\b
    ssh -L 8000:127.0.0.1:8000 user@station-pc
    then open http://127.0.0.1:8000 on that machine.

Stop it with Ctrl+C."""


@click.command("serve-web", help=HELP, short_help="Serve the app to a browser on 127.0.0.1.")
@HOME_OPTION
@click.option("--lang", type=click.Choice(["zh", "en"]), callback=or_before_command,
              help="Language of the app.")
@click.option("--port", type=PortType(), default=DEFAULT_PORT, show_default=True,
              help=f"Port on {HOST}.")
def serve_web_cmd(home: Path | None, lang: str | None, port: int) -> None:
    """Check the station and the port, then serve the app until Ctrl+C."""
    home = resolve_home(home).absolute()
    lang = detect_lang(lang)
    _check_station(home)
    _check_port(port)

    key = secrets.token_urlsafe(KEY_BYTES)
    url = f"http://{HOST}:{port}/?{KEY_PARAM}={key}"
    server = make_server(app_command(home, lang), port, key)
    env = Env(home, lang, passphrase_file=None, agent=None)
    env.say(f"站点 {home} 的应用已在浏览器中提供：请打开 {url}\n"
            f"  只在本机（{HOST}）监听；从另一台电脑访问请用 SSH 隧道：\n"
            f"    ssh -L {port}:{HOST}:{port} 用户@本机，然后在那台电脑上打开 {url}\n"
            f"  地址中的 key 只属于这次运行，请勿外传；每个浏览器页面都从解锁界面开始，"
            f"需要代办员的口令。按 Ctrl+C 停止。",
            f"The app of station {home} is served to the browser: open {url}\n"
            f"  Listening on this machine only ({HOST}); from another computer, use an SSH "
            f"tunnel:\n"
            f"    ssh -L {port}:{HOST}:{port} user@this-machine, then open {url} there\n"
            f"  The key in the address is this run's only: do not pass it on. Each browser tab "
            f"starts at the unlock screen and needs an agent's passphrase. Press Ctrl+C to "
            f"stop.")
    try:
        server.serve()
    except OSError as exc:  # someone took the port between our check and the server's bind
        raise cannot_listen(exc, port) from None
    env.say("已停止。", "Stopped.")


def app_command(home: Path, lang: str) -> str:
    """The shell command textual-serve runs for each tab: this station's app, on the very
    interpreter running this command (``python -m station``, no reliance on ``PATH``)."""
    argv = [sys.executable, "-m", "station", "--home", str(home), "--lang", lang]
    return subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)


def make_server(command: str, port: int, key: str) -> Server:
    """textual-serve's server on loopback, with three changes.

    - No banner: the command has already said where to go, in the person's language, and the
      banner would repeat the command line.
    - No local variables in logged tracebacks (textual-serve's default): once a tab is
      unlocked, the screen passing through this process shows personal data.
    - A tab ends cleanly. Ctrl+C tells each open tab's app to quit, then closes its socket
      (aiohttp alone would wait up to a minute on open websockets), and every app process
      is waited for (killed if it hangs), so none outlives the server and none is left
      half-collected when the event loop closes.
    """
    from aiohttp import WSCloseCode
    from aiohttp import web as aiohttp_web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server

    log = logging.getLogger("textual-serve")

    class StationServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=HOST, port=port, title="station")
            self.tabs: dict[web.WebSocketResponse, AppService] = {}

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(_same_origin_only(port, key))
            return app

        def initialize_logging(self) -> None:
            logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

        async def on_startup(self, app: web.Application) -> None:
            pass

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's own handler, but keeping each tab for shutdown and ending
            its app with ``_end_app``."""
            websocket = aiohttp_web.WebSocketResponse(heartbeat=15)
            service = AppService(command, write_bytes=websocket.send_bytes,
                                 write_str=websocket.send_str, close=websocket.close,
                                 download_manager=self.download_manager, debug=self.debug)
            try:
                await websocket.prepare(request)
                self.tabs[websocket] = service
                await service.start(_size(request, "width", 80), _size(request, "height", 24))
                await self._process_messages(websocket, service)
            except Exception as exc:  # one tab's trouble: a line in the log, not a traceback
                log.warning("A browser tab ended with an error: %s: %s",
                            type(exc).__name__, exc)
            finally:
                self.tabs.pop(websocket, None)
                await _end_app(service)
                if websocket.prepared:
                    await websocket.close()
            return websocket

        async def on_shutdown(self, app: web.Application) -> None:
            async def end_tab(websocket: web.WebSocketResponse, service: AppService) -> None:
                await _end_app(service)  # while the socket is open, so its output drains
                await websocket.close(code=WSCloseCode.GOING_AWAY)

            await asyncio.gather(*(end_tab(ws, service) for ws, service in self.tabs.items()),
                                 return_exceptions=True)

    return StationServer()


def allowed_origins(port: int) -> frozenset[str]:
    """The origins the page is served under: the address the command prints, and
    ``localhost`` for a person who types that instead (an SSH tunnel keeps the same port)."""
    return frozenset(f"http://{host}:{port}" for host in (HOST, "localhost"))


def refusal(request: web.Request, port: int, key: str) -> StationError | None:
    """Why a request must not reach the app, or ``None``.

    Loopback alone does not keep other web pages out: any site open in the same browser may
    open ``ws://127.0.0.1:PORT/ws`` (websockets are not bound by the same-origin policy), or
    rebind its own name to 127.0.0.1 and read the page and its downloads as its own. Either
    would drive the app (try passphrases, read the screen) from a page the agent never chose.
    So the Host must be this server's own name, and a websocket must come from its own page.
    Nor does it keep other accounts of the same computer out: so every request carries the
    run's key, in the address the command printed or in the cookie the page was given.
    """
    url, origins = f"http://{HOST}:{port}", allowed_origins(port)
    host = request.headers.get("Host", "")
    if f"http://{host}" not in origins:
        return ForeignPage(url=url, what=f"Host: {host[:100]}")
    if request.path == "/ws" and request.headers.get("Origin") not in origins:
        return ForeignPage(url=url, what=f"Origin: {request.headers.get('Origin', '-')[:100]}")
    given = request.query.get(KEY_PARAM) or request.cookies.get(cookie_name(port)) or ""
    if not secrets.compare_digest(given.encode(), key.encode()):
        return NoKey(what="wrong key" if given else "no key")
    return None


def cookie_name(port: int) -> str:
    """The key's cookie: one per port, since a browser sends 127.0.0.1's cookies to every
    port of it (two stations served at once keep their own)."""
    return f"station_key_{port}"


def _same_origin_only(port: int, key: str) -> Callable[..., Awaitable[web.StreamResponse]]:
    """aiohttp middleware refusing, with a 403 and a sentence, what ``refusal`` names; a
    page opened with the key in its address gets it as a cookie (sent with the page's own
    scripts and websocket, never readable by a script) and the address without it."""
    from aiohttp import web as aiohttp_web

    @aiohttp_web.middleware
    async def same_origin_only(request: web.Request, handler: Callable[
            [web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        error = refusal(request, port, key)
        if error is not None:
            logging.getLogger("textual-serve").warning("Refused a request (%s)",
                                                       error.message("en"))
            raise aiohttp_web.HTTPForbidden(
                text=f"{error.message('zh')}\n{error.message('en')}\n")
        if KEY_PARAM not in request.query:
            return await handler(request)
        # out of the address bar and its history; textual-serve keeps no other parameter
        moved = aiohttp_web.HTTPFound(request.rel_url.with_query(None))
        moved.set_cookie(cookie_name(port), key, httponly=True, samesite="Strict", path="/")
        raise moved

    return same_origin_only


async def _end_app(service: AppService) -> None:
    """Tell a tab's app to quit and wait until its process has exited (killed after
    ``QUIT_TIMEOUT``). Safe to call twice. textual-serve's ``stop`` waits only for the app's
    output to end, not for the process, so this reads ``AppService._process`` (textual-serve
    1.1.x; tests/cli/test_serve_web.py checks that no app process is left behind)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(service.stop(), QUIT_TIMEOUT)
    process = getattr(service, "_process", None)
    if process is None or process.returncode is not None:
        return
    try:
        await asyncio.wait_for(process.wait(), QUIT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()


def _size(request: web.Request, name: str, default: int) -> int:
    """The terminal's width or height the page asks for in the websocket's query."""
    try:
        return max(1, int(request.query.get(name, default)))
    except ValueError:
        return default


def _check_station(home: Path) -> None:
    """Refuse a directory the unlock screen could not open: the same check it makes
    (``Station.agents_of``), done before anyone waits for a page."""
    try:
        Station.agents_of(home)
    except NotAStation:
        raise NoStationToServe(home=str(home)) from None


def _check_port(port: int) -> None:
    """Bind the port once, the way the server will, so a port in use is a sentence and not
    a traceback from deep inside aiohttp."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if os.name == "posix":  # as aiohttp does: a port in TIME_WAIT is free, a listener not
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise cannot_listen(exc, port) from None


def cannot_listen(exc: OSError, port: int) -> ServeWebRefused:
    """Why the port cannot be listened on, in both languages: the system's own text is
    English, so the common causes are said in words and any other is quoted after them."""
    if exc.errno in IN_USE:
        return PortInUse(port=port, host=HOST, other=_other(port))
    zh, en = listen_reason(exc)
    return CannotListen(host=HOST, port=port, detail=en, detail_zh=zh)


def _other(port: int) -> int:
    return port + 1 if port < 65535 else port - 1
