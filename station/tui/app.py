"""The station app (Textual): what agents use all day, keyboard first, in zh and en.

One ``StationApp`` per open station. Screens call the same ``Station`` API as the CLI and
never write SQL. Anything that may take time (unlocking with Argon2id, a sync, a search over
a big village) runs in a worker; a worker that touches the database gets its own connection
(``Station.clone``), so a background pull never interleaves with a save.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from station.domain.errors import StationError
from station.store.service import Station
from station.sync.engine import SyncReport, merge_kept
from station.tui.text import UI, Pair, pick
from station.tui.widgets.palette import StationPalette

TEXT: dict[str, Pair] = {
    "palette": ("输入要找的页面或操作", "Type a screen or an action"),
    "no_matches": ("没有找到匹配的页面或操作", "No matches found"),
    "merged": ("已合并锁定期间收到的更新：", "Merged what arrived while the station was locked: "),
    "quit_help": ("关闭便民服务站（未保存的表单已暂存）",
                  "Close the app (unsaved forms are kept as drafts)"),
}


class StationApp(App[None]):
    """The whole app; ``station`` is set once the unlock screen succeeds."""

    CSS_PATH = "app.tcss"
    TITLE = "station"
    # how often the open app looks for batches a background `station sync --unattended`
    # (cron) kept in the inbox: they merge then, not only at the next unlock or sync
    KEPT_CHECK_S: ClassVar[float] = 60.0
    BINDING_ZH: ClassVar[dict[str, str]] = {"quit": "退出", "go-dashboard": "首页",
                                            "palette": "命令"}
    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: a modal's bindings end its chain, and Ctrl+Q must work from one too
        # (``action_quit`` asks first if that would lose what was typed there).
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, tooltip="Leave the app"),
        # Textual's own palette binding, given here so its footer label can be Chinese.
        Binding("ctrl+p", "command_palette", "Commands", id="palette", show=False,
                priority=True, tooltip="Every screen and action by name"),
        Binding("f1", "go('dashboard')", "Dashboard", id="go-dashboard", show=False),
    ]

    def __init__(self, home: Path, *, lang: str = "zh", station: Station | None = None,
                 on_exit: Callable[[], None] | None = None,
                 centre_url: str | None = None) -> None:
        super().__init__()
        self.home = home
        self.lang = lang
        self.station = station
        self.centre_url = centre_url
        self._on_exit = on_exit
        self._reader: Station | None = None
        self._reader_lock = threading.Lock()
        self.title = pick(UI["app"], lang)

    def t(self, pair: Pair) -> str:
        """The sentence in the app's language."""
        return pick(pair, self.lang)

    def say_error(self, error: StationError) -> None:
        """A refusal or failure as a person reads it: a notification, never a traceback."""
        self.notify(error.message(self.lang), severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed background job becomes a sentence for the agent."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, StationError):
            self.say_error(error)
        else:
            self.log.error(repr(error))
            self.notify(self.t(("内部错误：{e}", "Internal error: {e}")).format(
                e=f"{type(error).__name__}: {error}"), severity="error", timeout=10)

    def on_mount(self) -> None:
        from station.tui.screens.base import localise_bindings
        from station.tui.screens.dashboard import DashboardScreen

        localise_bindings(self, self.lang)
        from station.tui.screens.unlock import UnlockScreen

        self.set_interval(self.KEPT_CHECK_S, self._merge_kept_while_open)

        if self.station is None:
            self.push_screen(UnlockScreen())
        else:
            self.push_screen(DashboardScreen())
            self._warm_up()
            self._merge_kept_if_any()

    def unlocked(self, station: Station) -> None:
        from station.tui.screens.dashboard import DashboardScreen

        self.station = station
        self.switch_screen(DashboardScreen())
        self._warm_up()
        self._merge_kept_if_any()

    def _merge_kept_if_any(self) -> None:
        assert self.station is not None
        if self.station.sync.kept():
            self.merge_kept()

    def _merge_kept_while_open(self) -> None:
        """Merge what a background unattended sync kept while the app stays open: its
        report promised it would merge, and the agent should not have to lock and unlock
        to see it. Nothing while locked, or while a sync or merge is already at work (a
        sync merges the inbox itself)."""
        from station.tui.screens.sync import station_lock

        if self.station is None or station_lock(self.station.home).locked():
            return
        if any(w.group == "merge-kept" and not w.is_finished for w in self.workers):
            return
        self._merge_kept_if_any()

    def _warm_up(self) -> None:
        """Build the name index in the background right after unlock (a second or two for a
        big village), so the agent's first search answers at once."""

        def build() -> None:
            with self.reading() as reader:
                reader.names  # noqa: B018 -- built on first use, shared with the station

        self.run_worker(build, thread=True, group="warm-up", name="name index")

    @work(thread=True, group="merge-kept", exit_on_error=False,
          description="merge what arrived while locked")
    def merge_kept(self) -> None:
        """What an unattended sync kept sealed while the vault was locked merges right after
        unlock, as that sync's report promised; the screen then reads again. One job per
        station at a time, like a sync (a failure is said by ``on_worker_state_changed``)."""
        from station.tui.screens.sync import station_lock

        assert self.station is not None
        with station_lock(self.station.home):
            clone = self.station.clone()
            try:
                report = merge_kept(clone)
            finally:
                clone.close()
        if report.brought_anything:
            with self.reading() as reader:
                reader.refresh()  # a new catalogue may have come with it
            self.call_from_thread(self._merged, report)
        if report.kept_trouble():
            self.call_from_thread(self.notify, report.kept_trouble(self.lang),
                                  severity="warning", timeout=15)

    def _merged(self, report: SyncReport) -> None:
        from station.tui.screens.base import Base

        self.notify(f"{self.t(TEXT['merged'])}{report.summary(self.lang, trouble=False)}",
                    timeout=8)
        if isinstance(self.screen, Base):  # the lists too, not only the reading screens
            self.screen.reread()

    async def action_quit(self) -> None:
        """Ctrl+Q. The full forms keep a draft as they close; a small modal keeps none, so
        one with something typed in it asks before the app quits."""
        from station.tui.screens.form_modal import FormModal
        from station.tui.widgets.form_screen import FormScreen

        if isinstance(self.screen, FormModal):
            self.screen.leave(self.exit)
        elif not isinstance(self.screen, FormScreen) or self.screen.kept_for_leaving():
            self.exit()

    def action_go(self, where: str) -> None:
        if self.station is not None:
            self.push_screen(self.make_screen(where))

    def make_screen(self, where: str) -> Screen[Any]:
        from station.tui import screens

        return screens.make(where)

    def action_command_palette(self) -> None:
        """Ctrl+P: Textual's palette, with its prompt and its "no matches" in the app's
        language."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(StationPalette(placeholder=self.t(TEXT["palette"]),
                                            no_matches=self.t(TEXT["no_matches"]),
                                            id="--command-palette"))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers Quit and the station's screens, in the app's language.
        Textual's own commands are left out: their theme picker, key panel and screenshot
        notice speak English only, and none of them is an agent's task."""
        yield SystemCommand(self.t(UI["quit"]), self.t(TEXT["quit_help"]), self.action_quit)
        if self.station is None:
            return
        from station.tui import screens

        for where, pair, help_pair in screens.COMMANDS:
            yield SystemCommand(self.t(pair), self.t(help_pair),
                                lambda where=where: self.action_go(where))

    @contextmanager
    def reading(self) -> Iterator[Station]:
        """A second connection, for queries in worker threads (one at a time)."""
        assert self.station is not None
        with self._reader_lock:
            if self._reader is None:
                self._reader = self.station.clone()
            yield self._reader

    def on_unmount(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self.station is not None:
            self.station.close()
        if self._on_exit is not None:
            self._on_exit()
