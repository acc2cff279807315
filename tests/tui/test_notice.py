"""The one-time notice's save box: its own keys, and why a save failed, in words."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input

from station.tui.screens.notice import NoticeScreen, SaveNoticeModal
from tests.tui.conftest import drive, footer_text, make_app, settle


def missing_materials_case(station: Any) -> str:
    return next(s.id for s in station.list(kind="application")
                if s.status == "awaiting_materials")


async def open_save_box(pilot: Any, app: Any, record_id: str) -> SaveNoticeModal:
    app.push_screen(NoticeScreen(record_id))
    await settle(pilot, app)
    await pilot.press("ctrl+s")
    await settle(pilot, app)
    box = app.screen
    assert isinstance(box, SaveNoticeModal)
    return box


def test_the_save_box_has_its_own_keys_and_ctrl_s_saves(village, tmp_path):
    record_id = missing_materials_case(village)
    app = make_app(village, lang="zh")
    target = tmp_path / "告知书.txt"

    async def scenario(pilot):
        box = await open_save_box(pilot, app, record_id)
        footer = footer_text(app)
        assert "^s 保存" in footer and "esc 取消" in footer
        assert "保存为文件" not in footer and "关闭" not in footer
        box.query_one("#save-path", Input).value = str(target)
        await pilot.press("ctrl+s")  # the key that opened the box saves in it too
        await settle(pilot, app)
        assert isinstance(app.screen, NoticeScreen)
        assert target.read_text(encoding="utf-8") == app.screen.text

    drive(app, scenario)
