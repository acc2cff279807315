"""``station sync`` and ``station bundle …``: moving work to the town centre and back.

``station sync`` pushes the outbox and pulls the downlink once (exit 3 when the centre cannot
be reached: nothing is lost, it is all still in the outbox), or keeps doing so with
``--watch``. ``--unattended`` needs no passphrase: it pushes sealed changesets and keeps the
downlink sealed in the inbox until an agent unlocks.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from station.cli.common import (
    INTERRUPTED,
    Env,
    ExistingFile,
    NewFile,
    UsageProblem,
    check_url,
    common,
)
from station.cli.vault import unlock
from station.domain.chinatime import china_time
from station.domain.english import agrees, counted
from station.domain.errors import StationError
from station.store.errors import NotAStation
from station.store.service import Station
from station.store.syncstate import NotEnrolled, SyncState
from station.sync.bundle import export_bundle, export_said, import_bundle, upload_bundle
from station.sync.client import link_for
from station.sync.engine import Progress as SyncProgress
from station.sync.engine import SyncReport, clock_gap, sync_once
from station.sync.transport import CentreClient, patient, said
from station.sync.watch import DEFAULT_EVERY_S, WatchEvent, watch

_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Duration(click.ParamType):
    """``30m``, ``2h``, ``90s`` or plain seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.match(str(value).strip().lower())
        if not match or int(match.group(1)) == 0:
            self.fail(f"{value!r} is not a duration like 30m, 2h or 90s", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2)]


def _interval(seconds: int) -> tuple[str, str]:
    """``--every`` in the unit it was most likely given in (30m, 2h, 45s)."""
    for size, zh, en in ((3600, "小时", "h"), (60, "分钟", "min")):
        if seconds % size == 0:
            return f"{seconds // size} {zh}", f"{seconds // size} {en}"
    return f"{seconds} 秒", f"{seconds} s"


class UploadNeedsUrl(UsageProblem):
    """``bundle upload`` is run on any connected computer, most often one with no station of
    its own: telling that person to ``station init`` would send them the wrong way."""

    code = "cli.upload_needs_url"
    zh = ("本机没有已登记的站点，无法得知镇中心的地址：请用 --url 指定，例如 "
          "station bundle upload {path} --url http://192.168.1.10:8700")
    en = ("This computer has no enrolled station to take the town centre's address from: give "
          "it with --url, e.g. station bundle upload {path} --url http://192.168.1.10:8700")


class SyncStopped(StationError):
    """Ctrl-C in the middle of a sync: each batch is durable on its own, so say that what
    went through is kept and how to go on, not end with no word at all."""

    code = "cli.sync_stopped"
    exit_code: ClassVar[int] = INTERRUPTED
    zh = "同步已中止：已发送和已接收的部分都已保存，未发送的工作还在；再运行 station sync 即可继续"
    en = ("Sync stopped: what was sent and received so far is kept, and unsent work stays; run "
          "station sync again to go on")


class EveryNeedsWatch(UsageProblem):
    code = "cli.every_needs_watch"
    zh = "--every 只能和 --watch 一起使用，例如 station sync --watch --every 30m"
    en = "--every works only with --watch, e.g. station sync --watch --every 30m"


@contextmanager
def sync_side(env: Env, unattended: bool) -> Iterator[tuple[SyncState, Station | None]]:
    """The outbox/inbox side of this station: locked (unattended) or unlocked."""
    if unattended:
        sync = SyncState.open_locked(env.home)
        try:
            yield sync, None
        finally:
            sync.close()
    else:
        with unlock(env) as station:
            yield station.sync, station


@contextmanager
def progress_display(env: Env) -> Iterator[Any]:
    """A progress bar on a terminal (changesets, bytes, rate, time left); silent otherwise."""
    if env.as_json or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"),
                   DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    tasks: dict[str, TaskID] = {}

    def update(p: SyncProgress) -> None:
        if p.phase not in tasks:
            label = env.t("发送", "push") if p.phase == "push" else env.t("接收", "pull")
            tasks[p.phase] = bar.add_task(label, total=None, n="")
        total = f"/{p.total}" if p.total is not None else ""
        bar.update(tasks[p.phase], completed=p.bytes, n=f"{p.changesets}{total}")

    with bar:
        yield update


def say_refusals(env: Env, refusals: list[dict[str, Any]]) -> None:
    """Each changeset the centre refused, by id, with the centre's reason (a reason names
    a field or a date, never a resident's value), so whoever sent it can act on it. A bundle
    upload's reply is signed by nobody: its words are made safe to print (``said``)."""
    for refusal in refusals:
        cid = said(refusal.get("id"))
        env.say(f"  {cid}: {said(refusal.get('zh'))}", f"  {cid}: {said(refusal.get('en'))}")


def report_sync(env: Env, report: SyncReport) -> None:
    env.emit(report.as_dict(), lambda: env.say(report.summary("zh"), report.summary("en")))
    say_refusals(env, report.refused)
    if report.clock_warning:
        zh, en = clock_gap(report.clock_offset_ms)
        env.say(f"注意：{zh}，请校准时间（同步不受影响）",
                f"{en}; please set it (sync is not affected)")


def sync_status(env: Env, station: Station) -> None:
    """How sync stands, with no network: unsent and refused work, batches kept for unlock,
    the last sync, and each change from the centre kept aside because this version cannot
    read it (since when, why, which records, what to do)."""
    sync, held = station.sync, station.ledger.held_changes()
    last, _ = sync.last_sync()
    data = {"enrolled": sync.enrolled(), "unsent": sync.unsent(),
            "refused": len(sync.quarantined()), "kept": sync.kept(), "last_sync": last,
            "held": held.as_dict()}

    def human() -> None:
        if not data["enrolled"]:
            env.say("本站尚未登记到镇中心", "This station is not enrolled with a town centre")
        when = china_time(last) if last else env.t("从未", "never")
        env.say(f"未发送 {data['unsent']} 条 · 被拒待处理 {data['refused']} 条 · "
                f"上次同步 {when}",
                f"Not sent: {data['unsent']} · refused, held back: {data['refused']} · "
                f"last sync: {when}")
        if not held.count:
            env.say("镇中心发来的更新都已合并", "Everything from the centre has merged")
        for zh, en in zip(held.lines("zh"), held.lines("en"), strict=True):
            env.say(zh, en)

    env.emit(data, human)


@click.command("sync")
@click.option("--once", "mode", flag_value="once", default=True, help="Sync once (default).")
@click.option("--watch", "mode", flag_value="watch",
              help="Keep syncing: when the link returns, and on a schedule.")
@click.option("--every", type=Duration(), default=None,
              help="With --watch: sync at least this often (e.g. 30m). Default 5m.")
@click.option("--unattended", is_flag=True,
              help="No passphrase: push sealed work, keep downlink sealed until unlock.")
@click.option("--retry-refused", is_flag=True,
              help="Send again the changes the centre refused, once the town centre says the "
                   "cause is mended; any still refused are set aside again with the reason.")
@click.option("--status", is_flag=True,
              help="Only say how sync stands (unsent, refused, kept aside and why); "
                   "nothing is sent.")
@common(json_output=True)
def sync_cmd(env: Env, mode: str, every: int | None, unattended: bool,
             retry_refused: bool, status: bool) -> None:
    """Send this station's work to the town centre and bring back what is new."""
    if every is not None and mode != "watch":
        raise EveryNeedsWatch()
    if status:
        with unlock(env) as station:
            sync_status(env, station)
        return
    with sync_side(env, unattended) as (sync, station), link_for(sync) as link:
        if retry_refused:
            n = sync.requeue_refused()
            env.say(f"{n} 条被拒的变更重新排队发送",
                    f"{counted(n, 'refused change')} {agrees(n, 'is', 'are')} queued again")
        if mode == "once":
            with progress_display(env) as progress:
                try:
                    report = sync_once(sync, link, station=station, progress=progress)
                except KeyboardInterrupt:
                    raise SyncStopped() from None
            report_sync(env, report)
            return
        stop = threading.Event()
        probe_link = CentreClient(link.url, retry=patient(attempts=1, within_s=10))

        def probe() -> bool:
            try:
                probe_link.request("GET", "/v1/health", signed=False)
            except Exception:  # any failure means "not reachable yet"
                return False
            return True

        def on_event(event: WatchEvent) -> None:
            if event.report is not None:
                report_sync(env, event.report)
            elif event.kind == "back":
                env.say("已连上镇中心，开始同步", "The centre is reachable again: syncing")
            elif event.error is not None:
                env.say(event.error.message("zh"), event.error.message("en"))

        zh, en = _interval(every or DEFAULT_EVERY_S)
        env.say(f"持续同步中（每 {zh}，以及联网恢复时）；按 Ctrl-C 停止",
                f"Watching: syncing every {en} and when the link returns; Ctrl-C stops")
        try:
            watch(lambda: sync_once(sync, link, station=station), probe,
                  every_s=every or DEFAULT_EVERY_S, stop=stop, on_event=on_event)
        except KeyboardInterrupt:  # said as for one sync, and ended without waiting on
            stop.set()             # a request still on a stalled link (leave_now)
            raise SyncStopped() from None
        finally:
            probe_link.close()


@click.group("bundle")
def bundle_group() -> None:
    """Carry work on a USB stick: export here, upload in town, import the reply here."""


@bundle_group.command("export")
@click.argument("path", type=NewFile())
@common(json_output=True)
def bundle_export(env: Env, path: Path) -> None:
    """Write every unsent change to PATH (no passphrase needed: it is sealed and signed)."""
    sync = SyncState.open_locked(env.home)
    try:
        count = export_bundle(sync, path)
    finally:
        sync.close()
    env.emit({"path": str(path), "changesets": count},
             lambda: env.say(*export_said(count, path)))


@bundle_group.command("upload")
@click.argument("path", type=ExistingFile())
@click.option("--url", envvar="STATION_CENTRE_URL",
              help="The centre's URL (default: this station's centre; on a computer that "
                   "is not a station, give it here or in STATION_CENTRE_URL).")
@click.option("--reply", type=NewFile(),
              help="Where to save the station's downlink (default: beside PATH, "
                   "V001.stb → V001.reply.stb).")
@common(json_output=True)
def bundle_upload(env: Env, path: Path, url: str | None, reply: Path | None) -> None:
    """Upload a carried bundle from any connected computer; needs no keys."""
    if url is not None:
        url = check_url(url)
    else:
        try:
            sync = SyncState.open_locked(env.home)
        except NotAStation:
            raise UploadNeedsUrl(path=str(path)) from None
        try:
            url = sync.centre().url
        except NotEnrolled:
            raise UploadNeedsUrl(path=str(path)) from None
        finally:
            sync.close()
    with CentreClient(url) as link:
        result = upload_bundle(path, link, reply=reply)
    data = {"station": result.station, "accepted": result.accepted,
            "duplicates": result.duplicates, "refused": result.refused,
            "reply": str(result.reply) if result.reply else None, "batches": result.batches}

    def human() -> None:
        env.say(f"站点 {result.station}：镇中心收下 {result.accepted} 条，"
                f"已有 {result.duplicates} 条，拒收 {len(result.refused)} 条",
                f"Station {result.station}: the centre took {result.accepted}, already had "
                f"{result.duplicates}, refused {len(result.refused)}")
        say_refusals(env, result.refused)
        if result.no_reply is not None:
            env.say(f"无法取回该站点的回传数据：{result.no_reply.message('zh')}",
                    f"No downlink for that station: {result.no_reply.message('en')}")
        if result.reply:
            env.say(f"回传数据已保存到 {result.reply}；带回站点运行 station bundle import",
                    f"The station's downlink is in {result.reply}; take it back and run "
                    "`station bundle import`")

    env.emit(data, human)


@bundle_group.command("import")
@click.argument("path", type=ExistingFile())
@click.option("--unattended", is_flag=True, help="No passphrase: keep it until unlock.")
@common(json_output=True)
def bundle_import(env: Env, path: Path, unattended: bool) -> None:
    """Merge a downlink bundle carried back from town."""
    with sync_side(env, unattended) as (sync, station):
        report = import_bundle(sync, path, station=station)
    report_sync(env, report)
