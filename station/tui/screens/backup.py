"""Make a backup from the app: the folder to put it in (a USB stick), then ``station backup``'s
own work (``station.store.backup``), in a worker, while the app stays open.

Several error messages tell the agent to restore a backup; until now only the command line
could make one, which an agent at a village laptop does not open. The copy holds nothing
personal in plaintext and needs no passphrase to make (G2), so the box asks only where.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Input, Label
from textual.worker import Worker, WorkerState

from station.domain.errors import StationError
from station.store.backup import backup
from station.tui.screens.base import StationModal
from station.tui.text import Pair
from station.tui.widgets.prose import Prose

TEXT: dict[str, Pair] = {
    "title": ("备份站点数据", "Back up the station"),
    "note": ("备份是所选文件夹里新建的一个文件夹，居民信息仍然加密；请放在 U 盘等另一处保管。",
             "The backup is a new folder inside the one chosen, with residents' data still "
             "encrypted: keep it somewhere else, such as a USB stick."),
    "folder": ("备份到哪个文件夹（如 U 盘）", "Folder to back up into (a USB stick)"),
    "empty": ("请先填写文件夹。", "Type a folder first."),
    "working": ("正在备份……", "Backing up…"),
    "done": ("已备份到 {path}（{mb:.1f} MB）。恢复：station restore {path} --home 新文件夹",
             "Backed up to {path} ({mb:.1f} MB). To restore: station restore {path} --home "
             "NEW-FOLDER"),
}


class BackupModal(StationModal[Path | None]):
    """Enter (or Ctrl+S) backs up into the folder typed; Esc leaves, nothing made. Dismisses
    with the backup's folder once it is made, and says so in a notification."""

    DEFAULT_CSS = """
    BackupModal { align: center middle; }
    BackupModal > #backup-box {
        width: 72; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    BackupModal #backup-title { text-style: bold; width: 100%; }
    BackupModal #backup-note { color: $text-muted; width: 100%; }
    BackupModal .form-label { margin-top: 1; }
    BackupModal #backup-said { width: 100%; }
    BackupModal #backup-said.error { color: $error; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("ctrl+s", "back_up", "Back up", id="back-up"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"cancel": "取消", "back-up": "备份"}

    def __init__(self) -> None:
        super().__init__()
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="backup-box"):
            yield Label(self.t(TEXT["title"]), id="backup-title")
            yield Prose(self.t(TEXT["note"]), id="backup-note")
            yield Label(self.t(TEXT["folder"]), classes="form-label")
            yield Input(str(self.station.last_backup_folder() or Path.home()),
                        id="backup-folder", compact=True)
            yield Prose("", id="backup-said")
        yield Footer()

    def say(self, text: str, *, error: bool = False) -> None:
        said = self.query_one("#backup-said", Prose)
        said.update(text)
        said.set_class(error, "error")

    def action_cancel(self) -> None:
        if not self.busy:  # a backup half-way is finished or undone by the store, not here
            self.dismiss(None)

    @on(Input.Submitted, "#backup-folder")
    def action_back_up(self) -> None:
        text = self.query_one("#backup-folder", Input).value.strip()
        if self.busy:
            return
        if not text:
            self.say(self.t(TEXT["empty"]), error=True)
            return
        self.busy = True
        self.say(self.t(TEXT["working"]))
        self.make_backup(Path(text).expanduser().absolute())

    @work(thread=True, exclusive=True, group="backup", exit_on_error=False)
    def make_backup(self, into: Path) -> None:
        """VACUUM INTO of a big village onto a slow stick takes a while: off the UI thread,
        on a connection of its own (``backup`` opens one)."""
        try:
            made = backup(self.station.home, into)
            size = sum(f.stat().st_size for f in made.iterdir())
        except StationError as exc:
            self.app.call_from_thread(self.refused, exc)
            return
        self.app.call_from_thread(self.made, made, size)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure that is not a refusal (the app says it in a notification): the box
        takes a folder again instead of staying "backing up…" for good."""
        if event.worker.group == "backup" and event.state == WorkerState.ERROR:
            self.busy = False
            self.say("")

    def refused(self, error: StationError) -> None:
        self.busy = False
        self.say(error.message(self.lang), error=True)
        self.query_one("#backup-folder", Input).focus()

    def made(self, folder: Path, size: int) -> None:
        with suppress(StationError):  # the backup is made: a busy database only forgets
            self.station.remember_backup_folder(folder.parent)
        self.notify(self.t(TEXT["done"]).format(path=folder, mb=size / 1e6), timeout=12)
        self.dismiss(folder)
