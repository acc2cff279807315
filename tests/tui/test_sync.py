"""The sync screen against a real centre (uvicorn in a process of its own, SQLite, a free port
on 127.0.0.1 — the way tests/e2e starts it; no mocked server): sync now, a centre that is
down, bundles there and back, a station not yet enrolled. All at 80×24."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.widgets import Input, RichLog, Static

from station.store.service import Station
from station.store.syncstate import SyncState
from station.store.vault import FAST_KDF
from station.sync.bundle import upload_bundle
from station.sync.client import enroll
from station.sync.engine import sync_once
from station.sync.transport import CentreClient
from station.tui.app import StationApp
from station.tui.screens.sync import SyncScreen
from station.tui.widgets.record_table import RecordTable
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, link, running_centre
from tests.tui.conftest import drive, footer_cut, footer_text, make_app, settle, toasts

SIZE = (80, 24)
APPLICATION = {
    "matter": "HJ-001", "applicant.name": "王桂英", "applicant.id_number": "11010519491231002X",
    "applicant.phone": "13912345678", "applicant.address": "青石村三组 12 号",
    "materials.received": ["M01", "M02"],
    "materials.due": {"M03": str(dt.date.today() + dt.timedelta(days=14)),
                      "M04": str(dt.date.today() + dt.timedelta(days=14))},
}
VISIT = {"resident.name": "赵秀兰", "reason": "elderly", "services": ["consultation"],
         "scheduled_at": f"{dt.date.today() - dt.timedelta(days=1)}T09:00",
         "result": "已解答服务对象咨询的问题"}


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[LiveCentre]:
    """A real centre process (``tests.e2e.run_centre``) on SQLite."""
    with running_centre(tmp_path, f"sqlite:///{tmp_path / 'centre.db'}") as live:
        yield live


def enrolled(tmp_path: Path, centre: LiveCentre, station_id: str,
             scope: list[str] | None = None) -> Station:
    station, _ = Station.init(tmp_path / station_id, station_id=station_id,
                              name="青石村便民服务站" if station_id == "V001" else "便民服务直通车",
                              agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF)
    enroll(station, centre.code(station_id, scope))
    return station


def log_text(screen: SyncScreen) -> str:
    """The log as written (RichLog wraps its lines to the 80-column screen)."""
    assert screen.query_one("#sync-log", RichLog).lines  # and it is on screen
    return "\n".join(screen.history)


async def wait_for(pilot, screen: SyncScreen, text: str, timeout: float = 30.0) -> str:
    """Until ``text`` is in the log (the worker posts, the screen writes)."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        shown = log_text(screen)
        if text in shown:
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in the log:\n{shown}")
        await asyncio.sleep(0.05)


def test_sync_now_pushes_and_pulls_against_a_real_centre(tmp_path, centre):
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001", "V002"])
    visit = bus.create("visit", VISIT, scope="V001")  # made on the bus, for the village
    with link(bus) as lk:
        sync_once(bus.sync, lk, station=bus)
    record = village.create("application", APPLICATION)
    assert village.sync.unsent() == 1
    china = dt.timezone(dt.timedelta(hours=8))  # the station's zone, not this machine's (UTC)
    village.now = lambda: dt.datetime.now(china)
    app = make_app(village)

    async def scenario(pilot):
        await pilot.press("s")  # the dashboard's key for the sync screen
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        assert "reachable" in str(screen.query_one("#sync-centre", Static).render())
        assert "Not sent: 1" in str(screen.query_one("#sync-state", Static).render())
        await pilot.press("s")
        shown = await wait_for(pilot, screen, "Sync done:")
        await settle(pilot, app)
        assert "Sync done: pushed 1, pulled 1, conflicts 0" in shown
        assert f"Syncing with {centre.url}: 1 change to send" in shown  # not '1 changes'
        assert "Sent 1/1" in shown and "Received" in shown
        assert "Traceback" not in shown
        assert village.sync.unsent() == 0
        assert "Not sent: 0" in str(screen.query_one("#sync-state", Static).render())
        assert not screen.busy
        ended = dt.datetime.fromisoformat(village.sync.last_sync()[0]).astimezone(china)
        local = ended.strftime("%Y-%m-%d %H:%M")  # when the sync ended, on the station's clock
        assert f"last sync: {local}" in str(screen.query_one("#sync-state", Static).render())
        await pilot.press("escape")
        await settle(pilot, app)
        assert str(app.screen.query_one("#dash-sync", Static).render()) == (
            f"Last sync: {local} · back up: b")

    drive(app, scenario, size=SIZE)
    reopened = Station.open(tmp_path / "V001", PASSPHRASE)
    try:
        assert reopened.get(visit.id).fields["resident.name"] == "赵秀兰"  # the pull landed
        assert reopened.get(record.id).receipt == record.receipt
    finally:
        reopened.close()
    bus.close()


def test_a_centre_that_is_down_is_a_sentence_and_nothing_is_lost(tmp_path, centre):
    village = enrolled(tmp_path, centre, "V001")
    centre.process.terminate()
    centre.process.wait(timeout=10)
    record = village.create("application", APPLICATION)
    app = make_app(village, lang="zh")

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        probe = str(screen.query_one("#sync-centre", Static).render())
        assert "无法连接镇中心（没有网络，或镇中心没有运行" in probe
        await pilot.press("s")
        shown = await wait_for(pilot, screen, "同步没有完成")
        await settle(pilot, app)
        assert "无法连接镇中心" in shown and "未发送的工作都还在" in shown
        assert "Traceback" not in shown and "Error:" not in shown
        assert not screen.busy  # and it can be tried again

    drive(app, scenario, size=SIZE)
    reopened = Station.open(tmp_path / "V001", PASSPHRASE)
    try:
        assert reopened.sync.unsent() == 1  # still in the outbox for the next try
        assert reopened.get(record.id).fields["applicant.name"] == "王桂英"
    finally:
        reopened.close()


def test_a_bundle_goes_to_town_and_its_reply_comes_back(tmp_path, centre):
    village = enrolled(tmp_path, centre, "V001")
    record = village.create("application", APPLICATION)
    bundle = tmp_path / "usb" / "V001.stb"
    bundle.parent.mkdir()
    app = make_app(village)

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        screen.query_one("#sync-export", Input).focus()
        screen.query_one("#sync-export", Input).value = str(bundle)
        await pilot.press("enter")  # typing a path and pressing enter exports to it
        shown = await wait_for(pilot, screen, "Exported 1 change to")
        await settle(pilot, app)
        assert "station bundle upload" in shown
        reply = screen.query_one("#sync-import", Input).value
        assert reply == str(bundle.with_name("V001.reply.stb"))
        # a connected computer in town uploads it (no keys needed) and saves the reply
        with CentreClient(centre.url) as town:
            result = upload_bundle(bundle, town)
        assert result.accepted == 1 and result.reply == Path(reply)
        await pilot.press("escape")  # out of the path field: the keys are the screen's again
        assert isinstance(app.screen, SyncScreen)
        await pilot.press("i")
        shown = await wait_for(pilot, screen, "Imported the bundle:")
        await settle(pilot, app)
        assert "Traceback" not in shown

    drive(app, scenario, size=SIZE)
    assert bundle.exists()
    reopened = Station.open(tmp_path / "V001", PASSPHRASE)
    try:
        assert reopened.get(record.id).receipt == record.receipt
        assert reopened.sync.cursor() > 0  # the reply's batches were applied
    finally:
        reopened.close()


def test_a_bundle_to_a_missing_folder_or_file_is_a_sentence(tmp_path, centre):
    village = enrolled(tmp_path, centre, "V001")
    village.create("application", APPLICATION)
    app = make_app(village)

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        screen.query_one("#sync-export", Input).value = str(tmp_path / "no-usb" / "x.stb")
        await pilot.press("e")
        await wait_for(pilot, screen, "Cannot write")
        screen.query_one("#sync-import", Input).value = str(tmp_path / "nothing.stb")
        await pilot.press("i")
        await wait_for(pilot, screen, "There is no file")
        junk = tmp_path / "junk.stb"
        junk.write_bytes(b"not a bundle at all")
        screen.query_one("#sync-import", Input).value = str(junk)
        await pilot.press("i")
        shown = await wait_for(pilot, screen, "is not a station bundle (perhaps the wrong file")
        await settle(pilot, app)
        assert "Traceback" not in shown
        assert not screen.busy

    drive(app, scenario, size=SIZE)
    reopened = Station.open(tmp_path / "V001", PASSPHRASE)
    try:
        assert reopened.sync.unsent() == 1
    finally:
        reopened.close()


@pytest.mark.parametrize("typed", ["x" * 10_000, "/proc/1/root/x.stb"],
                         ids=["pasted-paragraph", "closed-folder"])
def test_a_path_no_file_system_takes_is_no_file_not_a_crash(village, typed):
    """A paragraph pasted into the import path (too long for any file system), or a
    folder that cannot be entered: the log says there is no such file, the app stays."""
    app = make_app(village)

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        screen.query_one("#sync-import", Input).value = typed
        await pilot.press("i")
        shown = await wait_for(pilot, screen, "There is no file")
        assert app.screen is screen and not screen.busy
        assert "Error" not in shown

    drive(app, scenario, size=SIZE)


def test_log_lines_break_between_chinese_characters_not_only_at_spaces():
    from rich.text import Text

    from station.tui.widgets.prose import wrap

    text = Text("04:02:20 本站尚未登记到镇中心，不能同步。请运行 station enroll 登记码")
    lines = [line.plain for line in wrap(text, 20)]
    assert lines[0] == "04:02:20 本站尚未登"  # not the time alone on its line
    assert all(cell_len(line) <= 20 for line in lines)
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert "".join(lines).replace(" ", "") == text.plain.replace(" ", "")
    assert [line.plain for line in wrap(Text("a " * 3 + "x" * 12), 5)] == \
        ["a a a", "xxxxx", "xxxxx", "xx"]


def test_a_station_not_enrolled_says_how_to_enroll(village):
    app = make_app(village)

    async def scenario(pilot):
        await pilot.press("s")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, SyncScreen)
        shown = log_text(screen)
        assert "not enrolled" in shown and "station enroll CODE" in shown
        await pilot.press("s")
        shown = await wait_for(pilot, screen, "The sync did not finish")
        await settle(pilot, app)
        assert "Traceback" not in shown
        assert "Nothing is lost" not in shown  # nothing to do with the link: say how instead
        # the same from the command palette, by name
        await pilot.press("ctrl+p")
        await pilot.press(*"Sync now", "enter")
        await settle(pilot, app)
        assert app.screen is screen
        assert log_text(screen).count("The sync did not finish") == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, SyncScreen)

    drive(app, scenario, size=SIZE)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_snapshot_of_a_station_not_enrolled(village, snap_compare, lang):
    async def open_sync(pilot):
        await pilot.press("s")
        await settle(pilot, pilot.app)
        screen = pilot.app.screen
        screen.query_one("#sync-export", Input).value = "/media/usb/V001.stb"
        screen.query_one("#sync-import", Input).value = "/media/usb/V001.reply.stb"
        await pilot.press("s")
        await wait_for(pilot, screen, "did not finish" if lang == "en" else "没有完成")
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(village, lang=lang), terminal_size=SIZE, run_before=open_sync)


def test_what_arrived_while_locked_merges_at_unlock(tmp_path, centre):
    """An unattended sync (cron, no passphrase) kept the bus's visit sealed in the inbox and
    said "waiting for unlock": unlocking the app merges it, says so, and the visits list
    then shows it."""
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
    bus.create("visit", VISIT, scope="V001")
    with link(bus) as lk:
        sync_once(bus.sync, lk, station=bus)
    home = village.home
    village.close()
    locked = SyncState.open_locked(home)
    with CentreClient(centre.url, station="V001", signer=locked.transport()) as lk:
        assert sync_once(locked, lk).kept_locked >= 1
    locked.close()
    app = make_app(None, home=home, lang="zh")

    async def scenario(pilot):
        await pilot.click("#passphrase")
        await pilot.press(*PASSPHRASE, "enter")
        await settle(pilot, app)
        assert any("已合并锁定期间收到的更新：已接收 1 条" in t for t in toasts(app))
        await pilot.press("v")  # the dashboard's key for the visits list
        await settle(pilot, app)
        assert app.screen.query_one(RecordTable).row_count == 1

    drive(app, scenario, size=SIZE)
    with Station.open(home, PASSPHRASE) as again:
        assert again.sync.kept_batches() == []
    bus.close()


def test_what_a_background_sync_keeps_while_the_app_is_open_merges_without_unlocking(
        tmp_path, centre, monkeypatch):
    """Cron runs `station sync --unattended` while the agent has the app open: what it kept
    in the inbox merges within the app's next check, says so, and the visits list open on
    the screen shows it, with no lock and unlock, no manual sync and no reopening."""
    monkeypatch.setattr(StationApp, "KEPT_CHECK_S", 0.3)
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
    bus.create("visit", VISIT, scope="V001")
    with link(bus) as lk:
        sync_once(bus.sync, lk, station=bus)
    app = make_app(village)

    async def scenario(pilot):
        await settle(pilot, app)
        await pilot.press("v")  # the visits list is open, still empty, when cron runs
        await settle(pilot, app)
        assert app.screen.query_one(RecordTable).row_count == 0
        locked = SyncState.open_locked(village.home)  # the cron job, another process
        with CentreClient(centre.url, station="V001", signer=locked.transport()) as lk:
            assert sync_once(locked, lk).kept_locked >= 1
        locked.close()
        await pilot.pause(1.0)
        await settle(pilot, app)
        assert any("Merged" in t and "pulled 1" in t for t in toasts(app))
        assert app.screen.query_one(RecordTable).row_count == 1  # without leaving the list

    drive(app, scenario, size=SIZE)
    with Station.open(village.home, PASSPHRASE) as again:
        assert again.sync.kept_batches() == []
    bus.close()


def test_a_damaged_kept_batch_is_said_at_unlock_and_the_next_sync_brings_it(tmp_path, centre):
    """Bit rot in what the unattended sync kept: unlocking says the batch was set aside and
    will come again (a warning, not a merge that silently brought less), and the sync
    screen's next sync brings the bus's visit after all."""
    village = enrolled(tmp_path, centre, "V001")
    bus = enrolled(tmp_path, centre, "BUS01", ["V001"])
    bus.create("visit", VISIT, scope="V001")
    with link(bus) as lk:
        sync_once(bus.sync, lk, station=bus)
    home = village.home
    village.close()
    locked = SyncState.open_locked(home)
    with CentreClient(centre.url, station="V001", signer=locked.transport()) as lk:
        sync_once(locked, lk)
    for kept in locked.kept_batches():
        blob = kept.sealed
        with locked.db.conn:
            locked.db.execute("UPDATE inbox SET sealed=? WHERE seq=?",
                              [blob[:-8] + bytes(b ^ 1 for b in blob[-8:]), kept.seq])
    locked.close()
    app = make_app(None, home=home)

    async def scenario(pilot):
        await pilot.click("#passphrase")
        await pilot.press(*PASSPHRASE, "enter")
        await settle(pilot, app)
        assert any("were damaged and set aside: their updates are pulled again" in t
                   for t in toasts(app))
        assert not any("Merged" in t for t in toasts(app))
        await pilot.press("s")
        await settle(pilot, app)
        screen = app.screen
        await pilot.press("s")
        await wait_for(pilot, screen, "Sync done:")
        await settle(pilot, app)
        await pilot.press("escape", "v")
        await settle(pilot, app)
        assert app.screen.query_one(RecordTable).row_count == 1

    drive(app, scenario, size=SIZE)
    bus.close()


@pytest.mark.parametrize(("lang", "why"), [
    ("en", "the path holds a character no file name can"), ("zh", "路径中有文件名不能用的字符")])
def test_a_nul_in_the_export_path_is_a_sentence_in_both_languages(tmp_path, centre, lang, why):
    """A NUL pasted into the export path (the OS refuses it with ValueError, not OSError)
    is the same sentence the notice box gives, not "Internal error: ValueError"; the
    change stays in the outbox for a good path."""
    village = enrolled(tmp_path, centre, "V001")
    village.create("application", APPLICATION)
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        screen.query_one("#sync-export", Input).value = str(tmp_path / "a\x00b.stb")
        await pilot.press("e")
        shown = await wait_for(pilot, screen, why)
        await settle(pilot, app)
        assert "Internal" not in shown and "内部错误" not in shown
        assert "ValueError" not in shown and "\x00" not in shown
        assert app.screen is screen and not screen.busy

    drive(app, scenario, size=SIZE)
    reopened = Station.open(tmp_path / "V001", PASSPHRASE)
    try:
        assert reopened.sync.unsent() == 1
    finally:
        reopened.close()
    assert not list(tmp_path.glob("a*"))


@pytest.mark.parametrize(("lang", "key", "queued", "done"), [
    ("en", "r Resend", "2 refused changes are queued again", "Sync done: pushed 2"),
    ("zh", "r 重发被拒", "2 条被拒的变更重新排队", "同步完成：已发送 2 条")])
def test_work_the_centre_refused_can_be_sent_again_from_the_sync_screen(
        tmp_path, centre, lang, key, queued, done):
    """What the centre refused is held back and listed; once its staff have mended the
    cause, the agent sends it again from the sync screen (as `station sync
    --retry-refused` does), and the key goes away once nothing is refused. Its key fits in
    the footer at 80 columns: in English it hid Back and Quit under the palette's key."""
    village = enrolled(tmp_path, centre, "V001")
    for _ in range(2):
        village.create("application", APPLICATION)
    for item in village.sync.outbox(limit=10, max_bytes=1 << 30):  # as a centre refused them
        village.sync.quarantine(item.changeset, {"code": "centre.scope", "en": "not in scope",
                                                 "zh": "不在范围内"})
    app = make_app(village, lang=lang)

    async def scenario(pilot):
        app.push_screen(SyncScreen())
        await settle(pilot, app)
        screen = app.screen
        assert key in footer_text(app)
        assert footer_cut(app) == []  # its key, Back and Quit all in sight at 80 columns
        button = screen.query_one("#retry-refused")
        assert button.display and button.region.right <= SIZE[0]  # on screen, at 80 columns
        await pilot.press("s")  # a plain sync leaves them aside
        await wait_for(pilot, screen, "Sync done:" if lang == "en" else "同步完成")
        await settle(pilot, app)
        assert len(village.sync.quarantined()) == 2
        await pilot.press("r")
        shown = await wait_for(pilot, screen, done)
        await settle(pilot, app)
        assert queued in shown and "Traceback" not in shown
        assert key not in footer_text(app)
        assert not screen.query_one("#retry-refused").display

    drive(app, scenario, size=SIZE)
    reopened = SyncState.open_locked(tmp_path / "V001")
    try:
        assert reopened.quarantined() == [] and reopened.unsent() == 0
    finally:
        reopened.close()
