"""``station centre …``: run the town centre, and the staff's commands against a running one.

``station centre serve`` runs the HTTP API (``station.centre.serve``) with its configuration
from flags or ``STATION_CENTRE_*`` variables. The centre's home (``--home`` or
``STATION_CENTRE_HOME``) holds ``centre.keys``, ``staff.token`` and, by default, ``centre.db``.

The staff commands (``enroll-code``, ``revoke``, ``decide``, ``conflicts``, ``catalogue publish``,
``stations``) talk to a running centre over HTTP with the staff token, so they work the same
against one process on SQLite or several behind a load balancer on PostgreSQL. A refusal
shows the centre's own sentence and exits 1; an unreachable centre exits 3.

Heavy imports (FastAPI, uvicorn, psycopg, segno) happen inside the commands, so ``station
list`` does not pay for them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click

from station.cli.common import (
    IN_USE,
    LANG_OPTION,
    Env,
    PortType,
    UsageProblem,
    check_url,
    detect_lang,
    listen_reason,
    or_before_command,
    passing_env,
    read_passphrase_file,
)
from station.cli.followup import MonthType, print_figures
from station.domain.chinatime import CHINA, china_now, china_time
from station.domain.errors import StationError, os_reason
from station.domain.followup import Figures, Month

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_PORT = 8700
KEYS = "centre.keys"  # the names station.centre.serve uses in the centre's home
STAFF_TOKEN = "staff.token"
MIN_KEY_FILE = 16
_STATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_DURATION = re.compile(r"^(\d+)\s*([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MIN_EXPIRES, MAX_EXPIRES = 60, 90 * 86400


# --- errors: one sentence each, in Chinese and English ------------------------------------


class BadDuration(UsageProblem):
    code = "cli.centre.bad_duration"
    zh = "有效期“{value}”不对：请写成 7d、12h、30m 或 2w 这样的形式，介于 1 分钟和 90 天之间"
    en = ("The validity “{value}” is not understood: write it like 7d, 12h, 30m or 2w, "
          "between 1 minute and 90 days")


class BadStationId(UsageProblem):
    code = "cli.centre.bad_station"
    zh = "站点编号“{value}”不对：只能用字母、数字、- 和 _，最多 16 个字符（例如 V001）"
    en = ("The station id “{value}” is not valid: letters, digits, - and _ only, at most 16 "
          "characters (e.g. V001)")


class BadDatabase(UsageProblem):
    code = "cli.centre.bad_db"
    zh = "数据库地址“{value}”不对：请用 sqlite:///文件路径 或 postgresql://用户:口令@主机/库名"
    en = ("The database address “{value}” is not valid: use sqlite:///FILE or "
          "postgresql://user:pass@host/db")


class OneProtection(UsageProblem):
    code = "cli.centre.one_protection"
    zh = "--key-passphrase-file 和 --key-file 只能选一个"
    en = "Give either --key-passphrase-file or --key-file, not both"


class PublicUrlNeeded(UsageProblem):
    code = "cli.centre.public_url"
    zh = ("在所有网卡（{host}）上监听时，请用 --public-url 给出各站点访问镇中心的地址，"
          "例如 http://192.168.1.10:{port}：登记码里带的就是这个地址")
    en = ("Listening on every interface ({host}) needs --public-url, the address stations "
          "reach the centre at (e.g. http://192.168.1.10:{port}): enrollment codes carry it")


class NoKeyProtection(StationError):
    code = "cli.centre.no_protection"
    zh = ("镇中心的密钥需要口令或密钥文件保护：请用 --key-passphrase-file 或 --key-file 指定"
          "（或环境变量 STATION_CENTRE_KEY_PASSPHRASE_FILE / STATION_CENTRE_KEY_FILE），"
          "或在终端中运行以输入口令")
    en = ("The centre's keys need a passphrase or a key file: give --key-passphrase-file or "
          "--key-file (or STATION_CENTRE_KEY_PASSPHRASE_FILE / STATION_CENTRE_KEY_FILE), or run "
          "in a terminal to type a passphrase")


class EmptyPassphrase(StationError):
    code = "cli.centre.empty_passphrase"
    zh = "镇中心密钥的口令不能为空"
    en = "The passphrase of the centre's keys cannot be empty"


class KeyFileProblem(StationError):
    code = "cli.centre.key_file"
    zh = "密钥文件 {path} 不能用：{detail_zh}"
    en = "The key file {path} cannot be used: {detail}"


class CannotListen(StationError):
    code = "cli.centre.cannot_listen"
    zh = ("镇中心无法在 {host}:{port} 上启动：端口可能已被占用（另一个镇中心进程？），"
          "请用 --port 换一个")
    en = ("The town centre cannot start on {host}:{port}: the port may be in use (another "
          "centre process?); choose another with --port")


class CannotListenThere(StationError):
    """The centre cannot listen for a reason other than a port in use (an address that is
    not this computer's, a port that needs an administrator), said as that reason."""

    code = "cli.centre.cannot_listen"
    zh = "镇中心无法在 {host}:{port} 上启动：{detail_zh}"
    en = "The town centre cannot start on {host}:{port}: {detail}"


class NotThisComputer(CannotListenThere):
    zh = ("镇中心无法在 {host}:{port} 上启动：{host} 不是这台电脑的地址；--host 请用 127.0.0.1"
          "（只本机）、0.0.0.0（所有网卡，另加 --public-url）或这台电脑自己的某个 IP 地址")
    en = ("The town centre cannot start on {host}:{port}: {host} is not an address of this "
          "computer; give --host 127.0.0.1 (this computer only), 0.0.0.0 (every interface, "
          "with --public-url) or one of this computer's own IP addresses")


class DatabaseUnavailable(StationError):
    code = "cli.centre.database"
    zh = "无法打开镇中心的数据库 {db}：{detail_zh}"
    en = "Cannot open the centre's database {db}: {detail}"


class StartFailed(StationError):
    code = "cli.centre.start"
    zh = "镇中心无法启动：{detail_zh}"
    en = "The town centre cannot start: {detail}"


class TokenFileProblem(StationError):
    code = "cli.centre.token"
    zh = ("无法读取工作人员令牌 {path}（{detail_zh}）：请在镇中心的电脑上运行，"
          "或用 --token-file 指定（镇中心第一次启动时写在它的数据目录里）")
    en = ("Cannot read the staff token {path} ({detail}): run this on the centre's machine, or "
          "give --token-file (the centre writes it to its home on first start)")


class CentreDown(StationError):
    code = "cli.centre.down"
    exit_code: ClassVar[int] = 3
    zh = "无法连接镇中心 {url}（{detail_zh}）：镇中心（station centre serve）是否在运行？"
    en = ("Cannot reach the town centre at {url} ({detail}): is `station centre serve` "
          "running there?")


class CentreBusy(StationError):
    """A 503 from a centre that runs but cannot serve now (its database down, restarting or
    busy): saying "is it running?" would send the staff to the wrong machine."""

    code = "cli.centre.busy"
    exit_code: ClassVar[int] = 3
    zh = ("镇中心 {url} 在运行，但暂时无法处理请求（例如它的数据库不可用）；"
          "请 {retry_after:.0f} 秒后再试，未做任何更改")
    en = ("The town centre at {url} is running but cannot serve requests right now (its "
          "database may be down); try again in {retry_after:.0f} s. Nothing was changed")


class CentreSaysBusy(CentreBusy):
    """A 503 whose centre said why (every connection busy, its disk full): shown as it said
    it, since "its database may be down" sends the technician to a database that is up."""

    zh = ("镇中心 {url} 在运行，但暂时无法处理请求。它的回复：{said_zh}。"
          "请 {retry_after:.0f} 秒后再试，未做任何更改")
    en = ("The town centre at {url} is running but cannot serve requests right now. It said: "
          "{said_en}. Try again in {retry_after:.0f} s. Nothing was changed")


class NotACentre(StationError):
    code = "cli.centre.not_a_centre"
    zh = "{url} 的回复不像镇中心的回复；--url 是否指向了别的服务？"
    en = "The reply from {url} is not a town centre's; does --url point at another service?"


class CatalogueFileProblem(StationError):
    code = "cli.centre.catalogue_file"
    zh = "无法读取事项清单文件 {path}：{detail_zh}"
    en = "Cannot read the catalogue file {path}: {detail}"


class NotEnrolledAtCentre(StationError):
    code = "cli.centre.not_enrolled"
    zh = "站点 {station} 没有在镇中心登记，无需吊销"
    en = "Station {station} is not enrolled at this centre; there is nothing to revoke"


# --- shared options -------------------------------------------------------------------------


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("station-centre", appauthor=False))


def resolve_centre_home(home: Path | None) -> Path:
    if home:
        return Path(home).expanduser()
    env = os.environ.get("STATION_CENTRE_HOME")
    return Path(env).expanduser() if env else default_home()


def _centre_env(home: Path | None, lang: str | None, as_json: bool) -> Env:
    return Env(resolve_centre_home(home), detect_lang(lang), None, None, as_json)


CENTRE_OPTIONS = (
    click.option("--home", type=click.Path(file_okay=False, path_type=Path),
                 envvar="STATION_CENTRE_HOME", callback=or_before_command,
                 help="The centre's home: centre.keys, staff.token, centre.db."),
    LANG_OPTION,
)


def centre_options(json_output: bool = False) -> Callable[[F], F]:
    """--home (the centre's), --lang (and --json); passes an ``Env`` like ``common()``."""
    return passing_env(_centre_env, CENTRE_OPTIONS, json_output)


def staff_options(fn: F) -> F:
    """--url and --token-file for the commands that talk to a running centre."""
    fn = click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path),
                      envvar="STATION_CENTRE_TOKEN_FILE",
                      help="The staff token (default: staff.token in the centre's home).")(fn)
    return click.option("--url", envvar="STATION_CENTRE_URL", default=DEFAULT_URL,
                        show_default=True, help="The running centre's address.")(fn)


# --- small parsers ---------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """Seconds in ``7d``, ``12h``, ``30m``, ``2w``, ``90s`` or a plain number of seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise BadDuration(value=text)
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_EXPIRES <= seconds <= MAX_EXPIRES:
        raise BadDuration(value=text)
    return seconds


def station_id(text: str) -> str:
    value = text.strip()
    if not _STATION_ID.match(value):
        raise BadStationId(value=text)
    return value.upper()


def station_list(text: str) -> list[str]:
    return [station_id(s) for s in re.split(r"[,，\s]+", text) if s.strip()]


def redact(db: str) -> str:
    """A database URL fit to print: the password replaced by ***."""
    if not db.startswith(("postgresql://", "postgres://")):
        return db
    try:
        parts = urlsplit(db)
        netloc = parts.netloc
        if parts.password:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc, query=""))
    except ValueError:
        return "postgresql://…"


def _duration_words(seconds: int, lang: str) -> str:
    for size, zh, en in ((7 * 86400, "周", "week"), (86400, "天", "day"), (3600, "小时", "hour"),
                         (60, "分钟", "minute")):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {zh}" if lang == "zh" else f"{n} {en}{'s' if n != 1 else ''}"
    return f"{seconds} 秒" if lang == "zh" else f"{seconds} s"


# --- the group ------------------------------------------------------------------------------


@click.group("centre")
def centre_group() -> None:
    """The town centre (镇/街道便民服务中心): run it, and the staff's commands."""


# --- serve ----------------------------------------------------------------------------------


def _protector(env: Env, key_passphrase_file: Path | None, key_file: Path | None) -> Any:
    from station.centre.keys import Protector

    if key_passphrase_file and key_file:
        raise OneProtection()
    keys_exist = (env.home / KEYS).exists()
    if key_file is not None:
        _prepare_key_file(env, key_file, keys_exist)
        return Protector(key_file=key_file)
    if key_passphrase_file is not None:
        passphrase = read_passphrase_file(key_passphrase_file)
    elif sys.stdin.isatty():
        passphrase = str(click.prompt(env.t("镇中心密钥的口令", "Passphrase of the centre's keys"),
                                      hide_input=True, err=True,
                                      confirmation_prompt=not keys_exist))
    else:
        raise NoKeyProtection()
    if not passphrase:
        raise EmptyPassphrase()
    return Protector(passphrase=passphrase)


def _prepare_key_file(env: Env, path: Path, keys_exist: bool) -> None:
    """A key file must exist and hold enough randomness; on a first start it is made."""
    if not path.exists():
        if keys_exist:
            raise KeyFileProblem(path=str(path),
                                 detail_zh="文件不存在，而镇中心的密钥已用某个密钥文件保护",
                                 detail="it does not exist, and the centre's keys are "
                                           "already protected by a key file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
                fh.flush()
                os.fsync(fh.fileno())
        except FileExistsError:
            pass  # another process made it a moment ago: use that one
        except OSError as exc:
            raise KeyFileProblem(path=str(path), detail_zh=f"无法创建（{exc.strerror}）",
                                 detail=f"it cannot be created ({exc.strerror})") from None
        else:
            env.say(f"已生成新的密钥文件 {path}：请另行备份，丢失后镇中心的密钥将无法打开",
                    f"Made a new key file {path}: back it up apart from the centre; without it "
                    "the centre's keys cannot be opened")
        return
    try:
        size = len(path.read_bytes())
    except OSError as exc:
        raise KeyFileProblem.reading(exc, path=str(path)) from None
    if size < MIN_KEY_FILE:
        raise KeyFileProblem(path=str(path),
                             detail_zh=f"内容太短（少于 {MIN_KEY_FILE} 字节），不足以保护密钥",
                             detail=f"it holds fewer than {MIN_KEY_FILE} bytes, too little "
                                       "to protect the keys")


def _check_listen(host: str, port: int) -> None:
    """Bind the address once as the server will (before keys and database are opened), so
    that a wrong --host or a privileged port is said as that: uvicorn only exits, which
    was taken to mean a port in use whatever the cause."""
    import errno
    import socket

    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                    flags=socket.AI_PASSIVE)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno in IN_USE:
            raise CannotListen(host=host, port=port) from None
        if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            raise NotThisComputer(host=host, port=port) from None
        zh, en = listen_reason(exc)
        raise CannotListenThere(host=host, port=port, detail=en, detail_zh=zh) from None


def _check_db(db: str) -> None:
    if db.startswith("sqlite:///") and len(db) > len("sqlite:///"):
        return
    if db.startswith(("postgresql://", "postgres://")):
        import psycopg

        try:
            psycopg.connect(db, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise database_unavailable(db, exc) from None
        return
    raise BadDatabase(value=redact(db))


@centre_group.command("serve")
@click.option("--db", envvar="STATION_CENTRE_DB", default="",
              help="sqlite:///FILE (default: centre.db in the home; a relative FILE is in "
                   "the home too) or postgresql://…")
@click.option("--host", envvar="STATION_CENTRE_HOST", default="127.0.0.1", show_default=True,
              help="The address to listen on (0.0.0.0: every interface; then --public-url "
                   "is required).")
@click.option("--port", envvar="STATION_CENTRE_PORT", type=PortType(),
              default=DEFAULT_PORT, show_default=True, help="The port to listen on.")
@click.option("--public-url", envvar="STATION_CENTRE_PUBLIC_URL", default="",
              help="The address stations use (carried in enrollment codes).")
@click.option("--key-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="STATION_CENTRE_KEY_PASSPHRASE_FILE",
              help="Protect the centre's keys with the passphrase in this file.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="STATION_CENTRE_KEY_FILE",
              help="Protect the centre's keys with this random key file (made if missing on "
                   "the first start).")
@click.option("--hybrid-pq", is_flag=True, envvar="STATION_CENTRE_HYBRID_PQ",
              help="Make new keys with the post-quantum hybrid MLKEM768_X25519.")
@click.option("--workers", envvar="STATION_CENTRE_WORKERS", type=click.IntRange(1, 64),
              default=1, show_default=True,
              help="Worker processes (use the cores; needs --key-file or --key-passphrase-file).")
@centre_options()
def serve_cmd(env: Env, db: str, host: str, port: int, public_url: str,
              key_passphrase_file: Path | None, key_file: Path | None, hybrid_pq: bool,
              workers: int) -> None:
    """Run the town centre's HTTP API (SQLite by default, PostgreSQL with --db)."""
    from station.wire.keys import SUITE_HYBRID, SUITE_X25519

    if public_url:
        public_url = check_url(public_url)
    elif host in ("0.0.0.0", "::", ""):
        raise PublicUrlNeeded(host=host or "*", port=port)
    if db:
        _check_db(db)
    _check_listen(host, port)
    protector = _protector(env, key_passphrase_file, key_file)
    if hybrid_pq and (env.home / KEYS).exists():
        env.say(f"注意：--hybrid-pq 只在第一次生成密钥时有效；沿用 {env.home / KEYS} 中已有的密钥",
                f"Note: --hybrid-pq applies only when the keys are first made; the keys in "
                f"{env.home / KEYS} are kept as they are")

    from station.centre.serve import CentreConfig, serve

    source = (("key_file", key_file) if key_file else
              ("passphrase_file", key_passphrase_file) if key_passphrase_file else None)
    config = CentreConfig(env.home, db=db, host=host, port=port, public_url=public_url,
                          protector=protector, suite=SUITE_HYBRID if hybrid_pq else SUITE_X25519,
                          workers=workers, protector_file=source)
    env.say(f"镇中心启动中：{config.public_url}，数据目录 {env.home}，数据库 {redact(config.db)}",
            f"Starting the town centre at {config.public_url}, home {env.home}, "
            f"database {redact(config.db)}")
    try:
        serve(config)
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start
        if exc.code in (0, None):
            return
        raise CannotListen(host=host, port=port) from None
    except Exception as exc:
        raise _start_error(exc, config.db, host) from None
    env.say("镇中心已停止", "The town centre has stopped")


def _start_error(exc: Exception, db: str, host: str) -> Exception:
    """What stopped the centre starting, as one sentence in both languages: the database
    (a file that is not one, locked, unreachable), a folder or file of its home; anything
    else is left as it is (a fault of ours, which the CLI reports as one)."""
    import sqlite3

    from station.centre.errors import Unavailable

    if isinstance(exc, Unavailable):  # met at start: the technician, not a station, waits
        why = str(exc.params.get("why"))
        zh, en = START_WHY.get(why, (exc.params.get("why_zh", ""), exc.params.get("why_en", "")))
        return DatabaseUnavailable(db=redact(db), detail=en, detail_zh=zh)
    if isinstance(exc, StationError):
        return exc
    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
        return database_unavailable(db, exc)
    if isinstance(exc, OSError):
        zh, en = os_reason(exc)
        where = exc.filename or host
        return StartFailed(detail=f"{en} ({where})", detail_zh=f"{zh}（{where}）")
    return exc


# The database's passing faults (Unavailable.WHY) as met at start, with what to do then
START_WHY: dict[str, tuple[str, str]] = {
    "busy": ("另一个进程正占用它（另一个镇中心进程正在写入？）：请等一会儿再启动",
             "another process holds it (is another centre process writing to it?): start "
             "again in a moment"),
    "disk": ("数据库文件无法读写：请检查它和它所在文件夹的权限及磁盘",
             "its file cannot be read or written: check the permissions of the file and its "
             "folder, and the disk"),
    "full": ("磁盘已满：请腾出空间再启动", "its disk is full: free some space, then start again"),
    "read_only": ("数据库只读：请检查文件权限，或是否连到了备用库",
                  "it is read-only: check the file's permissions, or whether this is a standby"),
}


# Why a database could not be opened, by the driver's words (libpq's, SQLite's): zh, en
DB_REASONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("password authentication failed", "no password supplied", 'role "'),
     "用户名或口令不对：请检查地址中的用户名和口令",
     "the user name or password is wrong: check them in the address"),
    (("no pg_hba.conf entry",),
     "PostgreSQL 不允许这个用户从这台电脑连接：请在它的 pg_hba.conf 里允许",
     "PostgreSQL does not let that user connect from this computer: allow it in its "
     "pg_hba.conf"),
    (("does not exist",), "地址中的数据库不存在：请先建立它（createdb）",
     "the database in the address does not exist: create it first (createdb)"),
    (("failed to resolve host", "could not translate host name"),
     "找不到地址中的主机名：请检查它", "the host name in the address is not known: check it"),
    (("connection refused", "timeout expired", "no route to host", "network is unreachable",
      "server closed the connection", "could not connect"),
     "连接不上：PostgreSQL 是否在运行？地址中的主机和端口是否正确？",
     "nothing answered: is PostgreSQL running, and are the host and port in the address "
     "right?"),
    (("starting up", "shutting down", "in recovery mode"),
     "PostgreSQL 正在启动或关闭：请稍后再启动镇中心",
     "PostgreSQL is starting up or shutting down: start the centre again in a moment"),
    (("in uri", "invalid uri", "invalid connection option", "invalid sslmode",
      "invalid integer value", 'missing "="'),
     "地址的格式不对：应形如 postgresql://用户名:口令@主机:5432/库名",
     "the address is not well formed: write it like postgresql://user:password@host:5432/db"),
    (("file is not a database", "malformed"),
     "这个文件不是 SQLite 数据库或已损坏：请检查 --db 指的文件，或从备份恢复",
     "the file is not a SQLite database, or is damaged: check the file --db names, or restore "
     "it from a backup"),
)


def database_unavailable(db: str, exc: Exception) -> DatabaseUnavailable:
    """The database named by ``db`` could not be opened, said in words in both languages.
    A cause not known here is quoted after a Chinese lead; the address's password never
    appears (the driver quotes a URL it cannot parse whole)."""
    text = str(exc).strip()
    for marks, zh, en in DB_REASONS:
        if any(mark in text.lower() for mark in marks):
            return DatabaseUnavailable(db=redact(db), detail=en, detail_zh=zh)
    first = (text.splitlines() or [type(exc).__name__])[0]
    if db.startswith(("postgresql://", "postgres://")):
        first = first.replace(db, redact(db))
    return DatabaseUnavailable(db=redact(db), detail=first, detail_zh=f"数据库报告错误（{first}）")


# --- talking to a running centre ---------------------------------------------------------------


def _token(env: Env, token_file: Path | None) -> str:
    path = token_file or env.home / STAFF_TOKEN
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenFileProblem.reading(exc, path=str(path)) from None
    except UnicodeDecodeError:
        raise TokenFileProblem(path=str(path), detail="it is not a text file",
                               detail_zh="它不是文本文件") from None
    if not token:
        raise TokenFileProblem(path=str(path), detail="it is empty", detail_zh="文件是空的")
    return token


class Staff:
    """The staff's link to a running centre: CentreClient, unsigned, with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        import httpx
        from tenacity import Retrying, stop_after_attempt

        from station.sync.transport import DEFAULT_TIMEOUT, CentreClient

        self._http = httpx.Client(timeout=DEFAULT_TIMEOUT,
                                  headers={"Authorization": f"Bearer {token}"})
        # One attempt: a staff action retried after a lost reply could act twice (two codes,
        # a decision refused because it was already made); the person can simply run it again.
        self.link = CentreClient(url, client=self._http,
                                 retry=Retrying(stop=stop_after_attempt(1), reraise=True))

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None
             ) -> Any:
        if raw is not None:
            body = raw
        elif payload is not None:
            body = json.dumps(payload, ensure_ascii=False).encode()
        else:
            body = b""
        response = self.link.request(method, path, body=body, signed=False,
                                     content_type="application/json")
        try:
            return response.json()
        except ValueError:
            raise NotACentre(url=self.link.url) from None


@contextmanager
def staff_link(env: Env, url: str, token_file: Path | None) -> Iterator[Staff]:
    from station.sync.errors import CentreUnreachable, Throttled

    staff = Staff(check_url(url), _token(env, token_file))
    try:
        yield staff
    except Throttled as exc:
        if "said_en" in exc.params:  # the centre said why: its own sentence, not a guess
            raise CentreSaysBusy(url=staff.link.url, **exc.params) from None
        raise CentreBusy(url=staff.link.url, retry_after=exc.params["retry_after"]) from None
    except CentreUnreachable as exc:
        why = {k: v for k, v in exc.params.items() if k in ("detail", "detail_zh")}
        raise CentreDown(url=staff.link.url, **why) from None
    finally:
        staff.close()


def print_qr(text: str, out: Any = None) -> None:
    """The code as a QR code drawn with block characters, for a phone or a scanner."""
    import segno

    qr = segno.make(text, micro=False, error="m")
    stream = out or sys.stdout
    try:
        qr.terminal(out=stream, compact=True, border=2)
    except UnicodeEncodeError:  # a console without the half-block characters
        qr.terminal(out=stream, compact=False, border=2)


@centre_group.command("enroll-code")
@click.argument("station")
@click.option("--scope", default="", help="The villages a service bus serves, e.g. "
              "V001,V002; a station always keeps its own id (its own records) too.")
@click.option("--expires", default="7d", show_default=True, help="How long the code is valid.")
@click.option("--qr/--no-qr", default=None, help="Draw the code as a QR code (default: when "
              "the output is a terminal).")
@staff_options
@centre_options(json_output=True)
def enroll_code_cmd(env: Env, station: str, scope: str, expires: str, qr: bool | None,
                    url: str, token_file: Path | None) -> None:
    """A one-time enrollment code for a station: give it to the station's `station enroll`."""
    station = station_id(station)
    villages = station_list(scope) if scope.strip() else [station]
    expires_s = parse_duration(expires)
    with staff_link(env, url, token_file) as staff:
        replaces = _enrolled_device(staff, station)
        reply = staff.call("POST", "/v1/staff/enroll-code",
                           {"station": station, "scope": villages, "expires_s": expires_s})
    try:
        code, expires_s = str(reply["code"]), int(reply["expires_s"])
    except (KeyError, TypeError, ValueError):
        raise NotACentre(url=url) from None
    # what the centre will let the station write and pull (its own id always among them)
    villages = [str(v) for v in reply.get("scope") or villages]
    data = {"code": code, "station": reply.get("station", station), "expires_s": expires_s,
            "scope": villages, "replaces": replaces}
    if replaces:
        env.say(f"注意：站点 {station} 目前已由设备 {replaces} 登记并在使用。"
                "用这个登记码登记后，那台电脑的同步将被拒绝：重装这台电脑时正该如此；"
                "如果是为丢失电脑的替换机登记，请先吊销"
                f"（station centre revoke {station}）；如果站点编号写错了，不要发出这个登记码",
                f"Note: station {station} is enrolled now, on device {replaces}. Once this "
                "code is used, that laptop's syncs are refused: right for a reinstall of it; "
                "for a lost laptop's replacement, revoke it first "
                f"(station centre revoke {station}); if the station id is a typo, do not hand "
                "this code out")

    def human() -> None:
        if qr or (qr is None and sys.stdout.isatty()):
            print_qr(code)
        click.echo(code)
        env.say(f"站点 {station} 的一次性登记码（服务 {'、'.join(villages)}），"
                f"{_duration_words(expires_s, 'zh')}内有效。"
                "在该站点的电脑上运行：station enroll 登记码",
                f"One-time enrollment code for station {station} (serving "
                f"{', '.join(villages)}), valid for {_duration_words(expires_s, 'en')}. "
                "On the station's laptop run: station enroll CODE")

    env.emit(data, human)


def _enrolled_device(staff: Staff, station: str) -> str | None:
    """The device ``station`` is enrolled on and in use (not revoked), if any: a code for it
    hands its place to whoever uses the code, so the staff are told before they give it."""
    rows = staff.call("GET", "/v1/staff/stations")
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("station") == station and not row.get("revoked_ms"):
            return str(row.get("device") or "?")
    return None


@centre_group.command("revoke")
@click.argument("station")
@staff_options
@centre_options(json_output=True)
def revoke_cmd(env: Env, station: str, url: str, token_file: Path | None) -> None:
    """Revoke a station's keys (a lost laptop): its requests are refused from now on.

    It acts on the laptop enrolled now, so revoke first, then issue the replacement's code
    (run after the replacement enrolled, it would lock out the replacement instead).
    """
    station = station_id(station)
    with staff_link(env, url, token_file) as staff:
        reply = staff.call("POST", "/v1/staff/revoke", {"station": station})
        revoked = bool(reply.get("revoked")) if isinstance(reply, dict) else False
        if not revoked:
            known = {str(r.get("station")): r for r in staff.call("GET", "/v1/staff/stations")
                     if isinstance(r, dict)}
            if station not in known:
                raise NotEnrolledAtCentre(station=station)
    data = {"station": station, "revoked": True, "already": not revoked}

    def human() -> None:
        if revoked:
            env.say(f"已吊销站点 {station} 的密钥；它的同步请求将被拒绝。重新登记请发新的登记码",
                    f"Revoked the keys of station {station}: its sync requests are refused "
                    "from now on. To enroll it again, issue a new code")
        else:
            env.say(f"站点 {station} 早已被吊销", f"Station {station} was already revoked")

    env.emit(data, human)


@centre_group.command("decide")
@click.argument("receipt")
@click.argument("outcome", type=click.Choice(["completed", "returned"]))
@click.option("--reason", default="", help="The reason (needed to return an application).")
@click.option("--staff", "staff_name", default="centre", show_default=True,
              help="Who decided (shown in the record's history).")
@staff_options
@centre_options(json_output=True)
def decide_cmd(env: Env, receipt: str, outcome: str, reason: str, staff_name: str, url: str,
               token_file: Path | None) -> None:
    """办结 (completed) or 退回 (returned) an application; it flows down to its station."""
    with staff_link(env, url, token_file) as staff:
        reply = staff.call("POST", "/v1/staff/decide",
                           {"receipt": receipt, "outcome": outcome, "reason": reason,
                            "staff": staff_name or "centre"})
    if not isinstance(reply, dict):
        raise NotACentre(url=url)
    word = {"completed": ("办结", "completed"), "returned": ("退回", "returned")}[outcome]

    def human() -> None:
        shown = reply.get("receipt") or reply.get("record") or receipt
        env.say(f"已{word[0]} {shown}；站点下次同步时会收到",
                f"Marked {shown} {word[1]}; its station gets the decision on its next sync")

    env.emit(reply, human)


@centre_group.group("catalogue")
def catalogue_group() -> None:
    """The matter catalogue (事项清单) the centre publishes to every station."""


@catalogue_group.command("publish")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@staff_options
@centre_options(json_output=True)
def catalogue_publish_cmd(env: Env, path: Path, url: str, token_file: Path | None) -> None:
    """Validate and publish a new catalogue version; every station gets it on its next pull."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueFileProblem.reading(exc, path=str(path)) from None
    with staff_link(env, url, token_file) as staff:
        reply = staff.call("POST", "/v1/staff/catalogue", raw=raw)
    if not isinstance(reply, dict):
        raise NotACentre(url=url)
    env.emit(reply, lambda: env.say(
        f"已发布事项清单 {reply.get('version')}（{reply.get('matters')} 个事项）；"
        "各站点下次同步时会收到",
        f"Published catalogue {reply.get('version')} ({reply.get('matters')} matters); every "
        "station gets it on its next sync"))


@centre_group.command("stations")
@staff_options
@centre_options(json_output=True)
def stations_cmd(env: Env, url: str, token_file: Path | None) -> None:
    """The enrolled stations, their villages, whether they were revoked, and laptops whose
    clock was found far ahead (set their date and time)."""
    with staff_link(env, url, token_file) as staff:
        rows = staff.call("GET", "/v1/staff/stations")
    if not isinstance(rows, list):
        raise NotACentre(url=url)

    def human() -> None:
        if not rows:
            env.say("还没有站点登记", "No station is enrolled yet")
            return

        headers = (env.t("站点", "Station"), env.t("服务村", "Villages"),
                   env.t("设备", "Device"), env.t("登记时间", "Enrolled"),
                   env.t("吊销", "Revoked"), env.t("时钟", "Clock"))
        table = [headers] + [
            (str(r["station"]), ",".join(r.get("scope") or []), str(r.get("device") or ""),
             china_time(r["enrolled_ms"]) if r.get("enrolled_ms") else "",
             china_time(r["revoked_ms"]) if r.get("revoked_ms") else "",
             _clock_words(env, r.get("clock_ahead_ms"), r.get("clock_flagged_ms")))
            for r in rows]
        from rich.cells import cell_len

        widths = [max(cell_len(row[i]) for row in table) for i in range(len(headers))]
        for row in table:
            click.echo("  ".join(cell + " " * (w - cell_len(cell))
                                 for cell, w in zip(row, widths, strict=True)).rstrip())

    env.emit(rows, human)


@centre_group.command("conflicts")
@click.option("--scope", help="Only records of this village, e.g. V001.")
@click.option("--station", "holder",
              help="Only records this station holds (its own and the villages it serves).")
@staff_options
@centre_options(json_output=True)
def conflicts_cmd(env: Env, scope: str | None, holder: str | None, url: str,
                  token_file: Path | None) -> None:
    """Open conflicts the centre holds: each value with who, which station and when, and who
    settles it (the centre by deciding again, or the stations that hold the record)."""
    chosen = (("scope", scope), ("station", holder))
    query = "&".join(f"{k}={station_id(v)}" for k, v in chosen if v is not None)
    with staff_link(env, url, token_file) as staff:
        rows = staff.call("GET", "/v1/staff/conflicts" + (f"?{query}" if query else ""))
    if not isinstance(rows, list):
        raise NotACentre(url=url)

    def human() -> None:
        if not rows:
            env.say("没有待处理的冲突", "No open conflicts")
        for row in rows:
            _print_conflict(env, row)

    env.emit(rows, human)


def _print_conflict(env: Env, row: dict[str, Any]) -> None:
    """One conflict, worded as ``station conflicts`` words it at a station (the same helpers),
    with each value's station, and who settles it."""
    from station.tui.screens.values import label, show, when
    from station.tui.text import KIND, pick

    kind, name = str(row["kind"]), str(row["field"])
    click.echo(f"{row['id']}  {label(kind, name, env.lang)}  "
               f"({pick(KIND.get(kind, (kind, kind)), env.lang)}, {row['scope']})"
               + (f"  {_matter_words(env, row)}" if row.get("matter") else ""))
    hidden = env.t("（个人信息或站点填写的文字，不在镇中心显示）",
                   "(personal data or a station's own text: not shown at the centre)")
    for i, head in enumerate(row["heads"], start=1):
        value = show(kind, name, head["value"], env.lang) if head.get("shown") else hidden
        if name == "matter" and head.get("shown") and head.get("value"):
            value = _matter_words(env, head, code=head["value"])
        origin = env.t("镇中心", "town centre") if head["station"] == "centre" \
            else str(head["station"])
        mark = env.t("（暂用）", " (shown for now)") if i == 1 else ""
        click.echo(f"  · {value}  {head['author']} @ {origin}, "
                   f"{when(head['hlc'], CHINA)}{mark}")
    click.echo(f"  {_who_settles(env, row)}")


def _matter_words(env: Env, named: dict[str, Any], code: Any = None) -> str:
    """A matter as staff read it: its code and, where the centre sent them, its name in the
    person's language (``matter_zh``/``matter_en`` of a conflict or a head)."""
    code = named.get("matter") if code is None else code
    title = named.get("matter_zh" if env.lang == "zh" else "matter_en")
    return f"{code} {title}" if title else str(code)


def _who_settles(env: Env, row: dict[str, Any]) -> str:
    """The exact command that settles a conflict, and where it is run."""
    ref, receipt = str(row["id"]), str(row.get("receipt") or row["record"])
    if row.get("centre_settles"):
        return env.t(f"由镇中心重新决定此件来解决：station centre decide {receipt} completed"
                     f"（或 returned --reason 原因）",
                     f"The centre settles it by deciding the case again: station centre "
                     f"decide {receipt} completed (or returned --reason REASON)")
    holders = [str(s) for s in row.get("stations") or []]
    if not holders:
        return env.t(f"由站点解决，但没有在用的站点负责 {row['scope']}：请先为它登记站点"
                     f"（station centre enroll-code），再在该站点运行 "
                     f"station conflicts settle {ref}",
                     f"A station settles it, but no enrolled station holds {row['scope']}: "
                     f"enroll one (station centre enroll-code), then run station conflicts "
                     f"settle {ref} there")
    return env.t(f"由站点解决（{'、'.join(holders)}）：在其中一个站点运行 "
                 f"station conflicts settle {ref}",
                 f"A station settles it ({', '.join(holders)}): run station conflicts settle "
                 f"{ref} at one of them")


def _clock_words(env: Env, ahead_ms: Any, flagged_ms: Any) -> str:
    """How far ahead a laptop's clock was found, and when: the staff have it set right."""
    if not ahead_ms:
        return ""
    days, hours = int(ahead_ms) // 86_400_000, max(1, int(ahead_ms) // 3_600_000)
    seen = china_time(flagged_ms) if flagged_ms else ""
    if days:
        return env.t(f"快 {days} 天（{seen} 发现）", f"{days} d ahead (seen {seen})")
    return env.t(f"快 {hours} 小时（{seen} 发现）", f"{hours} h ahead (seen {seen})")


@centre_group.command("report")
@click.option("--month", type=MonthType(), help="Which month (default: this one), e.g. 2026-11.")
@click.option("--by", type=click.Choice(["station", "matter", "department", "channel"]),
              help="Group the figures.")
@staff_options
@centre_options(json_output=True)
def report_cmd(env: Env, month: Month | None, by: str | None, url: str,
               token_file: Path | None) -> None:
    """The month's figures across stations: completion, on-time, contact, satisfaction."""
    chosen = month or Month.of(china_now().date())
    query = f"?month={chosen}" + (f"&by={by}" if by else "")
    with staff_link(env, url, token_file) as staff:
        reply = staff.call("GET", "/v1/staff/report" + query)
    if not isinstance(reply, dict) or "figures" not in reply:
        raise NotACentre(url=url)
    groups = {name: _figures(values) for name, values in reply["figures"].items()}
    names = _names(reply.get("names"))
    env.emit(reply, lambda: print_figures(env, groups, env.t("分组", by or "centre"),
                                          settle=SETTLE_AT_CENTRE, by=by, names=names))


# where staff see the conflicts behind provisional figures, and who settles each
SETTLE_AT_CENTRE = ("station centre conflicts", "station centre conflicts")


def _names(given: Any) -> dict[str, tuple[str, str]]:
    """The groups' (Chinese, English) names from a centre's report; an older centre sends
    none, and a pair not of two strings is left out rather than shown."""
    if not isinstance(given, dict):
        return {}
    return {k: (v[0], v[1]) for k, v in given.items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)}


def _figures(values: dict[str, Any]) -> Figures:
    known = {f.name for f in dataclasses.fields(Figures)}
    return Figures(**{k: v for k, v in values.items() if k in known})
