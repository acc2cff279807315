"""What every ``station`` command shares: options, passphrases, output, errors, exit codes.

Exit codes (DESIGN §9): 0 ok, 1 a user error (a sentence on stderr, never a traceback),
2 usage, 3 the centre cannot be reached or another sync of the station is under way (the work
is kept for later). Data goes to stdout — one JSON document with ``--json`` — and messages
to stderr, so scripts can pipe the output.
"""

from __future__ import annotations

import errno
import functools
import inspect
import json
import locale
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click
from click.core import ParameterSource

from station.domain.errors import StationError
from station.domain.validate import has_lone_surrogates
from station.store.home import resolve_home

F = TypeVar("F", bound=Callable[..., Any])


class NoPassphrase(StationError):
    code = "cli.no_passphrase"
    zh = "需要口令：请在终端中运行，或用 --passphrase-file 指定口令文件"
    en = "A passphrase is needed: run in a terminal, or give --passphrase-file"


class NoNewPassphrase(StationError):
    code = "cli.no_new_passphrase"
    zh = "需要新口令：请在终端中运行，或用 --new-passphrase-file 指定新口令文件"
    en = "A new passphrase is needed: run in a terminal, or give --new-passphrase-file"


class PassphraseFileError(StationError):
    code = "cli.passphrase_file"
    zh = "无法读取口令文件 {path}：{detail_zh}"
    en = "Cannot read the passphrase file {path}: {detail}"


class RecoveryKeyFileError(StationError):
    code = "cli.recovery_key_file"
    zh = "无法读取恢复密钥文件 {path}：{detail_zh}"
    en = "Cannot read the recovery key file {path}: {detail}"


class UsageProblem(StationError):
    """A bad option value or combination: exit 2, like click's usage errors, but in the
    person's language."""

    exit_code = 2


class TwoRecoveryKeys(UsageProblem):
    code = "cli.recover.two_keys"
    zh = "请只用 --recovery-key-file 或 --recovery-key 其中之一"
    en = "Give the recovery key once: --recovery-key-file or --recovery-key, not both"


class NoRecoveryKey(StationError):
    code = "cli.recover.no_key"
    zh = "需要恢复密钥：请在终端中运行并按提示输入，或用 --recovery-key-file 指定密钥文件"
    en = ("The recovery key is needed: run in a terminal and type it when asked, or give "
          "--recovery-key-file")


class BadUrl(UsageProblem):
    code = "cli.centre.bad_url"
    zh = "地址“{value}”不对：应形如 http://主机:端口（例如 http://192.168.1.10:8700）"
    en = "The address “{value}” is not valid: it should look like http://host:port"


class NoScheme(BadUrl):
    """``host:port`` typed without ``http://``, the commonest slip: say what to type."""

    code = "cli.centre.no_scheme"
    zh = "地址“{value}”前面少了 http://：请写成 http://{value}（地址应形如 http://主机:端口）"
    en = ("The address “{value}” lacks http:// at the start: type http://{value} (an address "
          "looks like http://host:port)")


class NotUtf8(UsageProblem):
    """Text on the command line that is not UTF-8 (a terminal set to GBK, a pasted byte):
    it could not be stored or searched for, so it is refused before anything is opened."""

    code = "cli.not_utf8"
    zh = "{option} 的文字“{text}”不是有效的 UTF-8 编码：请把终端的字符编码设为 UTF-8 后重新输入"
    en = ("The text “{text}” given for {option} is not valid UTF-8: set the terminal's "
          "character encoding to UTF-8 and type it again")


class NoSuchFile(UsageProblem):
    code = "cli.no_such_file"
    zh = "找不到文件 {path}：请检查路径和文件名"
    en = "There is no file {path}: check its path and name"


class FolderNotFile(UsageProblem):
    code = "cli.folder_not_file"
    zh = "{path} 是一个文件夹：请写上其中的文件名"
    en = "{path} is a folder: give the name of a file in it"


class BadPort(UsageProblem):
    code = "cli.bad_port"
    zh = "--port 的“{value}”不是端口号：请写 1 到 65535 之间的整数，如 8000"
    en = "“{value}” given for --port is not a port: give a whole number from 1 to 65535, e.g. 8000"


class PortType(click.ParamType):
    """``--port 8000``; anything else is a usage error in the person's language, not click's
    English 'Invalid value … is not in the range' under a Chinese prefix."""

    name = "port"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            return value
        text = str(value).strip()
        if text.isascii() and text.isdigit() and 1 <= int(text) <= 65535:
            return int(text)
        raise BadPort(value=str(value)[:40])


class NewFile(click.ParamType):
    """A file argument the command writes (an export, a bundle): a folder is refused in the
    person's language, not with click's English 'File … is a directory' under a Chinese
    prefix. Whether it may be written is the writer's to say."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = value if isinstance(value, Path) else Path(value)
        if path.is_dir():
            raise FolderNotFile(path=str(path))
        return path


class ExistingFile(NewFile):
    """A file argument that must exist (an import, a carried bundle), checked before any
    passphrase is asked for — ``click.Path(exists=True)``, but in the person's language."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Path:
        path = super().convert(value, param, ctx)
        if not path.exists():
            raise NoSuchFile(path=str(path))
        return path


class Mismatch(StationError):
    code = "cli.mismatch"
    zh = "两次输入的口令不一致"
    en = "The two passphrases do not match"


def detect_lang(explicit: str | None = None) -> str:
    """``--lang`` wins; otherwise follow the locale (zh_* → Chinese), English by default."""
    if explicit:
        return explicit
    for var in ("STATION_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    loc = locale.getlocale()[0] or ""
    return "zh" if loc.lower().startswith("zh") else "en"


@dataclass
class Env:
    """The shared options of one command invocation."""

    home: Path
    lang: str
    passphrase_file: Path | None
    agent: str | None
    as_json: bool = False

    def say(self, zh: str, en: str) -> None:
        """A message for the person, on stderr, in their language."""
        click.echo(zh if self.lang == "zh" else en, err=True)

    def t(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def passphrase(self, prompt_zh: str = "口令", prompt_en: str = "Passphrase",
                   confirm: bool = False) -> str:
        if self.passphrase_file is not None:
            return read_passphrase_file(self.passphrase_file)
        if not sys.stdin.isatty():
            raise NoPassphrase()
        return self._typed(prompt_zh, prompt_en, confirm)

    def new_passphrase(self, prompt_zh: str, prompt_en: str, file: Path | None) -> str:
        """A passphrase being set for a key slot (another agent's, a changed one): from its
        own file, or typed twice. Never the unlock passphrase of --passphrase-file (or
        STATION_PASSPHRASE_FILE): that would silently give the new slot the old secret."""
        if file is not None:
            return read_passphrase_file(file)
        if not sys.stdin.isatty():
            raise NoNewPassphrase()
        return self._typed(prompt_zh, prompt_en, confirm=True)

    def _typed(self, prompt_zh: str, prompt_en: str, confirm: bool) -> str:
        first = click.prompt(self.t(prompt_zh, prompt_en), hide_input=True, err=True)
        if confirm:
            again = click.prompt(self.t("再输入一次", "Again"), hide_input=True, err=True)
            if again != first:
                raise Mismatch()
        return str(first)

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """Print ``data`` as one JSON document with --json, else call ``human``."""
        if self.as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        else:
            human()


_MISTYPED_SCHEME = re.compile(r"https?[:/]", re.IGNORECASE)  # http:/host, http//host


def check_url(text: str) -> str:
    """A centre address as given, checked before any connection is tried: a typo is a usage
    error naming it, not "cannot reach the centre"."""
    given = text.strip()
    if ("://" not in given and not _MISTYPED_SCHEME.match(given)
            and urlsplit(f"http://{given}").hostname):
        raise NoScheme(value=given)
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or "#" in text:
        raise BadUrl(value=text)
    try:
        parts.port  # noqa: B018 — raises ValueError for a bad port
    except ValueError:
        raise BadUrl(value=text) from None
    return text.strip().rstrip("/")


def read_passphrase_file(path: Path,
                         error: type[StationError] = PassphraseFileError) -> str:
    """The first line of ``path`` (a passphrase, or with ``error=RecoveryKeyFileError`` a
    recovery key). Notepad saves UTF-8 with a byte-order mark, which would otherwise become
    part of the secret and read as a wrong one."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise error(path=str(path), detail_zh="不是 UTF-8 编码的文本",
                    detail="it is not UTF-8 text") from None
    except OSError as exc:
        raise error.reading(exc, path=str(path)) from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise error(path=str(path), detail_zh="第一行是空的", detail="its first line is empty")
    return lines[0]


_BEFORE_COMMAND = "station.options_before_command"
GROUP_OPTIONS = ("home", "lang")


def remember_group_options(ctx: click.Context) -> None:
    """Keep the --home and --lang typed before the command (``station --home D list``), so
    the command's own options can fall back on them: people put options on either side."""
    ctx.meta[_BEFORE_COMMAND] = {
        f"--{name}": ctx.params[name] for name in GROUP_OPTIONS
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}


def or_before_command(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback of a command's --home/--lang: the value typed after the command wins, then the
    one typed before it, then the environment variable or the default."""
    if ctx.get_parameter_source(param.name or "") is ParameterSource.COMMANDLINE:
        return value
    return ctx.meta.get(_BEFORE_COMMAND, {}).get(param.opts[0], value)


LANG_OPTION = click.option("--lang", type=click.Choice(["zh", "en"]),
                           callback=or_before_command, help="Language of messages.")
HOME_OPTION = click.option("--home", type=click.Path(file_okay=False, path_type=Path),
                           envvar="STATION_HOME", callback=or_before_command,
                           help="Data directory of the station.")
STATION_OPTIONS = (
    HOME_OPTION,
    click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
                 envvar="STATION_PASSPHRASE_FILE", help="Read the passphrase from a file."),
    click.option("--agent", envvar="STATION_AGENT", help="Which agent is unlocking."),
    LANG_OPTION,
)


def passing_env(make_env: Callable[..., Env], options: Sequence[Callable[[F], F]],
                json_output: bool) -> Callable[[F], F]:
    """Give a command ``options`` (in --help in this order) and, if asked, --json; take them
    out of its arguments and hand it instead the ``Env`` that ``make_env`` makes of them
    (its parameters are the options' names, and ``as_json``)."""
    names = [name for name in inspect.signature(make_env).parameters if name != "as_json"]

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_utf8(click.get_current_context(), kwargs)
            env = make_env(**{name: kwargs.pop(name) for name in names},
                           as_json=bool(kwargs.pop("as_json", False)))
            return fn(env, *args, **kwargs)

        command: Any = wrapper
        if json_output:
            command = click.option("--json", "as_json", is_flag=True,
                                   help="Print one JSON document on stdout.")(command)
        for option in reversed(options):
            command = option(command)
        return command  # type: ignore[no-any-return]

    return decorate


def check_utf8(ctx: click.Context, values: dict[str, Any]) -> None:
    """Refuse a text argument that is not UTF-8. Python hands such bytes over as lone
    surrogates, which the database and the terminal cannot take; paths are left alone, as a
    file name on a USB stick may well be in another encoding."""
    for name, value in values.items():
        for text in value if isinstance(value, tuple) else (value,):
            if isinstance(text, str) and has_lone_surrogates(text):
                param = next((p for p in ctx.command.params if p.name == name), None)
                option = (param.opts[-1] if isinstance(param, click.Option)
                          else param.human_readable_name if param else name)
                raise NotUtf8(option=option, text=_shown(text))


def _shown(text: str) -> str:
    """The text with its bad bytes as \\xff escapes, so the sentence itself can be printed."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def _station_env(home: Path | None, passphrase_file: Path | None, agent: str | None,
                 lang: str | None, as_json: bool) -> Env:
    return Env(resolve_home(home), detect_lang(lang), passphrase_file, agent, as_json)


def common(json_output: bool = False) -> Callable[[F], F]:
    """Add --home, --passphrase-file, --agent, --lang (and --json) and pass an ``Env``."""
    return passing_env(_station_env, STATION_OPTIONS, json_output)


INTERRUPTED = 130  # the exit status of a command ended by Ctrl+C (128 + SIGINT)


def leave_now(code: int) -> NoReturn:
    """End the process at once, after a Ctrl+C has been said. Python would first wait for
    every thread still running, and a sync's request threads wait on a stalled link (the
    read timeout, then the retries) for up to a minute after the person asked to stop.
    Nothing of ours is left half-written: every write is an SQLite transaction, committed
    or rolled back while the interrupt unwound (G1); those threads only wait on the network."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(cli: click.Group, argv: list[str] | None = None) -> int:
    """Run the CLI and turn every error into a sentence and an exit code."""
    lang = _lang_from_argv(argv, detect_lang())
    try:
        cli.main(args=argv, prog_name="station", standalone_mode=False)
    except StationError as exc:
        click.echo(exc.message(lang), err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("已取消" if lang == "zh" else "Cancelled", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        if lang == "zh":
            _show_in_chinese(exc)
        else:
            exc.show()
        return 2 if isinstance(exc, click.UsageError) else 1
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:  # the last line of defence: a sentence, not a traceback
        if os.environ.get("STATION_DEBUG"):
            raise
        click.echo(("内部错误：{}（设置 STATION_DEBUG=1 可查看详细信息）" if lang == "zh"
                    else "Internal error: {} (set STATION_DEBUG=1 for details)")
                   .format(f"{type(exc).__name__}: {exc}"), err=True)
        return 1
    return 0


def _show_in_chinese(exc: click.ClickException) -> None:
    """Click's own errors are English only: a Chinese sentence says what went wrong and where
    to look, and click's detail (naming the option and the value) follows it unchanged."""
    if isinstance(exc, click.UsageError):
        where = exc.ctx.command_path if exc.ctx else "station"
        click.echo(f"命令用法有误（可运行 {where} --help 查看用法）：{exc.format_message()}",
                   err=True)
    else:
        click.echo(f"出错：{exc.format_message()}", err=True)


def _lang_from_argv(argv: list[str] | None, fallback: str) -> str:
    args = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args) and args[i + 1] in ("zh", "en"):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return fallback if fallback in ("zh", "en") else "en"


@contextmanager
def progress_bar(env: Env, zh: str, en: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` for a long job: a bar on stderr when a person watches a
    terminal, nothing under --json or in a script."""
    if not sys.stderr.isatty() or env.as_json:
        yield lambda done, total: None
        return
    bar: Any = click.progressbar(length=1, label=env.t(zh, en), file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)

    try:
        yield progress
    finally:
        bar.render_finish()


IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}


def listen_reason(exc: OSError) -> tuple[str, str]:
    """Why a server cannot listen (zh, en), for the causes other than a port in use: the
    system's own text is English, so the common one is said in words (with what to do) and
    any other is quoted after a Chinese lead."""
    said = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return (f"没有权限使用这个端口（{said}），1024 以下的端口需要管理员权限",
                f"not allowed to use this port ({said}); ports below 1024 need an "
                "administrator")
    return f"系统报告：{said}", said
