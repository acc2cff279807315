"""Sneakernet: carry a station's outbox to town on a USB stick, and its downlink back.

``export_bundle`` writes the sealed outbox to a file (no passphrase needed: it is sealed
to the centre and signed), with a pull request signed by the transport key that names the
changesets it carries. Anyone connected runs ``upload_bundle``: the centre stores the
changesets exactly once, and the uploader saves the station's downlink in a reply file.
Back in the village, ``import_bundle`` checks the whole file, then every batch's centre
signature, and only then merges it (or keeps it in the inbox while the vault is locked, to
merge at unlock). The downlink acknowledges the named changesets the centre holds, and
those leave the outbox as after an online push, so the next bundle carries only new work.
Changesets the centre refused stay in the outbox (the uploader was shown why): they go in
every bundle until an online sync quarantines them with the centre's reason.
Re-importing or re-uploading the same file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.domain.english import counted
from station.domain.errors import StationError
from station.store.errors import refuse_non_file, refuse_nul, refuse_station_file
from station.store.home import write_atomic
from station.store.service import Downlink, Station
from station.store.syncstate import SyncState
from station.sync.engine import MAX_BATCH_BYTES, PUSH_MAGIC, SyncReport, merge_kept
from station.sync.errors import BadReply, CentreUnreachable, Refused, Throttled
from station.sync.replies import ingest_reply
from station.sync.transport import CentreClient, said, wall_ms
from station.wire.bundle import (
    MAX_BUNDLE,
    MAX_BUNDLE_ITEMS,
    MAX_NAMED,
    BundleDamaged,
    read_bundle,
    signed_pull,
    too_big,
    write_bundle,
)
from station.wire.downlink import verify_batch
from station.wire.errors import CannotOpen, WireError
from station.wire.framing import pack, unpack

DOWNLINK_ITEMS = b"DLB1"


@dataclass
class UploadResult:
    station: str
    accepted: int = 0
    duplicates: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    reply: Path | None = None
    batches: int = 0
    no_reply: Refused | None = None  # why no downlink could be fetched (e.g. keys revoked)


class BundleUnwritable(StationError):
    code = "sync.bundle_unwritable"
    zh = "无法写入数据包 {path}：{detail_zh}"
    en = "Cannot write the bundle {path}: {detail}"


class ReplyUnwritable(BundleUnwritable):
    """The upload went through; only the reply could not be saved. Said as such, or the
    person would take the whole upload for failed (it is safe to run again either way)."""

    code = "sync.reply_unwritable"
    zh = ("镇中心已收到数据包 {path}（收下 {accepted} 条，已有 {duplicates} 条），但回传包无法写入 "
          "{reply}：{detail_zh}。请换一个能写入的位置，用 --reply 指定后再上传一次（不会重复保存）")
    en = ("The centre has the bundle {path} (took {accepted}, already had {duplicates}), but "
          "its reply could not be written to {reply}: {detail}. Upload it again with --reply "
          "set to a place that can be written (nothing is stored twice)")


class UploadInterrupted(CentreUnreachable):
    """An upload the link to the centre cut short. A sync's "saved work will be sent when
    the link is back" is wrong here: nothing on the town computer sends it later, and the
    clerk must know to run it again (each request is stored exactly once, G4)."""

    code = "sync.upload_interrupted"
    zh = ("数据包 {path} 没有上传完：{why_zh}。U 盘上的文件没有变化：联网后再上传一次即可，"
          "镇中心已收到的不会重复保存")
    en = ("The bundle {path} was not uploaded in full: {why}. The file on the USB stick is "
          "unchanged: upload it again once the link is back; nothing the centre already has "
          "is stored twice")

    @classmethod
    def because(cls, error: CentreUnreachable | BadReply, path: Path) -> UploadInterrupted:
        """Said with the cause, without the sync's words about work kept for later."""
        detail, detail_zh = error.params.get("detail", ""), error.params.get("detail_zh", "")
        if isinstance(error, Throttled):
            why = ("镇中心繁忙", "the town centre is busy")
        elif isinstance(error, CentreUnreachable):
            why = (f"无法连接镇中心（{detail_zh or detail}）",
                   f"cannot reach the town centre ({detail})")
        else:
            why = (f"镇中心的回复无法识别（{detail_zh or detail}）",
                   f"the town centre's reply was not understood ({detail})")
        return cls(path=str(path), why_zh=why[0], why=why[1], detail=detail,
                   detail_zh=detail_zh)


class ReplyWouldReplaceBundle(StationError):
    """The reply's file is a bundle still to be uploaded (this one, given again as --reply,
    or another station's carried on the same stick): written over, that station's trip is
    lost without anyone noticing until its agent finds another station's reply."""

    code = "sync.reply_over_bundle"
    zh = ("{reply} 是一个还要上传的站点数据包，回传包不能写在它上面；未上传任何内容。"
          "请用 --reply 另选一个文件名")
    en = ("{reply} is a station's bundle still to be uploaded, and the reply must not replace "
          "it; nothing was uploaded. Choose another file name with --reply")


class BundleMissing(StationError):
    code = "sync.bundle_missing"
    zh = "找不到数据包 {path}"
    en = "There is no bundle at {path}"


class DownlinkNotUploadable(StationError):
    code = "sync.bundle_is_downlink"
    zh = ("{path} 是从镇中心带回的数据包（回传包），不用上传：请在站点上用 station bundle import "
          "导入它")
    en = ("{path} is a bundle brought back from the town centre (a reply), not one to upload: "
          "import it at the station with `station bundle import`")


class UplinkNotImportable(StationError):
    code = "sync.bundle_is_uplink"
    zh = ("{path} 是站点导出、要带到镇中心的数据包，不能导入：请在能联网的电脑上用 "
          "station bundle upload 上传，再把上传时在旁边生成的回传包带回来导入")
    en = ("{path} is a bundle exported to carry to the town centre, not one to import: upload "
          "it with `station bundle upload` on a connected computer, then bring back and "
          "import the reply file the upload saves beside it")


class BundleForAnotherStation(StationError):
    code = "sync.bundle_other_station"
    zh = ("数据包 {path} 是给站点 {other} 的，不是本站 {station}，未导入任何内容；"
          "请把它交给站点 {other}")
    en = ("The bundle {path} is for station {other}, not this station {station}; nothing was "
          "imported. Give it to station {other}")


class ReplyForEarlierInstall(StationError):
    """A reply fetched with the bundle of this station's earlier install (before ``init
    --force``, or on the laptop this one replaced): signed by our centre, for our station id,
    but sealed to keys this install never had. Nothing in it is lost: the centre sends it
    all again to this install."""

    code = "sync.reply_earlier_install"
    zh = ("回传包 {path} 是为站点 {station} 以前的安装（重新安装或换电脑之前）取回的，本机打不开，"
          "未导入任何内容。工作没有丢失：联网同步，或重新导出数据包带到镇上，再导入新的回传包")
    en = ("The reply bundle {path} was fetched for an earlier install of station {station} "
          "(before it was set up again or moved to this computer), so it cannot be opened "
          "here; nothing in it was imported. No work is lost: sync online, or export a new "
          "bundle, upload it in town and import its reply")


class BundleUnreadable(StationError):
    code = "sync.bundle_unreadable"
    zh = "无法读取数据包 {path}：U 盘是否还插着、文件能否打开？"
    en = "Cannot read the bundle {path} ({detail}): is the USB stick still in?"


def _write_atomic(path: Path, data: bytes) -> None:
    """The file appears whole or not at all (a pulled-out USB stick leaves no half file),
    and only ever replaces an ordinary file."""
    try:
        refuse_nul(path)
        refuse_non_file(path)
        write_atomic(path, data)  # sealed: readable by whoever uploads it
    except OSError as exc:
        raise BundleUnwritable.writing(exc, path=str(path).replace("\x00", "␀")) from None


def export_bundle(sync: SyncState, path: Path) -> int:
    """Write every unsent sealed changeset to ``path``; returns how many. The pull request
    names the oldest ``MAX_NAMED`` of them, for the reply to acknowledge."""
    sync.centre()  # not enrolled: nothing can be sealed yet, say so
    refuse_station_file(path, sync.home)  # a mistyped path must not replace the vault
    items = sync.outbox(limit=10**9, max_bytes=MAX_BUNDLE_ITEMS)  # the rest: the next trip
    header = {"kind": "uplink", "station": sync.station,
              "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "pull": signed_pull(sync.transport(), station=sync.station,
                                  after=sync.cursor(), time_ms=wall_ms(),
                                  changesets=[i.changeset for i in items[:MAX_NAMED]])}
    _write_atomic(path, write_bundle(header, [i.sealed for i in items]))
    sync.mark_exported([i.changeset for i in items])
    return len(items)


def reply_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.reply{path.suffix or '.stb'}")


def export_said(count: int, path: Path) -> tuple[str, str]:
    """What the agent is told after an export (zh, en), for the command and the app alike.
    With nothing unsent the bundle still carries the request for what is new, so the trip
    is still worth making for the others' work: said so, not "exported 0 changes"."""
    reply = reply_path(path)
    trip = (f"带到联网的电脑上运行 station bundle upload {path}，再把生成的 {reply} 带回来导入",
            f"On a connected computer run `station bundle upload {path}`, then bring back "
            f"{reply} and import it")
    if count:
        return (f"已导出 {count} 条变更到 {path}。{trip[0]}",
                f"Exported {counted(count, 'change')} to {path}. {trip[1]}")
    return (f"本站没有未发送的变更；{path} 只向镇中心索取其他站点的新内容。{trip[0]}",
            f"Nothing here is unsent: {path} only asks the centre for the others' new work. "
            f"{trip[1]}")


def upload_bundle(path: Path, link: CentreClient, *, reply: Path | None = None) -> UploadResult:
    """Upload a carried bundle (no keys needed) and save the station's downlink to carry back."""
    header, items = read_bundle(_read(path), str(path))
    if header.get("kind") != "uplink":
        raise DownlinkNotUploadable(path=str(path))
    target = reply or reply_path(path)
    if _is_uplink(target):  # before anything is sent: the clerk chooses again
        raise ReplyWouldReplaceBundle(reply=str(target))
    try:
        return _upload(header, items, path, link, target)
    except (CentreUnreachable, BadReply) as exc:
        raise UploadInterrupted.because(exc, path) from None


def _upload(header: dict[str, Any], items: list[bytes], path: Path, link: CentreClient,
            target: Path) -> UploadResult:
    """The requests of ``upload_bundle``: its changesets, then the station's downlink."""
    # the header is the carrier's word, printed to the clerk: made safe as unsigned words are
    result = UploadResult(said(header.get("station", "?")))
    for start, batch in _batches(items):
        answer = ingest_reply(link.request("POST", "/v1/bundle", body=pack(PUSH_MAGIC, batch),
                                           signed=False))
        result.accepted += len(answer.accepted)
        result.duplicates += len(answer.duplicates)
        result.refused += [_in_bundle(refusal, start) for refusal in answer.refused]
    if header.get("pull"):
        body = json.dumps(header["pull"]).encode()
        try:
            answer = link.request("POST", "/v1/bundle/pull", body=body, signed=False,
                                  content_type="application/json").content
        except Refused as exc:  # the changesets above are in; only the way back is closed
            result.no_reply = exc
            return result
        batches = unpack(DOWNLINK_ITEMS, answer, what="downlink", max_items=100_000,
                         max_item=64 << 20)
        try:
            _write_atomic(target, write_bundle({"kind": "downlink", "station": result.station},
                                               batches))
        except BundleUnwritable as exc:
            raise ReplyUnwritable(path=str(path), reply=exc.params["path"],
                                  accepted=result.accepted, duplicates=result.duplicates,
                                  detail=exc.params["detail"],
                                  detail_zh=exc.params["detail_zh"]) from None
        result.reply, result.batches = target, len(batches)
    return result


def _is_uplink(path: Path) -> bool:
    """Whether ``path`` holds a bundle exported to be uploaded (any other file, or none, may
    take the reply, as before). Only an ordinary file is read: a pipe would never end."""
    try:
        if not path.is_file():
            return False
        header, _ = read_bundle(_read(path), str(path))
    except (StationError, OSError):  # not a bundle, or not there to read: writing says why
        return False
    return header.get("kind") == "uplink"


def _batches(items: list[bytes]) -> Iterator[tuple[int, list[bytes]]]:
    """The bundle's items in requests the centre takes (each under ``MAX_BATCH_BYTES``), with
    where each starts: weeks of work offline fill a stick with more than one request may
    carry, and sent whole it was refused as too large, every time. Each request is stored on
    its own and idempotently (G4), so an upload cut half-way is simply run again."""
    start, size = 0, 0
    for end, item in enumerate(items):
        if end > start and size + len(item) > MAX_BATCH_BYTES:
            yield start, items[start:end]
            start, size = end, 0
        size += len(item)
    if start < len(items):
        yield start, items[start:]


def _in_bundle(refusal: dict[str, Any], start: int) -> dict[str, Any]:
    """A refusal whose ``index`` counts in its request, made to count in the whole bundle."""
    index = refusal.get("index")
    return {**refusal, "index": start + index} if isinstance(index, int) else refusal


def import_bundle(sync: SyncState, path: Path, *, station: Station | None) -> SyncReport:
    """Merge a downlink bundle carried back (or keep it in the inbox while locked). The whole
    file and every batch's signature are checked before anything is applied. Unlocked, it
    first merges what earlier imports kept in the inbox: a station that only ever syncs by
    USB stick has no other moment to, and their acknowledgements empty its outbox too."""
    header, batches = read_bundle(_read(path), str(path))
    if header.get("kind") != "downlink":
        raise UplinkNotImportable(path=str(path))
    if header.get("station") != sync.station:
        raise BundleForAnotherStation(path=str(path), other=said(header.get("station")),
                                      station=sync.station)  # said: the carrier's word
    pin = sync.centre()
    try:
        heads = [verify_batch(blob, pin.sign_public) for blob in batches]
    except WireError as exc:
        raise BundleDamaged(path=str(path), detail_zh=exc.message("zh"),
                            detail=exc.message("en")) from None
    for head in heads:  # the header is the carrier's word; the centre signed these
        if head.station != sync.station:
            raise BundleForAnotherStation(path=str(path), other=head.station,
                                          station=sync.station)
    report = SyncReport(carried=True)
    if station is not None:  # a reply imported while locked merges first, as a sync does
        merge_kept(station, report)
    for blob in batches:
        if station is not None:
            report.add(_apply(station, blob, path))
        else:
            report.kept_locked += 1 if sync.keep_in_inbox(blob).count else 0
    if station is not None and heads:
        sync.note_carried(max(head.centre_time_ms for head in heads))
    return report


def _apply(station: Station, blob: bytes, path: Path) -> Downlink:
    """Merge one batch of a reply whose signatures were checked: one that still does not
    open was sealed to another install's keys (all of a reply's batches are sealed alike, so
    the first refuses it before anything of it is merged)."""
    try:
        return station.apply_downlink(blob)
    except CannotOpen:
        raise ReplyForEarlierInstall(path=str(path), station=station.station_id) from None


def _read(path: Path) -> bytes:
    """The file's bytes, reading no more than a bundle can hold (a crafted stick's huge or
    endless file is refused, not loaded into memory)."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(MAX_BUNDLE + 1) if size <= MAX_BUNDLE else b""
    except FileNotFoundError:
        raise BundleMissing(path=str(path)) from None
    except OSError as exc:
        raise BundleUnreadable.reading(exc, path=str(path)) from None
    if size > MAX_BUNDLE or len(data) > MAX_BUNDLE:  # a device or a pipe: no size to stat
        raise too_big(str(path), max(size, len(data)))
    return data
