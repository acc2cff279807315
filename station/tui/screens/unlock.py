"""Unlock: the agent and their passphrase. A wrong one says so and changes nothing on disk."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Footer, Input, Label, Select, Static

from station.domain.errors import StationError
from station.store.service import Station
from station.tui.screens.base import StationScreen
from station.tui.widgets.select import StationSelect

TEXT = {
    "title": ("打开站点数据", "Unlock the station"),
    "agent": ("代办员", "Agent"),
    "passphrase": ("口令", "Passphrase"),
    "unlock": ("打开", "Unlock"),
    "opening": ("正在打开……", "Opening…"),
    "hint": ("数据已加密，请输入您的口令。", "The data is encrypted: enter your passphrase."),
}


class UnlockScreen(StationScreen[None]):
    """The first screen: nothing personal is shown or decrypted before it succeeds."""

    AUTO_FOCUS = "#passphrase"

    def compose(self) -> ComposeResult:
        t = self.t
        try:
            agents = Station.agents_of(self.sapp.home)
            problem = None
        except StationError as exc:
            agents, problem = [], exc
        with Vertical(id="unlock-box"):
            yield Label(t(TEXT["title"]), id="unlock-title")
            yield Static(t(TEXT["hint"]), id="unlock-hint")
            yield Label(t(TEXT["agent"]))
            yield StationSelect([(a, a) for a in agents], id="agent",
                                allow_blank=len(agents) != 1,
                                value=agents[0] if len(agents) == 1 else Select.NULL,
                                prompt=t(TEXT["agent"]))
            yield Label(t(TEXT["passphrase"]))
            yield Input(password=True, id="passphrase", placeholder=t(TEXT["passphrase"]))
            yield Button(t(TEXT["unlock"]), id="unlock", variant="primary")
            yield Static(problem.message(self.lang) if problem else "", id="unlock-error")
        yield Footer()

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#unlock")
    def submit(self) -> None:
        agent = self.query_one("#agent", Select).value
        passphrase = self.query_one("#passphrase", Input).value
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
        self.query_one("#unlock-error", Static).update(error.message(self.lang))
        field = self.query_one("#passphrase", Input)
        field.value = ""
        field.focus()
