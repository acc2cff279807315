"""Unlock: the agent and their passphrase. A wrong one says so and changes nothing on disk."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Footer, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from station.domain.errors import StationError
from station.store.errors import WrongPassphrase
from station.store.service import Station
from station.tui.screens.base import StationScreen
from station.tui.widgets.prose import Prose
from station.tui.widgets.select import StationSelect

TEXT = {
    "title": ("打开站点数据", "Unlock the station"),
    "agent": ("代办员", "Agent"),
    "passphrase": ("口令", "Passphrase"),
    "unlock": ("打开", "Unlock"),
    "opening": ("正在打开……", "Opening…"),
    "hint": ("数据已加密，请输入您的口令。", "The data is encrypted: enter your passphrase."),
    "empty": ("请先输入口令。", "Type your passphrase first."),
    "again": ("（已连续 {n} 次）", " ({n} times in a row)"),
    "wait": ("请 {s} 秒后再试。", "Try again in {s} seconds."),
}

# Wrong passphrases in a row before each further try waits, and how long at most (seconds):
# a person who mistypes twice never waits; someone guessing at the keyboard soon does.
FREE_TRIES = 3
LONGEST_WAIT = 30


def wait_after(wrong: int) -> int:
    """Seconds to wait after ``wrong`` wrong passphrases in a row: 0, then 2, 4, 8… ≤ 30."""
    return 0 if wrong < FREE_TRIES else min(2 ** (wrong - FREE_TRIES + 1), LONGEST_WAIT)


class UnlockScreen(StationScreen[None]):
    """The first screen: nothing personal is shown or decrypted before it succeeds."""

    AUTO_FOCUS = "#passphrase"

    def __init__(self) -> None:
        super().__init__()
        self.wrong = 0  # wrong passphrases in a row, said with each refusal
        self.waiting = 0  # seconds left before the next try is taken

    def compose(self) -> ComposeResult:
        t = self.t
        try:
            agents = Station.agents_of(self.sapp.home)
            problem = None
        except StationError as exc:
            agents, problem = [], exc
        with Vertical(id="unlock-box"):
            yield Label(t(TEXT["title"]), id="unlock-title")
            yield Prose(t(TEXT["hint"]), id="unlock-hint")
            yield Label(t(TEXT["agent"]))
            yield StationSelect([(a, a) for a in agents], id="agent",
                                allow_blank=len(agents) != 1,
                                value=agents[0] if len(agents) == 1 else Select.NULL,
                                prompt=t(TEXT["agent"]))
            yield Label(t(TEXT["passphrase"]))
            yield Input(password=True, id="passphrase", placeholder=t(TEXT["passphrase"]))
            yield Button(t(TEXT["unlock"]), id="unlock", variant="primary")
            yield Prose(problem.message(self.lang) if problem else "", id="unlock-error")
        yield Footer()

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#unlock")
    def submit(self) -> None:
        if self.waiting:
            return  # the countdown is on screen
        agent = self.query_one("#agent", Select).value
        passphrase = self.query_one("#passphrase", Input).value
        if not passphrase:
            self.query_one("#unlock-error", Static).update(self.t(TEXT["empty"]))
            return
        self.query_one("#unlock-error", Static).update(self.t(TEXT["opening"]))
        self.open_station(None if agent is Select.NULL else str(agent), passphrase)

    @work(thread=True, exclusive=True, group="unlock", exit_on_error=False)
    def open_station(self, agent: str | None, passphrase: str) -> None:
        """Argon2id takes a third of a second on purpose: off the UI thread."""
        app = self.sapp
        try:
            station = Station.open(app.home, passphrase, agent=agent)
        except StationError as exc:
            app.call_from_thread(self.refused, exc)
            return
        app.call_from_thread(app.unlocked, station)

    def refused(self, error: StationError) -> None:
        """Say why, with how many wrong tries in a row: the same sentence again after a
        second try would look as if the try had not been taken. From the third, the next
        try waits, longer each time, with the seconds counted down."""
        text = error.message(self.lang)
        if isinstance(error, WrongPassphrase):
            self.wrong += 1
            if self.wrong > 1:
                text += self.t(TEXT["again"]).format(n=self.wrong)
        self.query_one("#unlock-error", Static).update(text)
        field = self.query_one("#passphrase", Input)
        field.value = ""
        field.focus()
        self.waiting = wait_after(self.wrong) if isinstance(error, WrongPassphrase) else 0
        if self.waiting:
            self._count_down(text)

    def _count_down(self, said: str) -> None:
        """One second of the pause: the refusal, and when the next try will be taken."""
        if self.waiting:
            wait = self.t(TEXT["wait"]).format(s=self.waiting)
            self.query_one("#unlock-error", Static).update(f"{said}\n{wait}")
            self.waiting -= 1
            self.set_timer(1, lambda: self._count_down(said))
        else:
            self.query_one("#unlock-error", Static).update(said)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure that is not a refusal (the app says it in a notification): the
        "opening…" line goes, so the screen does not look as if it still were."""
        if event.worker.group == "unlock" and event.state == WorkerState.ERROR:
            self.query_one("#unlock-error", Static).update("")
