"""The materials checklist of a matter: tick what the resident brought; each optional material
left unticked takes the date the resident promises to bring it (容缺受理). Essential ones are
marked: with one of them missing the case cannot be received (only kept as a draft).

Long material names wrap (a checkbox would cut them off), and the tick marks are ASCII so
Chinese terminals, which draw ☐ two cells wide, keep the rows aligned.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import AwaitMount
from textual.widgets import Label, Static

from station.domain.catalogue import Material, Matter
from station.tui.widgets.line_input import LineInput

TEXT = {
    "essential": ("必要", "essential"),
    "optional": ("可容缺", "optional"),
    "due": ("承诺补齐", "due by"),
    "pick_first": ("请先选择事项，再勾选收到的材料。", "Choose a matter first, then tick "
                   "the materials received."),
    "help": ("空格键勾选已收到的材料；未收到的可容缺材料请填写承诺补齐日期。",
             "Space ticks a material received; for each optional one not received, enter "
             "the date the resident promises to bring it."),
}


def _t(key: str, lang: str) -> str:
    zh, en = TEXT[key]
    return zh if lang == "zh" else en


class MaterialItem(Static, can_focus=True):
    """One material: ``[x] name  essential``; space or enter ticks it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space,enter", "toggle", "Tick", show=False),
        Binding("down", "move(1)", "Next material", show=False),
        Binding("up", "move(-1)", "Previous material", show=False),
    ]
    DEFAULT_CSS = """
    MaterialItem { width: 1fr; height: auto; }
    MaterialItem:focus { background: $block-cursor-background; color: $block-cursor-foreground; }
    MaterialItem:hover { background: $block-hover-background; }
    """

    received: reactive[bool] = reactive(False, init=False)

    class Changed(Message):
        def __init__(self, item: MaterialItem) -> None:
            super().__init__()
            self.item = item

        @property
        def control(self) -> MaterialItem:
            return self.item

    def __init__(self, material: Material, lang: str, received: bool = False) -> None:
        super().__init__(markup=False)
        self.material = material
        self.lang = lang
        self.set_reactive(MaterialItem.received, received)

    def on_mount(self) -> None:
        self._draw()

    def _draw(self) -> None:
        tag = _t("essential" if self.material.essential else "optional", self.lang)
        style = "bold $text-error" if self.material.essential else "dim"
        self.update(Content.assemble(
            ("[x] " if self.received else "[ ] ", "bold"),
            self.material.name(self.lang), "  ", (tag, style)))

    def watch_received(self) -> None:
        self._draw()
        self.post_message(self.Changed(self))

    def action_toggle(self) -> None:
        self.received = not self.received

    def on_click(self) -> None:
        self.received = not self.received

    def action_move(self, step: int) -> None:
        """Up and down go from material to material (tab also visits the dates)."""
        items = list(self.screen.query(MaterialItem))
        at = items.index(self) + step
        if 0 <= at < len(items):
            items[at].focus()
        else:
            (self.screen.focus_next if step > 0 else self.screen.focus_previous)()


class MaterialRow(Vertical):
    """A material, its promised date when it is optional and missing, and its error line."""

    DEFAULT_CSS = """
    MaterialRow { height: auto; }
    MaterialRow > .material--line { height: auto; }
    MaterialRow .material--due-label { width: auto; padding: 0 1 0 2; color: $text-muted; }
    MaterialRow .material--due { width: 12; }
    MaterialRow.-received .material--due, MaterialRow.-received .material--due-label,
    MaterialRow.-essential .material--due, MaterialRow.-essential .material--due-label {
        display: none;
    }
    MaterialRow > .material--error { color: $text-error; padding-left: 4; display: none; }
    MaterialRow.-error > .material--error { display: block; }
    """

    def __init__(self, material: Material, lang: str, *, received: bool, due: str) -> None:
        super().__init__(classes="-essential" if material.essential else "")
        self.material = material
        self.item = MaterialItem(material, lang, received)
        self.due = LineInput(due, placeholder="YYYY-MM-DD", compact=True,
                             classes="material--due")
        self.lang = lang
        self.set_class(received, "-received")

    @property
    def code(self) -> str:
        return self.material.code

    def compose(self) -> ComposeResult:
        with Horizontal(classes="material--line"):
            yield self.item
            yield Label(_t("due", self.lang), classes="material--due-label")
            yield self.due
        yield Static("", classes="material--error", markup=False)

    @on(MaterialItem.Changed)
    def _ticked(self, event: MaterialItem.Changed) -> None:
        self.set_class(event.item.received, "-received")
        if event.item.received:
            self.clear_error()

    def show_error(self, message: str) -> None:
        self.query_one(".material--error", Static).update(message)
        self.add_class("-error")

    def clear_error(self) -> None:
        self.remove_class("-error")


class MaterialsChecklist(Vertical):
    """Every material of the chosen matter; ``received()`` and ``due()`` give the form values."""

    DEFAULT_CSS = """
    MaterialsChecklist { height: auto; }
    MaterialsChecklist > .checklist--help { color: $text-muted; }
    MaterialsChecklist > .checklist--rows { height: auto; }
    MaterialsChecklist > .checklist--refusal { color: $text-error; text-style: bold;
                                               display: none; }
    MaterialsChecklist.-refused > .checklist--refusal { display: block; }
    """

    def __init__(self, lang: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lang = lang
        self.matter: Matter | None = None
        self.rows: list[MaterialRow] = []

    def compose(self) -> ComposeResult:
        yield Static(_t("pick_first", self.lang), classes="checklist--help")
        yield Vertical(classes="checklist--rows")
        yield Static("", classes="checklist--refusal", markup=False)

    def load(self, matter: Matter, *, received: set[str], due: dict[str, str],
             default_due: str) -> AwaitMount:
        """Show ``matter``'s materials, ticked as given; missing optional ones get their
        promised date from ``due`` or ``default_due``."""
        self.matter = matter
        self.clear_errors()
        self.rows = [MaterialRow(m, self.lang, received=m.code in received,
                                 due=due.get(m.code) or default_due)
                     for m in matter.materials]
        box = self.query_one(".checklist--rows", Vertical)
        box.remove_children()
        self.query_one(".checklist--help", Static).update(_t("help", self.lang))
        return box.mount(*self.rows)

    def received(self) -> list[str]:
        return [row.code for row in self.rows if row.item.received]

    def due(self) -> dict[str, str]:
        """The promised date of each optional material not received (as typed)."""
        return {row.code: row.due.value.strip() for row in self.rows
                if not row.item.received and not row.material.essential}

    def row(self, code: str) -> MaterialRow | None:
        return next((r for r in self.rows if r.code == code), None)

    def show_error(self, code: str, message: str) -> MaterialRow | None:
        row = self.row(code)
        if row is not None:
            row.show_error(message)
        return row

    def show_refusal(self, message: str) -> None:
        self.query_one(".checklist--refusal", Static).update(message)
        self.add_class("-refused")

    @property
    def refusal(self) -> str:
        if not self.has_class("-refused"):
            return ""
        return str(self.query_one(".checklist--refusal", Static).render())

    def clear_errors(self) -> None:
        self.remove_class("-refused")
        for row in self.rows:
            row.clear_error()

    def focus_first(self) -> None:
        if self.rows:
            self.rows[0].item.focus()
