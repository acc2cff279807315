"""What the application and visit forms share.

- **Inline errors.** Every control sits in a ``FormField`` named after the record field it
  edits; a ``ValidationError``'s problems are shown under their fields (``place_problem``),
  anything without a place in the box at the top, and the first bad field takes the focus.
- **Save with one key** (ctrl+s, in the footer, works while typing).
- **Draft autosave.** A second after typing stops, the form's raw state is kept with
  ``Station.save_draft`` (sealed under the data key like every record: G2 holds for drafts),
  and again when the screen closes (leaving it, quitting the app). A successful save deletes
  the draft. Opening a form finds drafts of its kind (and record) and offers them back.

A form subclass builds its widgets in ``compose`` and keeps references to them, so
``snapshot()`` can still read them while the screen is being unmounted (the app quitting).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, SelectionList, TextArea

from station.domain.english import counted
from station.domain.errors import StationError, ValidationError
from station.domain.validate import Problem, check_id_number
from station.store.errors import Busy
from station.store.projection import Record
from station.store.service import Draft, Summary
from station.tui.screens.base import StationScreen
from station.tui.text import KIND, Pair, pick, status_label
from station.tui.widgets.ask import AskModal
from station.tui.widgets.form_field import FormField
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.materials import MaterialItem
from station.tui.widgets.matter_picker import MatterPicker
from station.tui.widgets.prose import Prose

AUTOSAVE_DELAY = 1.0  # seconds after the last keystroke
AUTOSAVE_WAIT_MS = 200  # for another program's write to end, before trying again later
AUTOSAVE_RETRY = 5.0  # seconds before that next try

TEXT = {
    "restore_title": ("恢复未保存的表单？", "Restore an unsaved form?"),
    "restore_body": ("{when} 有一份未保存的{kind}表单{who}。\n恢复后可以接着填写；丢弃后不可找回。",
                     "An unsaved {kind} form from {when}{who} was kept.\nRestore it to carry "
                     "on, or discard it for good."),
    "restore": ("恢复", "Restore"),
    "discard": ("丢弃", "Discard"),
    "later": ("以后再说", "Later"),
    "restored": ("已恢复未保存的表单。", "The unsaved form is back."),
    "kept": ("表单还没有保存，已暂存（加密）；下次新建时可以恢复。",
             "Not saved yet: the form is kept (encrypted) and offered back next time."),
    "fix": ("有 {n} 处需要修改，见各项下方的红字。", "{n} fields need attention: see the "
            "red lines under them."),
    "fix_one": ("有 1 处需要修改，见下方的红字。", "1 field needs attention: see the red line "
                "under it."),
    "not_kept": ("表单还没有保存，也没能暂存：{e}。表单保持打开，填写的内容都还在；请稍后再关闭，"
                 "或按 Ctrl+S 保存。",
                 "The form is not saved and could not be kept: {e}. It stays open with "
                 "everything you typed; close it again in a moment, or save it with Ctrl+S."),
    "saved": ("已保存：{receipt}", "Saved: {receipt}"),
    "failed": ("没能保存：{e}", "Could not save: {e}"),
    "required": ("{label_zh}不能为空", "{label_en} is required"),
    "known": ("台账中已有此人：{name}（{n} 条记录）{apps}",
              "Known here: {name} ({records}){apps}"),
    "apps": ("\n代办件：{list}", "\napplications: {list}"),
    "filled": ("已按台账填入姓名、电话、住址", "Name, phone and address filled in from the "
               "station's records"),
}
# The person a record is about (the applicant, the visited resident): the same five inputs.
PERSON = (("name", ("姓名", "Name")), ("id_number", ("身份证号", "ID number")),
          ("phone", ("手机号", "Mobile phone")), ("address", ("住址", "Address")),
          ("village_group", ("村民小组", "Village group")))


@dataclass(frozen=True)
class FormProblem:
    """A problem the form itself finds (not one of the domain's ``Problem`` codes)."""

    field: str
    zh: str
    en: str

    def message(self, lang: str = "en") -> str:
        return self.zh if lang == "zh" else self.en


Issue = Problem | FormProblem


def is_blank(value: Any) -> bool:
    """Nothing typed or chosen. Spaces alone count as nothing: the store trims them away,
    so a name of spaces would save a case about nobody."""
    if isinstance(value, str):
        return not value.strip()
    return value in (None, [], False, {})


class FormScreen(StationScreen[None]):
    """A record form; subclasses set ``KIND`` and implement the hooks below."""

    KIND: ClassVar[str] = ""
    PERSON: ClassVar[str] = ""  # the record's person: ``applicant``, ``resident``
    AUTO_FOCUS = ""  # the first field is focused once the form is laid out (``_opened``)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="save", priority=True,
                tooltip="Validate and save the form"),
        Binding("escape", "back", "Back", id="back",
                tooltip="Leave the form (unsaved changes are kept as a draft)"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"save": "保存", "back": "返回"}

    def __init__(self, record_id: str | None = None) -> None:
        super().__init__()
        self.record_id = record_id
        self.record: Record | None = None
        self.draft_id = f"{self.KIND}-{uuid.uuid4()}"
        self.fields: dict[str, FormField] = {}
        self.inputs: dict[str, Input] = {}
        self.general = Prose("", id="form-error", markup=False)
        self._id_hint = ""  # the ID number's own hint, shown when nobody is known under it
        self._blank: dict[str, Any] | None = None  # the form as it opened
        self._kept: dict[str, Any] | None = None   # what the draft holds now
        self._draft_written = False
        self._timer: Timer | None = None
        self._finished = False
        self._load_error: StationError | None = None
        if record_id is not None:
            try:
                record = self.station.get(record_id)
                if record.kind != self.KIND:
                    raise ValidationError([Problem("kind", "choice", {
                        "label_zh": "记录类型", "label_en": "The record kind",
                        "choices": pick(KIND[self.KIND], self.lang)})])
                self.record, self.record_id = record, record.id
            except StationError as exc:  # said on mount, and the form closes
                self._load_error = exc

    # --- what a form defines ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The form's raw state (JSON-ready), read from widget references only."""
        raise NotImplementedError

    def restore(self, values: dict[str, Any]) -> None:
        """Put a snapshot back into the widgets."""
        raise NotImplementedError

    def first_field(self) -> Widget | None:
        """Where the cursor starts."""
        return next((f.control for f in self.fields.values()), None)

    def draft_who(self, values: dict[str, Any]) -> str:
        """Whose form a draft is (a name), to recognise it when it is offered back."""
        return ""

    def place_problem(self, name: str, messages: list[str]) -> Widget | None:
        """Show ``messages`` at the field ``name``; the widget to focus, or None."""
        spot = self.fields.get(name)
        if spot is None:
            return None
        spot.show_error("；".join(messages) if self.lang == "zh" else " ".join(messages))
        return spot.control

    def clear_problems(self) -> None:
        for spot in self.fields.values():
            spot.clear_error()
        self.general.update("")
        self.general.display = False

    # --- building blocks -------------------------------------------------------------------

    def field(self, name: str, label: str, control: Widget, *, hint: str = "") -> FormField:
        spot = FormField(name, label, control, hint=hint)
        self.fields[name] = spot
        return spot

    def person_fields(self, values: dict[str, Any], *,
                      id_hint: str = "") -> Iterator[FormField]:
        """The inputs of the record's person (``PERSON``), filled from ``values``."""
        self._id_hint = id_hint
        for key, label in PERSON:
            name = f"{self.PERSON}.{key}"
            box = self.inputs[name] = LineInput(str(values.get(name) or ""), compact=True,
                                                id=f"f-{key}")
            yield self.field(name, self.t(label), box,
                             hint=id_hint if key == "id_number" else "")

    def required(self, values: dict[str, Any], name: str,
                 label: tuple[str, str]) -> list[Issue]:
        if is_blank(values.get(name)):
            return [Problem(name, "required", {"label_zh": label[0], "label_en": label[1]})]
        return []

    # --- who is this? ------------------------------------------------------------------------

    @on(Input.Changed, "#f-id_number")
    def _known(self, event: Input.Changed) -> None:
        self.look_up_person(event.value)

    def look_up_person(self, typed: str) -> None:
        """A valid ID number, however typed (in groups, full-width): whom the station knows
        under it (一办到底 starts here), with the empty name, phone and address filled in, so
        a resident on record is not typed again on any form. The check is the one saving
        makes, so the hint comes for every number the form would save."""
        spot = self.fields[f"{self.PERSON}.id_number"]
        spot.set_hint(self._id_hint)
        try:
            number = check_id_number(typed, today=self.station.today())
            found = self.station.same_person(number)
        except StationError:
            return
        if not found:
            return
        apps = [s for s in found if s.kind == "application"]
        listing = ("、" if self.lang == "zh" else ", ").join(
            self._app_line(s) for s in apps[:3])
        hint = self.t(TEXT["known"]).format(
            name=found[0].name, n=len(found), records=counted(len(found), "record"),
            apps=self.t(TEXT["apps"]).format(list=listing) if apps else "")
        if self._fill_person(found[0].id):
            hint += "\n" + self.t(TEXT["filled"])
        spot.set_hint(hint)

    def _app_line(self, summary: Summary) -> str:
        """``V001-20261123-0001 Residence permit application (received)``."""
        catalogue = self.station.catalogue
        matter = (catalogue.get(summary.matter).name(self.lang)
                  if summary.matter in catalogue else "")
        open_, close = ("（", "）") if self.lang == "zh" else (" (", ")")
        status = status_label("application", summary.status, self.lang)
        return f"{summary.receipt} {matter}{open_}{status}{close}"

    def _fill_person(self, record_id: str) -> bool:
        """Fill the empty name, phone, address and group from the person's newest record."""
        try:
            person = self.station.get(record_id).person
        except StationError:
            return False
        filled = False
        for key in ("name", "phone", "address", "village_group"):
            box = self.inputs[f"{self.PERSON}.{key}"]
            if not box.value.strip() and person.get(key):
                box.value = str(person[key])
                filled = True
        return filled

    # --- opening: offer drafts back ----------------------------------------------------------

    def on_mount(self) -> None:
        self.general.display = False
        if self._load_error is not None:
            self._finished = True
            self.sapp.say_error(self._load_error)
            self.call_after_refresh(self.app.pop_screen)
            return
        self.call_after_refresh(self._opened)

    def _opened(self) -> None:
        # Focus the first field without Textual's scroll-to-centre, which runs before the
        # first layout and would hide the form's first lines.
        first = self.first_field()
        if first is not None:
            self.set_focus(first, scroll_visible=False)
        for scroller in self.query(VerticalScroll):
            scroller.scroll_home(animate=False, immediate=True)
        if self.record is None and self.PERSON:  # opened for a person (their page's v)
            self.look_up_person(self.inputs[f"{self.PERSON}.id_number"].value)
        self._blank = self.snapshot()
        self._kept = self._blank
        self._offer_draft()

    def _waiting_drafts(self) -> list[Draft]:
        try:
            return [d for d in self.station.drafts()
                    if d.kind == self.KIND and d.record == self.record_id
                    and d.id != self.draft_id]
        except (StationError, sqlite3.Error):
            return []

    def _offer_draft(self) -> None:
        drafts = self._waiting_drafts()
        if not drafts:
            return
        draft = drafts[0]
        who = self.draft_who(draft.values)
        body = self.t(TEXT["restore_body"]).format(
            when=draft.updated[:16].replace("T", " "), kind=pick(KIND[self.KIND], self.lang),
            who=f"（{who}）" if who and self.lang == "zh" else (f" ({who})" if who else ""))
        answers = [("restore", self.t(TEXT["restore"])), ("discard", self.t(TEXT["discard"])),
                   ("later", self.t(TEXT["later"]))]

        def answered(answer: str | None) -> None:
            if answer == "restore":
                self.draft_id = draft.id
                self._draft_written = True
                self.restore(draft.values)
                self._kept = draft.values
                self.notify(self.t(TEXT["restored"]))
            elif answer == "discard":
                try:
                    self.station.delete_draft(draft.id)
                except (StationError, sqlite3.Error) as exc:
                    self.failed(exc)
                    return
                self._offer_draft()

        self.app.push_screen(AskModal(self.t(TEXT["restore_title"]), body, answers), answered)

    # --- autosave ----------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(SelectionList.SelectedChanged)
    @on(TextArea.Changed)
    @on(MaterialItem.Changed)
    @on(MatterPicker.Chosen)
    def _touched(self) -> None:
        if self._finished or self._blank is None:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(AUTOSAVE_DELAY, self._autosave, name="autosave")

    def _autosave(self) -> None:
        """The draft kept a moment after the last keystroke, in the UI thread: it waits only
        briefly for another program's write (an import in a second terminal) and tries
        again a little later, rather than freeze the agent's typing until that one ends."""
        if isinstance(self.keep_draft(wait_ms=AUTOSAVE_WAIT_MS), Busy):
            self._timer = self.set_timer(AUTOSAVE_RETRY, self._autosave, name="autosave")

    def keep_draft(self, *, wait_ms: int | None = None) -> StationError | sqlite3.Error | None:
        """Write the form's state as an encrypted draft if it changed since the last one
        (``wait_ms`` as for ``db.write``). Returns why it could not (another program's long
        write holding the database, a full disk), so that a form being left stays open
        rather than lose what was typed."""
        self._timer = None
        if self._finished or self._blank is None:
            return None
        values = self.snapshot()
        if values == self._kept:
            return None
        try:
            if values == self._blank:
                if self._draft_written:
                    self.station.delete_draft(self.draft_id, wait_ms=wait_ms)
                    self._draft_written = False
            else:
                self.station.save_draft(self.draft_id, self.KIND, values, record=self.record_id,
                                        wait_ms=wait_ms)
                self._draft_written = True
        except (StationError, sqlite3.Error) as exc:  # never lose the form over a draft
            self.log.error(f"draft not kept: {exc!r}")
            return exc
        self._kept = values
        return None

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_unmount(self) -> None:
        """The app is quitting (or the screen was replaced): keep what was typed."""
        if not self._finished:
            self._stop_timer()
            self.keep_draft()

    def kept_for_leaving(self) -> bool:
        """Keep the draft before the form goes (back, or the app quitting). False, said on
        the form, when it could not be kept: closed then, the form would take what was
        typed with it, so it stays open."""
        self._stop_timer()
        trouble = None if self._finished else self.keep_draft()
        if trouble is not None:
            self.failed(trouble, TEXT["not_kept"])
        return trouble is None

    def action_back(self) -> None:
        if not self.kept_for_leaving():
            return
        if not self._finished and self._draft_written:
            self.notify(self.t(TEXT["kept"]), timeout=6)
        self._finished = True
        self.app.pop_screen()

    # --- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        raise NotImplementedError

    def show_problems(self, problems: list[Issue]) -> None:
        by_field: dict[str, list[str]] = defaultdict(list)
        for problem in problems:
            message = problem.message(self.lang)
            if message not in by_field[problem.field]:
                by_field[problem.field].append(message)
        targets: list[Widget] = []
        general: list[str] = []
        for name, messages in by_field.items():
            target = self.place_problem(name, messages)
            if target is None:
                general.extend(messages)
            else:
                targets.append(target)
        first = self._topmost(targets)
        if general:
            self.show_general("\n".join(general))
        self.notify(self.t(TEXT["fix" if len(by_field) != 1 else "fix_one"]).format(
            n=len(by_field)), severity="warning")
        if first is not None:
            first.focus()
            first.scroll_visible()
        elif general:
            self.general.scroll_visible()

    def _topmost(self, targets: list[Widget]) -> Widget | None:
        """The bad field highest on the form: the agent fixes them going down, as Tab
        goes, and is not sent back up past one still red (a material's date above the
        applicant's name)."""
        chain = self.focus_chain
        return min(targets, key=lambda w: chain.index(w) if w in chain else len(chain),
                   default=None)

    def show_general(self, message: str) -> None:
        self.general.update(message)
        self.general.display = True
        self.general.scroll_visible()

    def failed(self, error: StationError | sqlite3.Error | OSError,
               said: Pair = TEXT["failed"]) -> None:
        """A refusal with no field to show it at: the box at the top, and a notification
        (``said`` puts the error in its sentence)."""
        text = error.message(self.lang) if isinstance(error, StationError) else str(error)
        self.show_general(text)
        self.notify(self.t(said).format(e=text), severity="error", timeout=8)

    def finish(self, record: Record, *, notice: bool = False, saved: bool = True) -> None:
        """Saved: forget the draft, say so, and go to the record (the notice first)."""
        self._finished = True
        self._stop_timer()
        try:
            self.station.delete_draft(self.draft_id)
        except (StationError, sqlite3.Error) as exc:
            self.log.error(f"draft not deleted: {exc!r}")
        if saved:
            self.notify(self.t(TEXT["saved"]).format(receipt=record.receipt or record.id[:8]))
        from station.tui.screens import make_record

        if self.record_id and self._came_from_record():
            self.app.pop_screen()
        else:
            self.app.switch_screen(make_record(record.id))
        if notice:
            from station.tui.screens.notice import NoticeScreen

            self.app.push_screen(NoticeScreen(record.id))

    def _came_from_record(self) -> bool:
        """Editing from the record's own screen: going back shows it (it refreshes)."""
        stack = self.app.screen_stack
        below = stack[-2] if len(stack) > 1 else None
        return below is not None and getattr(below, "record_id", None) == self.record_id
