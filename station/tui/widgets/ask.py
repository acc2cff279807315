"""A question with a few answers, as a modal: "restore or discard?", "save as a draft?".

``AskModal(title, body, [(answer, label), ...])`` dismisses with the chosen answer, or
``None`` on escape. Left/right (or tab) move between the buttons; the first is focused.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from station.tui.screens.base import StationModal


class AskModal(StationModal[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="cancel"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"cancel": "取消"}
    DEFAULT_CSS = """
    AskModal { align: center middle; }
    AskModal > #ask-box {
        width: 66; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    AskModal #ask-title { text-style: bold; margin-bottom: 1; }
    AskModal #ask-buttons { height: auto; margin-top: 1; }
    AskModal #ask-buttons Button { margin-right: 2; min-width: 12; }
    """

    def __init__(self, title: str, body: str, answers: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question = title
        self.body = body
        self.answers = answers

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            yield Label(self.question, id="ask-title", markup=False)
            yield Static(self.body, id="ask-body", markup=False)
            with Horizontal(id="ask-buttons"):
                for i, (answer, label) in enumerate(self.answers):
                    yield Button(label, id=f"ask-{answer}", name=answer, compact=True,
                                 variant="primary" if i == 0 else "default")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.name)
