"""The one-time notice (一次告知): everything still missing for an application, on one page.

When a case is received with materials missing, the resident is told *once*, completely,
what to bring and by when. This page lists the matter, the applicant, every missing
material with its promised date, the promised completion date, the station and agent, the
receipt number and today's date, in the app's language. It is plain text on purpose (no
PDF): it prints from any computer, and ``notice_text`` gives the same page to the CLI.

Saving it writes a UTF-8 .txt file (asked for with a path, by default
``<home>/notices/<receipt>.txt``, readable by this user only). That file is personal data
outside the vault: the save dialog says so.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, Label, Static

from station.domain.casework import missing_materials
from station.domain.errors import StationError, os_reason
from station.domain.workdays import ESTIMATE
from station.store.errors import (
    NotAFile,
    OverStationFile,
    refuse_non_file,
    refuse_nul,
    refuse_station_file,
)
from station.store.home import write_private
from station.store.projection import Record
from station.store.service import Station
from station.tui.screens.base import StationModal, StationScreen
from station.tui.text import pick
from station.tui.widgets.prose import Prose

TEXT = {
    "title": ("一次性告知书", "One-time notice of missing materials"),
    "receipt": ("受理编号", "Receipt no."),
    "date": ("日期", "Date"),
    "matter": ("办理事项", "Matter"),
    "department": ("办理部门", "Department"),
    "applicant": ("申请人", "Applicant"),
    "intro": ("您委托本站代办的上述事项，尚缺以下材料。本告知书一次性列明所缺的全部材料，"
              "请在承诺日期前交到本站：",
              "For the matter above, which this station handles on your behalf, the "
              "materials below are still missing. This notice lists every missing material "
              "at once; please bring them to the station by the promised dates:"),
    "by": ("承诺补齐日期", "promised by"),
    "essential": ("必要材料，收齐后方可受理", "essential: the case is received once it is in"),
    "complete": ("所需材料已全部收齐。", "All the materials are in."),
    "promised": ("承诺办结时限", "Promised completion"),
    "promised_after": ("（暂定：必要材料收齐、正式受理后重新起算）",
                       " (provisional: counted again once the essential materials are in "
                       "and the case is received)"),
    "station": ("便民服务站", "Service station"),
    "agent": ("代办员", "Proxy agent"),
    "keep": ("请妥善保管本告知书；如有疑问请与代办员联系。",
             "Please keep this notice; ask the proxy agent if anything is unclear."),
    "sub": ("一次告知", "One-time notice"),
    "save_title": ("保存告知书（文本文件）", "Save the notice (text file)"),
    "save_hint": ("文件为明文，含申请人姓名：打印后请妥善保管或删除。回车保存，Esc 取消。",
                  "The file is plain text with the applicant's name: keep it safe or delete "
                  "it after printing. Enter saves, Esc cancels."),
    "saved": ("告知书已保存到 {path}", "Notice saved to {path}"),
    "not_saved": ("没能保存：{e}", "Could not save: {e}"),
    "no_path": ("请先填写文件路径，例如 U 盘上的 告知书.txt。",
                "Type where to save it first, such as notice.txt on a USB stick."),
    "none": ("（无）", "(none)"),
}


def _t(key: str, lang: str) -> str:
    return pick(TEXT[key], lang)


WIDTH = 72  # terminal cells (a Chinese character takes two): prints on A4 from Notepad
_NO_LINE_START = set("，。、：；！？）》」』”’,.;:!?)")


def wrap(text: str, *, indent: int = 0, width: int = WIDTH) -> list[str]:
    """Lines of at most ``width`` cells. Chinese breaks between characters (never before
    closing punctuation), other text between words; continuation lines are indented."""
    lines: list[str] = []
    line, size = "", 0
    pad = " " * indent
    tokens = re.findall(r"[\x00-\u2e7f]+?(?=\s|[^\x00-\u2e7f]|$)\s*|.", text)
    for token in tokens:
        wide = cell_len(token.rstrip())
        if line and size + wide > width and token[0] not in _NO_LINE_START:
            lines.append(line.rstrip())
            line, size = pad, indent
            token = token.lstrip()
            wide = cell_len(token.rstrip())
        line += token
        size += cell_len(token)
    if line.strip():
        lines.append(line.rstrip())
    return lines


def notice_text(station: Station, record: Record, lang: str) -> str:
    """The notice as plain text (the same on screen, in the file and from the CLI)."""
    fields = record.fields
    colon = "：" if lang == "zh" else ": "
    code = fields.get("matter") or ""
    matter = station.catalogue.get(code) if code in station.catalogue else None
    lines = [_t("title", lang), "=" * cell_len(_t("title", lang)), ""]

    def line(key: str, value: str) -> None:
        lines.extend(wrap(f"{_t(key, lang)}{colon}{value or _t('none', lang)}", indent=2))

    line("receipt", record.receipt or "")
    line("date", station.today().isoformat())
    line("matter", f"{code} {matter.name(lang)}" if matter else code)
    if matter is not None:
        line("department", matter.department(lang))
    line("applicant", str(fields.get("applicant.name") or ""))
    lines.append("")
    received = set(fields.get("materials.received") or [])
    essential, optional = missing_materials(matter, received) if matter else ([], [])
    if essential or optional:
        lines.extend(wrap(_t("intro", lang)))
        for n, mcode in enumerate([*essential, *optional], start=1):
            assert matter is not None
            material = matter.material(mcode)
            if material.essential:
                when = _t("essential", lang)
            else:
                when = f"{_t('by', lang)}{colon}{fields.get(f'materials.due.{mcode}') or '—'}"
            sep = "　" if lang == "zh" else " — "
            lines.extend(wrap(f"  {n}. {material.name(lang)}{sep}{when}", indent=5))
    else:
        lines.append(_t("complete", lang))
    lines.append("")
    promised = str(fields.get("promised_date") or "")
    estimate = pick(ESTIMATE, lang) if station.promise_estimated(record) else ""
    lines.extend(wrap(f"{_t('promised', lang)}{colon}{promised or _t('none', lang)}{estimate}"
                      + (_t("promised_after", lang) if essential and promised else ""),
                      indent=2))
    lines.append("")
    line("station", f"{station.station_name}（{station.station_id}）" if lang == "zh"
         else f"{station.station_name} ({station.station_id})")
    line("agent", str(fields.get("agent") or station.agent))
    lines.append("")
    lines.extend(wrap(_t("keep", lang)))
    return "\n".join(lines) + "\n"


def default_path(station: Station, record: Record) -> Path:
    name = (record.receipt or record.id).replace("/", "-")
    return station.home / "notices" / f"{name}.txt"


def write_notice(path: Path, text: str, home: Path) -> Path:
    """Write the notice as UTF-8, readable by this user only (it names a resident) even
    when it replaces an older, world-readable copy, and whole or not at all. A device, a
    folder or a link at that name is refused (``NotAFile``), never written through, and so
    is a file of the station in ``home`` or a database (``OverStationFile``)."""
    refuse_nul(path)
    path = path.expanduser()
    refuse_station_file(path, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():  # told in words like any other OSError: "this is a folder"
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    refuse_non_file(path)
    write_private(path, text.encode("utf-8"))
    return path


class NoticeScreen(StationScreen[None]):
    """The notice of one application, ready to read out, save and print."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save as file", id="save-notice", priority=True,
                tooltip="Save the notice as a UTF-8 text file to print"),
        Binding("escape", "close", "Close", id="close"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"save-notice": "保存为文件", "close": "关闭"}
    DEFAULT_CSS = """
    NoticeScreen #notice-page { padding: 1 2; }
    NoticeScreen #notice-text { width: 100%; max-width: 90; }
    """

    def __init__(self, record_id: str) -> None:
        super().__init__()
        self.record_id = record_id
        self.text = ""
        self.record: Record | None = None
        self.problem: StationError | None = None
        self.read_notice()

    def read_notice(self) -> None:
        """The record as it stands now, and its notice (or why there is none)."""
        try:
            self.record = self.station.get(self.record_id)
            self.text = notice_text(self.station, self.record, self.lang)
            self.problem = None
        except StationError as exc:
            self.problem = exc

    def page(self) -> str:
        return self.text or (self.problem.message(self.lang) if self.problem else "")

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="notice-page"):
            yield Static(self.page(), id="notice-text", markup=False)
        yield Footer()

    def on_screen_resume(self) -> None:
        self.reread()  # the save box closed: a merge may have come while it was open

    def reread(self) -> None:
        """A background merge (what a cron sync kept) may have brought a material the bus
        collected: the notice must not tell the resident to bring it again."""
        self.read_notice()
        self.query_one("#notice-text", Static).update(self.page())

    def on_mount(self) -> None:
        self.sub_title = self.t(TEXT["sub"])
        self.query_one("#notice-page").focus()

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_save(self) -> None:
        if self.record is None:
            return
        self.app.push_screen(SaveNoticeModal(default_path(self.station, self.record),
                                             self.text))


class SaveNoticeModal(StationModal[Path | None]):
    """Where to write the notice: a path, with the default filled in. Enter or Ctrl+S
    saves (Ctrl+S is what opened the box, so a second one is what agents press), Esc
    cancels; its own footer says so instead of the notice page's keys under it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="save", priority=True),
        Binding("escape", "dismiss(None)", "Cancel", id="cancel"),
    ]
    BINDING_ZH: ClassVar[dict[str, str]] = {"save": "保存", "cancel": "取消"}
    DEFAULT_CSS = """
    SaveNoticeModal { align: center middle; }
    SaveNoticeModal > #save-box {
        width: 72; max-width: 100%; height: auto; border: thick $primary;
        background: $surface; padding: 1 2;
    }
    SaveNoticeModal #save-title { text-style: bold; }
    SaveNoticeModal #save-hint { color: $text-muted; margin: 1 0; }
    SaveNoticeModal #save-error { color: $text-error; }
    """

    def __init__(self, path: Path, text: str) -> None:
        super().__init__()
        self.path = path
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box"):
            yield Label(self.t(TEXT["save_title"]), id="save-title")
            yield Prose(self.t(TEXT["save_hint"]), id="save-hint", markup=False)
            yield Input(str(self.path), id="save-path", select_on_focus=False)
            yield Prose("", id="save-error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    @on(Input.Submitted, "#save-path")
    def _submitted(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        raw = self.query_one("#save-path", Input).value.strip()
        error = self.query_one("#save-error", Static)
        if not raw:  # Enter on an emptied box: said, not a key that does nothing
            error.update(self.t(TEXT["no_path"]))
            return
        try:  # a folder, a missing or read-only drive: os_reason says which, in words
            written = write_notice(Path(raw), self.text, self.station.home)
        except OSError as exc:
            error.update(self.t(TEXT["not_saved"]).format(e=self.t(os_reason(exc))))
            return
        except (NotAFile, OverStationFile) as exc:
            error.update(self.t(TEXT["not_saved"]).format(e=exc.message(self.lang)))
            return
        self.notify(self.t(TEXT["saved"]).format(path=written), timeout=8)
        self.dismiss(written)
