"""Sync: push and pull now, with a progress bar and a log; USB bundles; is the centre there?

Everything that talks to the centre or the disk runs in a thread worker on a connection of
its own (``Station.clone``), never the screen's: a pull applies in small transactions while
the agent keeps typing elsewhere. Workers report back with messages (``post_message`` is
thread-safe), so the screen updates only on the UI thread. A refused or unreachable centre,
a damaged bundle or a full USB stick is a sentence in the log, in the app's language; the
work stays in the outbox for the next try.

One sync at a time per station in this process (a lock, not only the worker group): a thread
cannot be cancelled, so leaving the screen during a sync and coming back must not start a
second one beside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Footer, Header, Input, Label, ProgressBar, RichLog, Static

from station.domain.english import counted, number_words
from station.domain.errors import StationError
from station.store.held import HeldChanges
from station.store.service import Station
from station.sync.bundle import export_bundle, export_said, import_bundle, reply_path
from station.sync.client import link_for
from station.sync.engine import CLOCK_WARN_MS, Progress, SyncReport, clock_gap, sync_once
from station.sync.errors import SyncBusy, SyncError
from station.sync.replies import json_object
from station.sync.transport import CentreClient, patient
from station.tui.screens.base import StationScreen
from station.tui.screens.values import when
from station.tui.text import UI, Pair
from station.tui.widgets.prose import Wrapped

TEXT: dict[str, Pair] = {
    "sync_now": ("立即同步", "Sync now"),
    "export": ("导出数据包", "Export bundle"),
    "import": ("导入回传包", "Import bundle"),
    "probe": ("检测连接", "Check link"),
    "retry": ("重发被拒的变更", "Send refused again"),
    "retry_button": ("重发被拒", "Resend"),  # short: five buttons share 80 columns
    "retried": ("{n} 条被拒的变更重新排队，现在发送；仍被拒的会连同原因再次隔离",
                "{n} refused change{s} {are} queued again and sent now; any still refused are "
                "held back again with the reason"),
    "none_refused": ("没有被镇中心拒收的变更", "Nothing was refused by the centre"),
    "export_to": ("导出到", "Export to"),
    "import_from": ("导入自", "Import from"),
    "centre": ("镇中心", "Centre"),
    "checking": ("正在检测连接……", "checking the link…"),
    "reachable": ("已连通（{ms} 毫秒）", "reachable ({ms} ms)"),
    "other_keys": ("该地址上的镇中心密钥指纹 {got} 与本站登记时的 {pinned} 不符：可能不是本镇中心",
                   "the centre at this address has key fingerprint {got}, not the {pinned} "
                   "this station enrolled with: it may not be your town centre"),
    "no_centre": ("本站尚未登记到镇中心", "This station is not enrolled with a town centre"),
    "no_link": ("镇中心：尚未登记，无从检测连接", "Centre: none yet, nothing to check"),
    "not_enrolled": ("本站尚未登记到镇中心，还不能同步或导出数据包。请向镇中心工作人员索取登记码，"
                     "然后运行 station enroll 登记码",
                     "This station is not enrolled with a town centre, so it cannot sync or "
                     "export bundles yet. Ask the centre's staff for an enrollment code, then "
                     "run: station enroll CODE"),
    "demo_centre": ("镇中心在 {url}", "A centre is running at {url}"),
    "state": ("未发送 {unsent} 条 · 被拒待处理 {refused} 条 · 上次同步 {last}",
              "Not sent: {unsent} · refused, held back: {refused} · last sync: {last}"),
    "unsent": ("未发送 {n} 条", "Not sent: {n}"),
    "never": ("从未", "never"),
    "kept_aside": (" · 本版本无法读取、已单独保存 {n} 条", " · kept aside, unreadable here: {n}"),
    "held": ("被镇中心拒收、已隔离的变更 {id}：{why}",
             "Held back (the centre refused it) {id}: {why}"),
    "start": ("开始同步：{url}，待发送 {n} 条", "Syncing with {url}: {changes} to send"),
    "pushed": ("已发送 {done}/{total} 条（{size}）", "Sent {done}/{total} ({size})"),
    "pulled": ("已接收 {done} 条（{size}）", "Received {done} ({size})"),
    "phase_push": ("发送", "Sending"),
    "phase_pull": ("接收", "Receiving"),
    "eta": ("剩余约 {s}", "about {s} left"),
    "rate": ("{r:.0f} 条/秒", "{r:.0f}/s"),
    "done": ("同步完成：{summary}", "Sync done: {summary}"),
    "refused": ("被拒 {id}：{why}", "Refused {id}: {why}"),
    "clock": ("{gap}，请校准时间（同步不受影响）", "{gap}: please set it (sync is not affected)"),
    "conflicts": ("有 {n} 处新的冲突：回到首页按 c 处理",
                  "{n} new conflict{s}: press c on the dashboard to settle them"),
    "failed": ("同步没有完成：{why}", "The sync did not finish: {why}"),
    "kept": ("未发送的工作都还在，联网后再同步即可", "Nothing is lost: unsent work stays "
             "until the next sync"),
    "busy": ("正在同步或处理数据包，请稍候", "A sync or bundle is already running: please wait"),
    "no_path": ("请先填写文件路径", "Type a file path first"),
    "no_file": ("没有找到文件 {path}：请检查路径，或先插好 U 盘",
                "There is no file {path}: check the path, or plug in the USB stick"),
    "imported": ("已导入回传包：{summary}", "Imported the bundle: {summary}"),
    "cannot_write": ("无法写入 {path}：{detail_zh}", "Cannot write {path}: {detail}"),
    "internal": ("内部错误：{e}", "Internal error: {e}"),
}

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def station_lock(home: Path) -> threading.Lock:
    """One sync or bundle job at a time per station home, across screens."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(home.resolve()), threading.Lock())


def is_a_file(path: Path) -> bool:
    """Whether ``path`` is a file that can be opened. A path no file system takes (a pasted
    paragraph: too long; a folder that cannot be entered) is no file either, not an error
    that would close the app."""
    try:
        return path.is_file()
    except OSError:
        return False


def size_text(n: int) -> str:
    """Bytes as a person reads them."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def seconds_text(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min"


class ScreenActions(Provider):
    """The calling screen's own actions in the command palette (``PALETTE``: label, help and
    action name), in the app's language: everything the keys do is also findable by name."""

    def _actions(self) -> list[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        base = cast(StationScreen[Any], screen)
        return [(base.t(label), base.t(help_text), getattr(screen, f"action_{action}"))
                for label, help_text, action in getattr(screen, "PALETTE", ())]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._actions():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._actions():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class Busy(StationError):
    code = "tui.sync.busy"
    zh, en = TEXT["busy"]


class CannotWrite(StationError):
    """A file the sync screen could not write, with the system's reason in words."""

    code = "tui.sync.cannot_write"
    zh, en = TEXT["cannot_write"]


class SyncScreen(StationScreen[None]):
    """Sync now, bundles, and how the link to the centre stands."""

    CSS_PATH = "sync.tcss"
    AUTO_FOCUS = "#sync-log"
    COMMANDS: ClassVar[set[Any]] = {ScreenActions}
    PALETTE: ClassVar[list[tuple[Pair, Pair, str]]] = [
        (TEXT["sync_now"], ("发送本站的变更并接收镇中心的新数据", "Push this station's work, pull "
                            "what is new"), "sync_now"),
        (TEXT["export"], ("把未发送的变更写入文件，用 U 盘带到镇上",
                          "Write unsent work to a file for a USB stick"), "export"),
        (TEXT["import"], ("合并从镇上带回的回传包", "Merge a reply bundle carried back"),
         "import_bundle"),
        (TEXT["probe"], ("镇中心是否连得上", "Is the centre reachable?"), "probe"),
        (TEXT["retry"], ("镇中心处理好拒收的原因后，把被拒的变更再发送一次",
                         "Once the centre has mended the cause, send the refused work again"),
         "retry_refused"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sync_now", "Sync now", id="sync-now", tooltip="Push and pull now"),
        Binding("e", "export", "Export", id="bundle-export",
                tooltip="Write the unsent work to a file for a USB stick"),
        Binding("i", "import_bundle", "Import", id="bundle-import",
                tooltip="Merge a reply bundle carried back from town"),
        Binding("t", "probe", "Check link", id="probe", tooltip="Is the centre reachable?"),
        # "Resend", as its button says: "Send refused again" pushed Back and Quit under the
        # palette's key in an 80-column footer (the tooltip and the palette say the rest)
        Binding("r", "retry_refused", "Resend", id="retry-refused",
                tooltip="Once the centre has mended the cause, send the refused work again"),
        Binding("escape", "back", "Back", id="back"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {
        "sync-now": "立即同步", "bundle-export": "导出", "bundle-import": "导入",
        "probe": "检测连接", "retry-refused": "重发被拒", "back": "返回"}

    class Started(Message):
        def __init__(self, url: str, unsent: int) -> None:
            super().__init__()
            self.url, self.unsent = url, unsent

    class Progressed(Message):
        def __init__(self, progress: Progress) -> None:
            super().__init__()
            self.progress = progress

    class Finished(Message):
        """A sync or a bundle import ended; ``report`` says what it did."""

        def __init__(self, report: SyncReport, what: str) -> None:
            super().__init__()
            self.report, self.what = report, what

    class Requeued(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    class Exported(Message):
        def __init__(self, count: int, path: Path) -> None:
            super().__init__()
            self.count, self.path = count, path

    class Failed(Message):
        def __init__(self, error: StationError | Exception, what: str) -> None:
            super().__init__()
            self.error, self.what = error, what

    class Probed(Message):
        def __init__(self, url: str | None, ms: float | None, error: StationError | None,
                     offset_ms: int = 0, fingerprint: str | None = None) -> None:
            super().__init__()
            self.url, self.ms, self.error = url, ms, error
            self.offset_ms, self.fingerprint = offset_ms, fingerprint

    class State(Message):
        def __init__(self, enrolled: bool, url: str | None, pinned: str | None, unsent: int,
                     held: list[tuple[str, dict[str, Any]]], last: str | None,
                     kept_aside: HeldChanges) -> None:
            super().__init__()
            self.enrolled, self.url, self.pinned = enrolled, url, pinned
            self.unsent, self.held, self.last = unsent, held, last
            self.kept_aside = kept_aside

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.history: list[str] = []  # the log's lines as plain text (tests, copying)
        self.pinned: str | None = None
        self._shown_held = False
        self._shown_kept_aside: HeldChanges | None = None
        self.refused = 0  # held back by the centre: the retry key and button show only then
        self._stop = threading.Event()  # leaving the screen ends a sync after its batch

    def on_unmount(self) -> None:
        self._stop.set()

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="sync-body"):
            yield Static(self.t(TEXT["checking"]), id="sync-centre")
            yield Static("", id="sync-state")
            with Horizontal(id="sync-progress"):
                yield ProgressBar(total=None, show_eta=False, id="sync-bar")
                yield Static("", id="sync-rate")
            yield RichLog(id="sync-log", wrap=True, min_width=20, max_lines=2000)
            with Horizontal(classes="sync-path"):
                yield Label(self.t(TEXT["export_to"]), classes="sync-path-label")
                yield Input(id="sync-export", compact=True)
            with Horizontal(classes="sync-path"):
                yield Label(self.t(TEXT["import_from"]), classes="sync-path-label")
                yield Input(id="sync-import", compact=True)
            with Horizontal(id="sync-buttons"):
                yield Button(self.t(TEXT["sync_now"]), id="sync-now", variant="primary",
                             compact=True)
                yield Button(self.t(TEXT["export"]), id="bundle-export", compact=True)
                yield Button(self.t(TEXT["import"]), id="bundle-import", compact=True)
                yield Button(self.t(TEXT["probe"]), id="probe", compact=True)
                yield Button(self.t(TEXT["retry_button"]), id="retry-refused", compact=True,
                             variant="warning")
        yield Footer(compact=True)  # seven keys with the retry one: 80 columns hold them

    def on_mount(self) -> None:
        self.sub_title = self.t(UI["sync"])
        stamp = self.station.now().strftime("%Y%m%d-%H%M")
        export = self.station.home / "bundles" / f"{self.station.station_id}-{stamp}.stb"
        self.query_one("#sync-export", Input).value = str(export)
        self.query_one("#sync-import", Input).value = str(reply_path(export))
        self.query_one("#sync-bar", ProgressBar).update(total=1, progress=0)
        self.query_one("#retry-refused", Button).display = False
        self.load_state()
        self.probe()

    # --- the log --------------------------------------------------------------------------

    def say(self, text: str, style: str = "") -> None:
        """One line in the log, with the time."""
        line = Text(self.station.now().strftime("%H:%M:%S "), style="dim")  # station clock
        line.append(text, style=style)
        self.history.append(line.plain)
        self.query_one("#sync-log", RichLog).write(Wrapped(line))

    def say_error(self, error: StationError | Exception, what: str) -> None:
        if isinstance(error, StationError):
            why = error.message(self.lang)
        else:  # a bug, not the agent's doing: still a sentence, never a traceback
            self.log.error(repr(error))
            why = self.t(TEXT["internal"]).format(e=f"{type(error).__name__}: {error}")
        if what == "sync" and not isinstance(error, Busy):
            self.say(self.t(TEXT["failed"]).format(why=why), "bold red")
            # the centre, not this station, stood in the way; another sync under way says
            # itself that nothing is lost and when to sync again (not "once online")
            if isinstance(error, SyncError) and not isinstance(error, SyncBusy):
                self.say(self.t(TEXT["kept"]))
        else:
            self.say(why, "bold red")

    # --- actions --------------------------------------------------------------------------

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#sync-log", RichLog).focus()
        else:
            self.app.pop_screen()

    def action_sync_now(self) -> None:
        if self._claim():
            self.query_one("#sync-bar", ProgressBar).update(total=None, progress=0)
            self.query_one("#sync-rate", Static).update("")
            self.run_sync()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The retry key is in the footer only while the centre has refused something."""
        return self.refused > 0 if action == "retry_refused" else True

    def action_retry_refused(self) -> None:
        if not self.refused:
            self.say(self.t(TEXT["none_refused"]))
        elif self._claim():
            self.query_one("#sync-bar", ProgressBar).update(total=None, progress=0)
            self.run_sync(retry=True)

    def action_export(self) -> None:
        path = self._path("#sync-export")
        if path is not None and self._claim():
            self.run_export(path)

    def action_import_bundle(self) -> None:
        path = self._path("#sync-import")
        if path is not None and not is_a_file(path):
            self.say(self.t(TEXT["no_file"]).format(path=path), "bold red")
            return
        if path is not None and self._claim():
            self.run_import(path)

    def action_probe(self) -> None:
        self.query_one("#sync-centre", Static).update(self.t(TEXT["checking"]))
        self.probe()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        actions = {"sync-now": self.action_sync_now, "bundle-export": self.action_export,
                   "bundle-import": self.action_import_bundle, "probe": self.action_probe,
                   "retry-refused": self.action_retry_refused}
        if event.button.id in actions:
            actions[event.button.id]()

    @on(Input.Submitted, "#sync-export")
    def export_submitted(self) -> None:
        self.action_export()

    @on(Input.Submitted, "#sync-import")
    def import_submitted(self) -> None:
        self.action_import_bundle()

    def _path(self, selector: str) -> Path | None:
        text = self.query_one(selector, Input).value.strip()
        if not text:
            self.say(self.t(TEXT["no_path"]), "bold red")
            self.query_one(selector, Input).focus()
            return None
        return Path(text).expanduser()

    def _claim(self) -> bool:
        if self.busy:
            self.say(self.t(TEXT["busy"]), "yellow")
            return False
        self.busy = True
        for button in self.query(Button):
            if button.id != "probe":
                button.disabled = True
        return True

    def _release(self) -> None:
        self.busy = False
        for button in self.query(Button):
            button.disabled = False

    # --- workers (threads, each on a connection of its own) --------------------------------

    def _job(self, what: str, body: Any) -> None:
        """Run ``body(clone)`` holding the station's lock; report failure as a message."""
        lock = station_lock(self.station.home)
        if not lock.acquire(blocking=False):
            self.post_message(self.Failed(Busy(), what))
            return
        clone: Station | None = None
        try:
            clone = self.station.clone()
            body(clone)
        except StationError as exc:
            self.post_message(self.Failed(exc, what))
        except OSError as exc:
            self.post_message(self.Failed(
                CannotWrite.writing(exc, path=exc.filename or "?"), what))
        except Exception as exc:  # shown as a sentence in the log
            self.post_message(self.Failed(exc, what))
        finally:
            if clone is not None:
                clone.close()
            lock.release()

    def _refresh_reader(self) -> None:
        """The app's reader connection caches reference data a pull may have changed."""
        with self.reading() as reader:
            reader.refresh()

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False,
          description="sync with the centre")
    def run_sync(self, retry: bool = False) -> None:
        """Push and pull; with ``retry``, what the centre refused is queued again first (as
        ``station sync --retry-refused``), once its staff say the cause is mended."""

        def body(clone: Station) -> None:
            if retry:
                self.post_message(self.Requeued(clone.sync.requeue_refused()))
            with link_for(clone.sync) as link:
                self.post_message(self.Started(link.url, clone.sync.unsent()))
                report = sync_once(clone.sync, link, station=clone, stop=self._stop,
                                   progress=lambda p: self.post_message(self.Progressed(p)))
            self._refresh_reader()
            self.post_message(self.Finished(report, "sync"))

        self._job("sync", body)

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False,
          description="export a bundle")
    def run_export(self, path: Path) -> None:
        def body(clone: Station) -> None:
            if path.parent == clone.home / "bundles":
                path.parent.mkdir(exist_ok=True)  # only our own folder is made for them
            count = export_bundle(clone.sync, path)
            self.post_message(self.Exported(count, path))

        self._job("export", body)

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False,
          description="import a bundle")
    def run_import(self, path: Path) -> None:
        def body(clone: Station) -> None:
            report = import_bundle(clone.sync, path, station=clone)
            self._refresh_reader()
            self.post_message(self.Finished(report, "import"))

        self._job("import", body)

    @work(thread=True, exclusive=True, group="sync-state", exit_on_error=False)
    def load_state(self) -> None:
        with self.reading() as reader:
            sync = reader.sync
            enrolled = sync.enrolled()
            pin = sync.centre() if enrolled else None
            last, _ = sync.last_sync()
            state = self.State(enrolled, pin.url if pin else self.sapp.centre_url,
                               pin.fingerprint if pin else None, sync.unsent(),
                               sync.quarantined(), last, reader.ledger.held_changes())
        self.post_message(state)

    @work(thread=True, exclusive=True, group="sync-probe", exit_on_error=False)
    def probe(self) -> None:
        """A cheap GET /v1/health: is the centre there, how far, and is it ours?"""
        with self.reading() as reader:
            pin = reader.sync.centre() if reader.sync.enrolled() else None
        url = pin.url if pin else self.sapp.centre_url
        if url is None:
            self.post_message(self.Probed(None, None, None))
            return
        began = time.monotonic()
        try:
            with CentreClient(url, retry=patient(attempts=1, within_s=5)) as client:
                health = json_object(client.request("GET", "/v1/health", signed=False))
                offset = client.offset_ms
        except StationError as exc:  # unreachable, refused, or a reply not the centre's
            self.post_message(self.Probed(url, None, exc))
            return
        ms = (time.monotonic() - began) * 1000
        fingerprint = health.get("fingerprint")
        self.post_message(self.Probed(url, ms, None, offset,
                                      fingerprint if isinstance(fingerprint, str) else None))

    # --- what the workers report -------------------------------------------------------------

    def on_sync_screen_state(self, message: State) -> None:
        self.pinned = message.pinned
        self.refused = len(message.held)
        self.query_one("#retry-refused", Button).display = self.refused > 0
        self.refresh_bindings()
        if message.enrolled:
            self.show_enrolled_state(message)
        else:
            text = self.t(TEXT["no_centre"]) + " · " + self.t(TEXT["unsent"]).format(
                n=message.unsent)
            if message.url:
                text += " · " + self.t(TEXT["demo_centre"]).format(url=message.url)
            self.query_one("#sync-state", Static).update(text)
            if not self._shown_held:
                self.say(self.t(TEXT["not_enrolled"]), "yellow")
            self._shown_held = True
        self.show_kept_aside(message.kept_aside)

    def show_enrolled_state(self, message: State) -> None:
        """The state line of an enrolled station, and (once) what the centre refused."""
        last = (when(message.last, self.station.now().tzinfo) if message.last
                else self.t(TEXT["never"]))
        state = self.t(TEXT["state"]).format(unsent=message.unsent, refused=len(message.held),
                                             last=last)
        if message.kept_aside.count:
            state += self.t(TEXT["kept_aside"]).format(n=message.kept_aside.count)
        self.query_one("#sync-state", Static).update(state)
        if not self._shown_held:
            for changeset, reason in message.held:
                why = reason.get("zh" if self.lang == "zh" else "en") or reason.get("code", "?")
                self.say(self.t(TEXT["held"]).format(id=changeset[:13], why=why), "yellow")
        self._shown_held = True

    def show_kept_aside(self, kept: HeldChanges) -> None:
        """What the centre sent that this version keeps aside, in the log: on opening, and
        again only when it changed (a sync merged some, or brought more)."""
        if kept != self._shown_kept_aside:
            for line in kept.lines(self.lang):
                self.say(line, "yellow")
        self._shown_kept_aside = kept

    def on_sync_screen_probed(self, message: Probed) -> None:
        line = self.query_one("#sync-centre", Static)
        if message.url is None:
            line.update(self.t(TEXT["no_link"]))
            return
        head = f"{self.t(TEXT['centre'])} {message.url} · "
        if message.error is not None:
            line.update(Text(head) + Text(message.error.message(self.lang), style="red"))
            return
        text = Text(head) + Text(self.t(TEXT["reachable"]).format(ms=f"{message.ms:.0f}"),
                                 style="green")
        if self.pinned and message.fingerprint and message.fingerprint != self.pinned:
            text += Text(" · " + self.t(TEXT["other_keys"]).format(
                got=message.fingerprint, pinned=self.pinned), style="bold red")
        if abs(message.offset_ms) > CLOCK_WARN_MS:
            gap = self.t(clock_gap(message.offset_ms))
            text += Text(" · " + self.t(TEXT["clock"]).format(gap=gap), style="yellow")
        line.update(text)

    def on_sync_screen_started(self, message: Started) -> None:
        self.say(self.t(TEXT["start"]).format(url=message.url, n=message.unsent,
                                              changes=counted(message.unsent, "change")),
                 "bold")
        if message.unsent:
            self.query_one("#sync-bar", ProgressBar).update(total=message.unsent, progress=0)

    def on_sync_screen_progressed(self, message: Progressed) -> None:
        p = message.progress
        bar = self.query_one("#sync-bar", ProgressBar)
        parts = [self.t(TEXT["phase_push" if p.phase == "push" else "phase_pull"]),
                 f"{p.changesets}" + (f"/{p.total}" if p.total is not None else ""),
                 size_text(p.bytes), self.t(TEXT["rate"]).format(r=p.rate)]
        if p.eta_s is not None:
            parts.append(self.t(TEXT["eta"]).format(s=seconds_text(p.eta_s)))
        self.query_one("#sync-rate", Static).update(" · ".join(parts))
        if p.phase == "push":
            bar.update(total=p.total, progress=p.changesets)
            self.say(self.t(TEXT["pushed"]).format(done=p.changesets, total=p.total,
                                                   size=size_text(p.bytes)))
        else:
            bar.update(total=None)
            self.say(self.t(TEXT["pulled"]).format(done=p.changesets, size=size_text(p.bytes)))

    def on_sync_screen_finished(self, message: Finished) -> None:
        report = message.report
        self.station.refresh()  # a pull may have brought a new catalogue
        self._release()
        bar = self.query_one("#sync-bar", ProgressBar)
        bar.update(total=1, progress=1)
        summary = report.summary(self.lang)
        key = "done" if message.what == "sync" else "imported"
        self.say(self.t(TEXT[key]).format(summary=summary), "bold green")
        for refusal in report.refused:
            why = refusal.get("zh" if self.lang == "zh" else "en") or refusal.get("code", "?")
            self.say(self.t(TEXT["refused"]).format(id=str(refusal.get("id", "?"))[:13],
                                                    why=why), "yellow")
        if report.conflicts:
            self.say(self.t(TEXT["conflicts"]).format(**number_words(report.conflicts)), "yellow")
        if message.what == "sync" and report.clock_warning:
            gap = self.t(clock_gap(report.clock_offset_ms))
            self.say(self.t(TEXT["clock"]).format(gap=gap), "yellow")
        self.load_state()
        if message.what == "sync":
            self.probe()

    def on_sync_screen_requeued(self, message: Requeued) -> None:
        self.say(self.t(TEXT["retried"]).format(**number_words(message.count)), "bold")

    def on_sync_screen_exported(self, message: Exported) -> None:
        self._release()
        self.say(self.t(export_said(message.count, message.path)), "bold green")
        self.query_one("#sync-import", Input).value = str(reply_path(message.path))
        self.load_state()

    def on_sync_screen_failed(self, message: Failed) -> None:
        self._release()
        bar = self.query_one("#sync-bar", ProgressBar)
        if bar.total is None:  # stopped before it knew how much there was
            bar.update(total=1, progress=0)
        self.say_error(message.error, message.what)
        self.load_state()
        if message.what == "sync":
            self.probe()
