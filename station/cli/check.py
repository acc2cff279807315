"""``station check``: every record compared with the changes it was made from, and mended
with ``--repair`` (station/store/check.py)."""

from __future__ import annotations

import click

from station.cli.common import Env, common, progress_bar
from station.cli.vault import unlock
from station.domain.english import number_words
from station.domain.errors import StationError
from station.store.check import UNMENDABLE, CheckReport, check


class NeedsRepair(StationError):
    code = "cli.check.needs_repair"
    zh = "{n} 条记录有问题（见上）；运行 station check --repair 可修复能修复的部分"
    en = ("{n} record{s} {have} problems (above); `station check --repair` mends what can "
          "be mended")


class CannotMend(StationError):
    code = "cli.check.cannot_mend"
    zh = "{detail_zh}；本机无法修复，请从备份恢复（station restore）或联系镇中心"
    en = ("{detail}; this cannot be mended here: restore a backup (station restore) or ask the "
          "town centre")


class CheckStopped(StationError):
    code = "cli.check.stopped"
    zh = "检查已中止，未做任何更改；再运行 station check 可从头检查"
    en = "The check was stopped and nothing was changed; run station check again to check all"


class RepairStopped(StationError):
    """Each record is mended in its own transaction: those done before Ctrl+C stay mended,
    so the technician is told that a second run only finishes the rest."""

    code = "cli.check.repair_stopped"
    zh = ("修复已中止：已修复的记录保持修复，其余未改动；再运行 station check --repair "
          "可完成其余部分")
    en = ("The repair was stopped: records mended so far stay mended and the rest are "
          "untouched; run station check --repair again to finish")


@click.command("check")
@click.option("--repair", is_flag=True, help="Rebuild what is derived from the changes (lists, "
              "look-ups, the encrypted state) where it differs. Never changes a change.")
@common(json_output=True)
def check_cmd(env: Env, repair: bool) -> None:
    """Check every record against the changes it was made from: damage, or plaintext columns
    altered outside the app. Names records by receipt number only."""
    with unlock(env) as station, progress_bar(env, "检查", "Checking") as progress:
        try:
            report = check(station.ledger, repair=repair, progress=progress)
        except KeyboardInterrupt:
            raise (RepairStopped() if repair else CheckStopped()) from None
    env.emit(report.as_dict(), lambda: _say(env, report))
    _refuse_unmended(report)


def _say(env: Env, report: CheckReport) -> None:
    for finding in report.findings:
        done = env.t("（已修复）", " (mended)") if finding.repaired else ""
        env.say(f"{finding.record}：{finding.as_dict()['zh']}{done}",
                f"{finding.record}: {finding.as_dict()['en']}{done}")
    for zh, en in report.note_lines():
        env.say(zh, en)
    if report.integrity == "ok":
        env.say(f"已检查 {report.records} 条记录、{report.changesets} 项变更，"
                f"发现问题 {len(report.findings)} 条",
                f"Checked {report.records} records and {report.changesets} changes: "
                f"{len(report.findings)} with problems")


def _refuse_unmended(report: CheckReport) -> None:
    if report.integrity != "ok":
        raise CannotMend(detail=f"SQLite's integrity check failed: {report.integrity}",
                         detail_zh=f"SQLite 完整性检查未通过：{report.integrity}")
    unmended = [f for f in report.findings if not f.repaired]
    if any(UNMENDABLE & set(f.problems) for f in unmended):
        raise CannotMend(detail="some changes do not open or are missing (above)",
                         detail_zh="部分变更无法解密或已缺失（见上）")
    if unmended:
        raise NeedsRepair(**number_words(len(unmended)))
