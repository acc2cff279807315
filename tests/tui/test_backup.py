"""A backup from the app: the agent's way to the copy the error messages tell them to
restore, without the command line."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import Input, Static

from station.store.backup import restore
from station.store.service import Station
from station.tui.screens.backup import BackupModal
from tests.conftest import PASSPHRASE
from tests.tui.conftest import drive, footer_cut, lines_of, make_app, settle


def test_b_on_the_dashboard_backs_up_into_the_folder_typed(village, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    names = {s.name for s in village.list(kind="resident")}
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        assert "备份：按 b" in str(app.screen.query_one("#dash-sync", Static).render())
        await pilot.press("b")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, BackupModal)
        folder = modal.query_one("#backup-folder", Input)
        for typed, said in (("", "请先填写文件夹"), (str(a_file), "不是文件夹"),
                            (f"{stick}\x00", "文件名不能用的字符")):
            folder.value = typed
            folder.focus()
            await pilot.press("enter")
            await settle(pilot, app)
            assert app.screen is modal, typed
            assert said in str(modal.query_one("#backup-said", Static).render())
        folder.value = str(stick)
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.screen is not modal
        assert any("已备份到" in n.message for n in app._notifications)

    drive(app, scenario, size=(80, 24))
    (made,) = stick.iterdir()
    raw = (made / "station.db").read_bytes()
    assert names and not any(name.encode() in raw for name in names)  # G2
    station_id = restore(made, tmp_path / "new-laptop").station
    again = Station.open(tmp_path / "new-laptop", PASSPHRASE)
    assert station_id == "V001" and {s.name for s in again.list(kind="resident")} == names
    again.close()


def test_the_palette_offers_the_backup_and_the_footer_still_fits(village):
    app = make_app(village, lang="en")

    async def scenario(pilot):
        await settle(pilot, app)
        assert footer_cut(app) == []
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        (backup,) = [c for c in app.get_system_commands(app.screen) if c.title == "Backup"]
        backup.callback()
        await settle(pilot, app)
        assert isinstance(app.screen, BackupModal)
        await pilot.press("escape")
        await settle(pilot, app)
        assert not isinstance(app.screen, BackupModal)

    drive(app, scenario, size=(80, 24))



def test_the_box_offers_the_folder_the_last_backup_went_into_even_after_a_restart(village,
                                                                                tmp_path):
    stick, elsewhere = tmp_path / "usb", tmp_path / "missing" / "usb"
    stick.mkdir()
    village.close()

    def back_up_into(folder, *, offered):
        """One run of the app, on the station opened again as at each start."""
        app = make_app(Station.open(village.home, PASSPHRASE), lang="en")

        async def scenario(pilot):
            await settle(pilot, app)
            await pilot.press("b")
            await settle(pilot, app)
            box = app.screen.query_one("#backup-folder", Input)
            assert box.value == str(offered)
            box.value = str(folder)
            await pilot.press("enter")
            await settle(pilot, app)

        drive(app, scenario, size=(80, 24))

    back_up_into(stick, offered=Path.home())
    back_up_into(elsewhere, offered=stick)  # a folder that fails is not remembered
    back_up_into(stick, offered=stick)
    assert len(list(stick.iterdir())) == 2


def test_the_box_keeps_u_pan_on_one_line(village):
    """The note broke at the space in "U 盘" (USB stick) at 80 columns: "请放在 U" ended
    one line and "盘等另一处保管" began the next, two words where there is one."""
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("b")
        await settle(pilot, app)
        lines = lines_of(app.screen.query_one("#backup-note", Static))
        assert len(lines) > 1 and any("U 盘" in line for line in lines)
        assert not any(line.endswith("U") or line.startswith("盘") for line in lines)

    drive(app, scenario, size=(80, 24))
