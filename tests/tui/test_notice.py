"""The one-time notice's save box: its own keys, and why a save failed, in words."""

from __future__ import annotations

import errno
import re
from typing import Any

import pytest
from textual.widgets import Input, Static

from station.domain.errors import os_reason
from station.tui.screens.notice import NoticeScreen, SaveNoticeModal
from station.tui.screens.sync import CannotWrite
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


def test_a_save_that_fails_says_why_in_chinese(village, tmp_path):
    record_id = missing_materials_case(village)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        box = await open_save_box(pilot, app, record_id)
        for path, why in (("/proc/nope/notice.txt", "文件夹不存在"),
                          (str(tmp_path), "这是一个文件夹"),
                          (str(tmp_path / ("长" * 2000) / "n.txt"), "路径太长"),
                          (str(tmp_path / "a\x00b.txt"), "文件名不能用的字符")):
            box.query_one("#save-path", Input).value = path
            await pilot.press("enter")
            await settle(pilot, app)
            assert app.screen is box
            said = str(box.query_one("#save-error", Static).render())
            assert said.startswith("没能保存：") and why in said
            assert not re.search("[A-Za-z]", said)  # no "No such file or directory"

    drive(app, scenario)


@pytest.mark.parametrize(("code", "zh", "en"), [
    (errno.ENOSPC, "磁盘或 U 盘已满", "the disk or USB stick is full"),
    (errno.EROFS, "磁盘或 U 盘是只读的（写保护）", "the disk or USB stick is read-only"),
    (errno.EACCES, "没有权限写入这里", "not allowed to write there"),
])
def test_common_file_errors_are_told_in_words(code, zh, en):
    error = OSError(code, "system text", "/media/usb/V001.stb")
    assert os_reason(error) == (zh, en)
    written = CannotWrite.writing(error, path=error.filename)  # as the sync screen says it
    assert written.message("zh") == f"无法写入 /media/usb/V001.stb：{zh}"
    assert written.message("en") == f"Cannot write /media/usb/V001.stb: {en}"


def test_an_uncommon_file_error_keeps_a_name_to_look_up():
    assert os_reason(OSError(errno.ENXIO, "No such device or address")) == (
        "系统错误（ENXIO）", "No such device or address")


def test_a_saved_notice_is_private_even_over_an_older_open_copy_and_never_follows_a_link(
        village, tmp_path):
    record_id = missing_materials_case(village)
    app = make_app(village, lang="zh")
    old = tmp_path / "旧的告知书.txt"
    old.write_text("old", encoding="utf-8")
    old.chmod(0o644)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not a notice", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(elsewhere)

    async def scenario(pilot):
        box = await open_save_box(pilot, app, record_id)
        box.query_one("#save-path", Input).value = str(link)
        await pilot.press("enter")
        await settle(pilot, app)
        said = str(box.query_one("#save-error", Static).render())
        assert app.screen is box and said.startswith("没能保存：") and "不是普通文件" in said
        box.query_one("#save-path", Input).value = str(old)
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, NoticeScreen)
        assert old.read_text(encoding="utf-8") == app.screen.text

    drive(app, scenario)
    assert old.stat().st_mode & 0o777 == 0o600  # it names a resident: this user only
    assert elsewhere.read_text(encoding="utf-8") == "not a notice"


@pytest.mark.parametrize(("lang", "said"), [("zh", "请先填写文件路径"),
                                            ("en", "Type where to save it first")])
def test_saving_with_no_path_says_to_type_one(village, lang, said):
    record_id = missing_materials_case(village)
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        box = await open_save_box(pilot, app, record_id)
        box.query_one("#save-path", Input).value = "   "
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.screen is box
        assert said in str(box.query_one("#save-error", Static).render())

    drive(app, scenario)


def test_the_save_box_never_replaces_the_stations_database_and_saves_again_in_its_place(
        village, tmp_path):
    record_id = missing_materials_case(village)
    app = make_app(village, lang="zh")
    own = [village.home / "station.db", village.home / "transport.key"]
    other = tmp_path / "BUS01.db"  # another station's database on the same laptop
    other.write_bytes(own[0].read_bytes()[:4096])
    before = {path: path.read_bytes() for path in [*own, other]}

    async def scenario(pilot):
        box = await open_save_box(pilot, app, record_id)
        for path in before:
            box.query_one("#save-path", Input).value = str(path)
            await pilot.press("enter")
            await settle(pilot, app)
            said = str(box.query_one("#save-error", Static).render())
            assert app.screen is box and said.startswith("没能保存：")
            assert "站点自己的文件" in said and "没有写入" in said
        for _ in range(2):  # the place it offers, saved twice: replaced as asked
            box.query_one("#save-path", Input).value = str(box.path)
            await pilot.press("enter")
            await settle(pilot, app)
            assert isinstance(app.screen, NoticeScreen)
            await pilot.press("ctrl+s")
            await settle(pilot, app)
            box = app.screen

    drive(app, scenario)
    assert own[0].read_bytes().startswith(b"SQLite format 3")  # the app itself writes it
    assert all(path.read_bytes() == before[path] for path in [*own[1:], other])
