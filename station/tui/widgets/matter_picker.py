"""The matter picker: type part of a code or a name (Chinese or English) to narrow the ~50
matters of the catalogue; the highlighted one shows its department, legal time limit and where
it is decided. Enter (or a click) chooses it."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from station.domain.catalogue import Catalogue, Matter
from station.domain.english import number_words
from station.tui.text import pick

TEXT = {
    "search": ("输入事项编码或名称筛选，回车选定", "Type a code or name to filter; Enter chooses"),
    "days": ("{n} 个工作日", "{n} working day{s}"),
    "at_once": ("即办", "done at once"),
    "station": ("村站可办结（街社同权）", "decided at the station"),
    "centre": ("村站受理、镇中心办结", "decided at the town centre"),
    "home": ("可上门办理", "home service allowed"),
    "parts": ("一件事，含：{parts}", "one application covering: {parts}"),
    "chosen": ("已选：", "Chosen: "),
    "none": ("没有符合的事项", "No matter matches"),
}


def _t(key: str, lang: str) -> str:
    return pick(TEXT[key], lang)


def describe(matter: Matter, lang: str) -> str:
    """Department · time limit · where it is decided (· home service) (· bundle parts)."""
    days = (_t("at_once", lang) if matter.time_limit_days == 0
            else _t("days", lang).format(**number_words(matter.time_limit_days)))
    bits = [matter.department(lang), days, _t(matter.decided_at, lang)]
    if matter.home_service:
        bits.append(_t("home", lang))
    if matter.parts:
        bits.append(_t("parts", lang).format(parts=("、" if lang == "zh" else ", ").join(
            matter.parts)))
    return " · ".join(bits)


def _in_order(needle: str, text: str) -> bool:
    """Every character of ``needle`` in ``text``, in order: 低保 finds 最低生活保障."""
    rest = iter(text)
    return all(ch in rest for ch in needle)


def find(catalogue: Catalogue, text: str) -> list[Matter]:
    """Matters for what the agent typed: codes and names containing it first, then Chinese
    names holding its characters in order (the short names people say: 低保, 居住证),
    then English names holding each of its words."""
    found = catalogue.search(text)
    needle = text.strip().casefold()
    if not needle:
        return found
    seen = {m.code for m in found}
    compact = needle.replace(" ", "")
    words = needle.split()
    for matter in catalogue:
        if matter.code in seen:
            continue
        if _in_order(compact, matter.name_zh) or all(
                w in matter.name_en.casefold() for w in words):
            found.append(matter)
    return found


class MatterPicker(Vertical):
    """Posts ``MatterPicker.Chosen`` when the agent chooses a matter."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "into_list", "Matters", show=False),
    ]
    DEFAULT_CSS = """
    MatterPicker { height: auto; }
    MatterPicker > OptionList { height: auto; max-height: 6; border: none; padding: 0; }
    MatterPicker > OptionList:focus { border: none; }
    MatterPicker.-chosen > OptionList { display: none; }
    MatterPicker.-chosen.-open > OptionList { display: block; }
    MatterPicker > .picker--info { color: $text-muted; height: auto; }
    MatterPicker > .picker--chosen { text-style: bold; height: auto; }
    MatterPicker.-fixed > OptionList, MatterPicker.-fixed > Input { display: none; }
    """

    class Chosen(Message):
        def __init__(self, picker: MatterPicker, matter: Matter) -> None:
            super().__init__()
            self.picker = picker
            self.matter = matter

        @property
        def control(self) -> MatterPicker:
            return self.picker

    def __init__(self, catalogue: Catalogue, lang: str, *, fixed: bool = False,
                 id: str | None = None) -> None:
        super().__init__(id=id, classes="-fixed" if fixed else "")
        self.catalogue = catalogue
        self.lang = lang
        self.chosen: Matter | None = None
        self.search = Input(placeholder=_t("search", lang), compact=True, id="matter-search")

    def compose(self) -> ComposeResult:
        yield self.search
        yield OptionList(*self._options(""), id="matter-list")
        yield Static("", classes="picker--info", markup=False)
        chosen = Static("", classes="picker--chosen", markup=False)
        chosen.display = False
        yield chosen

    def _options(self, text: str) -> list[Option]:
        return [Option(f"{m.code:<8}{m.name(self.lang)}", id=m.code)
                for m in find(self.catalogue, text)]

    @on(Input.Changed, "#matter-search")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        options = self.query_one(OptionList)
        found = self._options(event.value)
        options.set_options(found)
        if found:
            options.highlighted = 0
        else:
            info = self.query_one(".picker--info", Static)
            info.update(_t("none", self.lang))
            info.display = True

    @on(Input.Submitted, "#matter-search")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        option = self.query_one(OptionList).highlighted_option
        if option is not None and option.id:
            self._choose(self.catalogue.get(option.id))

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id and event.option_list.option_count:  # not a stale highlight
            info = self.query_one(".picker--info", Static)
            info.update(describe(self.catalogue.get(event.option.id), self.lang))
            info.display = self.chosen is None or self.chosen.code != event.option.id

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self._choose(self.catalogue.get(event.option.id))

    def on_descendant_focus(self) -> None:
        self.add_class("-open")  # a chosen matter's list folds away until the agent is back

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(lambda: self.set_class(self.has_focus_within, "-open"))

    def action_into_list(self) -> None:
        if self.search.has_focus:
            self.query_one(OptionList).focus()

    def _choose(self, matter: Matter) -> None:
        self.show_chosen(matter)
        self.post_message(self.Chosen(self, matter))

    def show_chosen(self, matter: Matter) -> None:
        """Show ``matter`` as chosen without announcing it (restoring a form)."""
        self.chosen = matter
        self.add_class("-chosen")
        chosen = self.query_one(".picker--chosen", Static)
        chosen.update(f"{_t('chosen', self.lang)}{matter.code} {matter.name(self.lang)}\n"
                      f"{describe(matter, self.lang)}")
        chosen.display = True
        self.query_one(".picker--info", Static).display = False

    def focus_search(self) -> None:
        if not self.has_class("-fixed"):
            self.search.focus()
