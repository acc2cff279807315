"""一次一评: the resident's one rating of a finished service, and closing a poor one's
follow-up with a note saying what was done. The store enforces "once" and "finished"."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, RadioButton, RadioSet

from station.domain.records import RATINGS
from station.store.projection import Record
from station.tui.screens.form_modal import FormModal, Refused
from station.tui.screens.values import rating_text
from station.tui.text import choice_label
from station.tui.widgets.line_input import LineInput
from station.tui.widgets.prose import Prose

TEXT = {
    "title": ("满意度评价", "Satisfaction rating"),
    "grade": ("评价", "Rating"),
    "comment": ("群众意见（可不填）", "What the resident said (optional)"),
    "once": ("每项服务只评价一次；“不满意”会开启差评整改", "Each service is rated once; "
             "“poor” opens a follow-up"),
    "close_title": ("关闭差评整改", "Close the follow-up"),
    "rated": ("群众评价：{rating}", "The resident rated it {rating}"),
    "note": ("整改说明", "What was done about it"),
    "note_hint": ("例如：已上门致歉并重新办理", "e.g. visited, apologised and redid the case"),
}
# Asked here, in words, before the store would refuse an empty grade with its codes.
CHOOSE: tuple[str, str] = (
    "请选择评价：" + "、".join(choice_label(g, "zh") for g in RATINGS),
    "Choose a rating: " + ", ".join(choice_label(g, "en") for g in RATINGS))


class RatingModal(FormModal):
    DEFAULT_CSS = """
    RatingModal #rating-grade { layout: horizontal; height: auto; width: 100%; }
    """
    TITLE_TEXT = TEXT["title"]

    def body(self) -> ComposeResult:
        yield Prose(self.t(TEXT["once"]), id="form-note")
        yield self.label(TEXT["grade"])
        with RadioSet(id="rating-grade"):
            for grade in RATINGS:
                yield RadioButton(choice_label(grade, self.lang), id=f"grade-{grade}")
        yield self.label(TEXT["comment"])
        yield LineInput(id="rating-comment")

    def on_mount(self) -> None:
        self.query_one("#rating-grade", RadioSet).focus()

    def apply(self) -> Record:
        pressed = self.query_one("#rating-grade", RadioSet).pressed_button
        if pressed is None:
            raise Refused(CHOOSE)
        grade = (pressed.id or "").removeprefix("grade-")
        return self.station.rate(self.record.id, grade,
                                 self.query_one("#rating-comment", Input).value)


class FollowupModal(FormModal):
    TITLE_TEXT = TEXT["close_title"]

    def body(self) -> ComposeResult:
        rating = self.record.fields.get("rating") or {}
        yield Prose(self.t(TEXT["rated"]).format(rating=rating_text(rating, self.lang)),
                     id="form-note", markup=False)
        yield self.label(TEXT["note"])
        yield LineInput(placeholder=self.t(TEXT["note_hint"]), id="followup-note")

    def on_mount(self) -> None:
        self.query_one("#followup-note", Input).focus()

    def apply(self) -> Record:
        return self.station.close_followup(self.record.id,
                                           self.query_one("#followup-note", Input).value)
