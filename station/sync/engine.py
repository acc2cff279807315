"""One sync: push the outbox, then pull after the cursor, reporting progress as it goes.

Batch sizes follow the link: each push is timed and the next one is sized to take about
``TARGET_S`` seconds, so a slow village link sends small batches that fit a short window of
connectivity (and each is acknowledged on its own: a cut resumes from the last one), while a
fast one sends big batches. Pulls are sized the same way from the bytes per entry seen.

The centre's clock comes back with every reply; a station more than five minutes off is
warned (its clock never stops sync: requests are timed in centre time).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout

from station.domain.english import counted
from station.store.service import Downlink, Drained, Station
from station.store.syncstate import OutboxItem, SyncState
from station.sync.errors import SyncBusy
from station.sync.replies import push_reply
from station.sync.transport import CentreClient
from station.wire.downlink import BatchHeader, read_batch_header
from station.wire.framing import pack

PUSH_MAGIC = b"SCB1"
IN_FLIGHT = 2
TARGET_S = 2.0
# The most one request carries: well under the centre's cap on a push or bundle body (8 MiB).
MAX_BATCH_BYTES = 2 << 20
CLOCK_WARN_MS = 5 * 60 * 1000
SYNC_LOCK = "sync.lock"  # in the station's home: held by the one sync under way


_GAP_UNITS = ((86_400_000, "天", "days"), (3_600_000, "小时", "hours"), (60_000, "分钟", "min"))


def clock_gap(offset_ms: int) -> tuple[str, str]:
    """How far this computer's clock is from the centre's (``offset_ms``: the centre's time
    minus ours), in words a person can act on: which way, and in a unit that fits. A flat
    CMOS battery puts a laptop years back; "+1440000 min" would hide both facts."""
    size, behind = abs(offset_ms), offset_ms > 0
    unit_ms, zh, en = next(unit for unit in _GAP_UNITS if size >= 2 * unit[0] or unit[0] == 60_000)
    n = round(size / unit_ms)
    return (f"本机时钟比镇中心{'慢' if behind else '快'} {n} {zh}",
            f"This computer's clock is {n} {en} {'behind' if behind else 'ahead of'} "
            "the centre's")


@dataclass
class Progress:
    """Where a sync is: for a progress bar (changesets and bytes, rate, time left)."""

    phase: str  # "push" or "pull"
    changesets: int
    total: int | None
    bytes: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        return self.changesets / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.changesets) / self.rate)


ProgressFn = Callable[[Progress], None]


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    pulled: int = 0
    conflicts: int = 0
    kept_locked: int = 0  # batches kept in the inbox because the vault is locked
    acked: int = 0  # carried to town by USB stick, and now confirmed by the centre
    carried: bool = False  # a reply bundle's import: nothing pushed, no network
    catalogue: str | None = None
    set_aside: int = 0  # kept batches found damaged at unlock: their entries come again
    unmerged: int = 0  # kept batches that failed to merge otherwise: kept, tried again
    unmerged_reason: tuple[str, str] | None = None  # (zh, en)
    held: int = 0  # changes from the centre this version cannot read: kept aside, waiting
    held_merged: int = 0  # changes kept aside earlier that merged now (after an upgrade)
    bytes_up: int = 0
    bytes_down: int = 0
    took_s: float = 0.0
    clock_offset_ms: int = 0

    def add(self, batch: Downlink) -> None:
        """Count in one merged downlink batch."""
        self.pulled += batch.new
        self.conflicts += batch.conflicts
        self.acked += batch.acked
        self.catalogue = batch.catalogue or self.catalogue
        self.held = batch.held_waiting  # the latest count: those merged since are gone

    def add_drained(self, drained: Drained) -> None:
        """Count in what merging the kept batches did."""
        for batch in drained.merged:
            self.add(batch)
        self.pulled += drained.held_merged
        self.held_merged += drained.held_merged
        self.held = drained.held_waiting
        self.set_aside += drained.set_aside
        self.unmerged += drained.unmerged
        self.unmerged_reason = self.unmerged_reason or drained.reason

    @property
    def brought_anything(self) -> bool:
        """Whether the merged batches changed anything a person would notice."""
        return bool(self.pulled or self.conflicts or self.acked or self.catalogue)

    @property
    def clock_warning(self) -> bool:
        return abs(self.clock_offset_ms) > CLOCK_WARN_MS

    def summary(self, lang: str = "en", *, trouble: bool = True) -> str:
        """One line for a person; a reply bundle's import pushed nothing and took no network
        time, so it says only what it brought. With ``trouble``, it goes on to say what
        became of kept batches that did not merge (``kept_trouble``)."""
        sep = "；" if lang == "zh" else "; "
        text = sep.join(p for p in (self._counts(lang), self.held_note(lang)) if p)
        said = self.kept_trouble(lang) if trouble else ""
        return f"{text}{sep}{said}" if said else text

    def held_note(self, lang: str = "en") -> str:
        """What became of changes from the centre this version cannot read ("" if none):
        they are kept aside, the rest merged, and updating station brings them in."""
        merged = {"zh": f"之前搁置的 {self.held_merged} 条更新已合并",
                  "en": f"{self.held_merged} changes kept aside earlier have now merged"}
        waiting = {"zh": f"镇中心发来的 {self.held} 条更新本版本无法读取，已单独保存，其余已正常"
                         "接收；请升级 station，升级后下次同步时会自动合并",
                   "en": f"{self.held} changes from the centre cannot be read by this version "
                         "of station and are kept aside (everything else was received): "
                         "update station, and they merge at the next sync"}
        parts = [merged[lang] if self.held_merged else "", waiting[lang] if self.held else ""]
        return ("；" if lang == "zh" else "; ").join(p for p in parts if p)

    def _counts(self, lang: str) -> str:
        if lang == "zh":
            text = f"已接收 {self.pulled} 条，冲突 {self.conflicts} 处"
            if not self.carried:
                had = f"（另有 {self.duplicates} 条镇中心已有）" if self.duplicates else ""
                text = f"已发送 {self.pushed} 条{had}，{text}，用时 {self.took_s:.1f} 秒"
            if self.acked:
                text += f"，镇中心确认已收到 {self.acked} 条"
            if self.catalogue:
                text += f"，事项目录已更新到 {self.catalogue} 版"
            if self.refused:
                text += f"，被拒 {len(self.refused)} 条（已隔离）"
            if self.kept_locked:
                text += f"，{self.kept_locked} 批待解锁后合并"
            return text
        text = f"pulled {self.pulled}, conflicts {self.conflicts}"
        if not self.carried:  # what the centre already had left the outbox too: say so
            had = f" ({self.duplicates} more the centre already had)" if self.duplicates else ""
            text = f"pushed {self.pushed}{had}, {text}, took {self.took_s:.1f} s"
        if self.acked:
            text += f", {self.acked} confirmed received by the centre"
        if self.catalogue:  # a pull that brought only this would read "pulled 0"
            text += f", matter catalogue updated to version {self.catalogue}"
        if self.refused:
            text += f", {len(self.refused)} refused (quarantined)"
        if self.kept_locked:
            text += f", {counted(self.kept_locked, 'batch', 'batches')} waiting for unlock"
        return text

    def kept_trouble(self, lang: str = "en") -> str:
        """What became of kept batches that did not merge ("" if none did not), so nobody
        wonders where those updates went: both kinds are pulled again from the centre."""
        zh, en = self.unmerged_reason or ("", "")
        parts = {"zh": [f"锁定期间收到的 {self.set_aside} 批更新已损坏，已搁置，其内容会从镇中心"
                        "重新接收" if self.set_aside else "",
                        f"锁定期间收到的 {self.unmerged} 批更新暂未合并（{zh}），已保留，下次解锁"
                        "时重试，下次同步时也会重新接收" if self.unmerged else ""],
                 "en": [f"{self.set_aside} batches kept while locked were damaged and set aside: "
                        "their updates are pulled again from the centre" if self.set_aside else "",
                        f"{self.unmerged} batches kept while locked could not be merged yet "
                        f"({en}): they stay kept, are tried again at the next unlock and are "
                        "pulled again at the next sync" if self.unmerged else ""]}[lang]
        return ("；" if lang == "zh" else "; ").join(p for p in parts if p)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "clock_warning": self.clock_warning}


class BatchSizer:
    """Sizes the next batch so that it takes about ``target_s`` on this link."""

    def __init__(self, initial: int = 64 * 1024, low: int = 8 * 1024,
                 high: int = MAX_BATCH_BYTES,
                 target_s: float = TARGET_S) -> None:
        self.size = initial
        self.low, self.high, self.target_s = low, high, target_s

    def record(self, nbytes: int, seconds: float) -> None:
        if nbytes <= 0 or seconds <= 0:
            return
        wanted = nbytes / seconds * self.target_s
        # move at most 4x at a time, so one odd measurement does not swing it wildly
        self.size = int(min(self.high, max(self.low, min(wanted, self.size * 4),
                                           self.size / 4)))


@contextmanager
def _requests(workers: int) -> Iterator[ThreadPoolExecutor]:
    """Threads for the requests in flight. An error or a Ctrl+C leaves them without waiting:
    on a stalled link the request under way (and its retries) could hold the person for a
    minute, and what it would bring is used by no one (only the caller acknowledges pushed
    work or merges a downlink, and it has stopped). The centre takes a push it receives
    later as any other: it is acknowledged, as a duplicate, at the next sync."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def push(sync: SyncState, link: CentreClient, report: SyncReport | None = None, *,
         progress: ProgressFn | None = None, sizer: BatchSizer | None = None,
         in_flight: int = IN_FLIGHT, stop: threading.Event | None = None) -> SyncReport:
    """Send the outbox batch by batch; each batch is acknowledged on its own (G4): what the
    centre stored or already had leaves the outbox, what it refused is quarantined with the
    reason, and the queue moves on. Up to ``in_flight`` batches travel at once, so the
    centre's cores all work while this one waits for replies."""
    report = report if report is not None else SyncReport()
    sizer = sizer or BatchSizer()
    total, done, sent, start = sync.unsent(), 0, 0, time.monotonic()
    centre_public = sync.centre().sign_public
    position = 0
    pending: deque[tuple[Future[httpx.Response], list[OutboxItem], int, float]] = deque()
    with _requests(in_flight) as pool:
        while True:
            while len(pending) < in_flight and not (stop and stop.is_set()):
                items = sync.outbox(limit=5000, max_bytes=sizer.size, after=position)
                if not items:
                    break
                position = items[-1].seq
                body = pack(PUSH_MAGIC, [i.sealed for i in items])
                future = pool.submit(link.request, "POST", "/v1/push", body=body)
                pending.append((future, items, len(body), time.monotonic()))
            if not pending:
                return report
            future, items, size, began = pending.popleft()
            response = future.result()  # on failure, _requests drops those still queued
            sizer.record(size, (time.monotonic() - began) / max(1, len(pending) + 1))
            reply = push_reply(response, centre_public=centre_public,
                               sent=(i.changeset for i in items))
            sync.ack([*reply.accepted, *reply.duplicates])
            for refusal in reply.refused:
                index = refusal.get("index")
                if isinstance(index, int) and 0 <= index < len(items):
                    # by position: our own item, even if the centre could not read its header
                    sync.quarantine(items[index].changeset, refusal)
                    report.refused.append(refusal)
            report.pushed += len(reply.accepted)
            report.duplicates += len(reply.duplicates)
            report.bytes_up += size
            done += len(items)
            sent += size
            if progress:
                progress(Progress("push", done, total, sent, time.monotonic() - start))


def pull(sync: SyncState, link: CentreClient, report: SyncReport | None = None, *,
         station: Station | None = None, progress: ProgressFn | None = None,
         sizer: BatchSizer | None = None, limit: int | None = None,
         stop: threading.Event | None = None) -> list[Downlink | BatchHeader]:
    """Everything after the cursor: merged now if ``station`` is unlocked, else kept sealed
    in the inbox. The cursor moves only once a batch is durable. While one batch is being
    merged the next is already on its way (the centre names where it ends). Batch sizes
    follow the link unless ``limit`` fixes them. Returns each batch's report (or header)."""
    report = report if report is not None else SyncReport()
    sizer = sizer or BatchSizer()
    per_entry, got, received, start = 600, 0, 0, time.monotonic()
    batches: list[Downlink | BatchHeader] = []

    own = sync.own_held_upto()

    def fetch(after: int, size: int) -> tuple[bytes, float]:
        began = time.monotonic()
        blob = link.request("GET", "/v1/pull",
                            params={"after": after, "limit": size, "own": own}).content
        return blob, time.monotonic() - began

    def size_now() -> int:
        return limit or max(20, min(2000, sizer.size // per_entry))

    with _requests(1) as pool:
        after = sync.cursor()
        upcoming = pool.submit(fetch, after, size_now())
        while True:
            blob, seconds = upcoming.result()
            sizer.record(len(blob), seconds)
            head = read_batch_header(blob)
            nxt = None
            if not head.complete and head.upto > after and not (stop and stop.is_set()):
                nxt = pool.submit(fetch, head.upto, size_now())  # prefetch while merging
            if station is not None:
                batch: Downlink | BatchHeader = station.apply_downlink(blob)
                assert isinstance(batch, Downlink)
                report.add(batch)
                count = batch.new + batch.duplicates
            else:
                batch = sync.keep_in_inbox(blob)
                report.kept_locked += 1 if head.count else 0
                count = head.count
            batches.append(batch)
            report.bytes_down += len(blob)
            got += count
            received += len(blob)
            if count:
                per_entry = max(100, len(blob) // count)
            if progress:
                progress(Progress("pull", got, None, received, time.monotonic() - start))
            if nxt is None:
                return batches
            after, upcoming = head.upto, nxt


def sync_once(sync: SyncState, link: CentreClient, *, station: Station | None = None,
              progress: ProgressFn | None = None,
              stop: threading.Event | None = None) -> SyncReport:
    """Push, then pull. With ``station`` None (unattended, locked) pulls go to the inbox.
    Setting ``stop`` ends it after the batch under way (each batch is durable on its own).
    Only one sync of a station runs at a time (``only_sync``)."""
    with only_sync(sync.home):
        return _sync_once(sync, link, station=station, progress=progress, stop=stop)


@contextmanager
def only_sync(home: Path) -> Iterator[None]:
    """Hold this station's sync lock, or raise ``SyncBusy`` at once if another sync (the
    app's, a cron ``sync --unattended``, a ``--watch``, in any process) holds it. Two at
    once would send the same outbox twice over the village link and each report the other's
    work as 'already at the centre'. The lock is the operating system's, on a file in the
    station's home, so a sync that crashed or was killed leaves none behind."""
    lock = FileLock(home / SYNC_LOCK, blocking=False)
    try:
        lock.acquire()
    except Timeout:
        raise SyncBusy() from None
    try:
        yield
    finally:
        lock.release()


def _sync_once(sync: SyncState, link: CentreClient, *, station: Station | None,
               progress: ProgressFn | None, stop: threading.Event | None) -> SyncReport:
    report, start = SyncReport(), time.monotonic()
    if station is not None:
        merge_kept(station, report)  # anything pulled while locked merges first
    push(sync, link, report, progress=progress, stop=stop)
    if not (stop and stop.is_set()):
        pull(sync, link, report, station=station, progress=progress, stop=stop)
    report.took_s = time.monotonic() - start
    report.clock_offset_ms = link.offset_ms
    sync.note_clock(link.offset_ms)
    return report


def merge_kept(station: Station, report: SyncReport | None = None) -> SyncReport:
    """Merge the downlink an unattended sync kept sealed while the vault was locked — its
    report said "N batches waiting for unlock" — counted into ``report``. Run at every
    unlock, and first in a sync or a reply bundle's import."""
    report = report if report is not None else SyncReport(carried=True)
    report.add_drained(station.drain_inbox())
    return report
