"""The centre's merged view of each record, kept up with the log.

The log is the source of truth; the ``records`` table (what a staff decision or a report
reads) is derived from it by merging each record's changesets with the same rules as the
stations. Pushes only append to the log, so a push pays for checking and storing, not for
re-merging records while it holds the append lock (which every centre process shares on
PostgreSQL). The projector follows in the background and is always caught up,
synchronously, before anything reads the view.

In the background it gives way to the stations: while a push or a pull is being served, or
a station's requests keep coming, it waits for a pause (``QUIET_S``) and stops between its
own batches. A station on a short connectivity window gets its work acknowledged and its
downlink sooner (projection was two fifths of the server process's CPU during a
100 000-changeset push, and it slowed the pull that came next as much). It never falls more
than ``MAX_LAG_S`` behind, which bounds what the first staff read after a long sync waits for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import orjson

from station.centre.repo import CentreRecord, Repository
from station.domain import merge
from station.domain.changeset import Changeset
from station.domain.followup import facts_from
from station.domain.gc_pause import paused_gc
from station.wire.codec import decode_changeset, pack_state, unpack_state

if TYPE_CHECKING:
    from station.centre.service import Storage

CURSOR = "projected_seq"
BATCH = 2000
HINTS_MAX = 10_000  # decoded changesets kept for the projector; beyond, it decodes again
QUIET_S = 2.0  # a sync's requests come back to back: a gap this long means it has ended
MAX_LAG_S = 120.0

log = logging.getLogger("station.centre")


class Projector:
    def __init__(self, repo: Repository, storage: Storage, now_ms: Callable[[], int], *,
                 quiet_s: float = QUIET_S, max_lag_s: float = MAX_LAG_S) -> None:
        self.repo = repo
        self.storage = storage
        self.now_ms = now_ms
        self.quiet_s = quiet_s
        self.max_lag_s = max_lag_s
        self._serving = 0  # station requests being served right now
        self._serving_lock = threading.Lock()
        self._last_served = 0.0  # time.monotonic() of the end of the last one
        self._behind_since: float | None = None  # of the oldest nudge not yet projected
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoded: dict[str, Changeset] = {}

    def state(self, rec: CentreRecord) -> merge.State:
        return merge.load(unpack_state(self.storage.open("records", rec.state,
                                                         f"records|{rec.id}|{rec.version}")))

    def catch_up(self, *, give_way: Callable[[], bool] | None = None) -> bool:
        """Merge every logged changeset not yet in the view: True once none is left, False
        if it stopped between batches because ``give_way`` said so."""
        if not self._pending():
            self._decoded.clear()  # any left were projected by another process
            return True
        while not (give_way and give_way()):
            with self.repo.projecting(self.now_ms()) as tx, paused_gc():
                cursor = int(tx.setting(CURSOR) or 0)
                entries = tx.log_after(cursor, BATCH)
                if not entries:
                    self._decoded.clear()  # any left were projected by another process
                    return True
                states: dict[str, merge.State] = {}
                versions: dict[str, int] = {}
                stored = tx.records(list({e.record for e in entries if e.record is not None}))
                for entry in entries:
                    if entry.kind != "changeset" or entry.record is None:
                        continue
                    if entry.record not in states:
                        current = stored.get(entry.record)
                        versions[entry.record] = current.version if current else 0
                        states[entry.record] = (self.state(current) if current else
                                                merge.empty(entry.record_kind or "application",
                                                            entry.record, entry.scope))
                    cs = self._decoded.pop(entry.id, None)
                    if cs is None:
                        cs = decode_changeset(self.storage.open("log", entry.body,
                                                                f"log|{entry.id}"))
                    merge.apply(states[entry.record], cs)
                tx.save_records([self._row(rid, state, versions[rid] + 1)
                                 for rid, state in states.items()])
                tx.set_setting(CURSOR, str(entries[-1].seq))
        return False

    def _pending(self) -> bool:
        """Whether the log holds anything past the view's cursor, found by reads alone: the
        staff's lists and figures, which catch up first, then wait for no write lock when
        nothing is new (another centre process writing the SQLite file held each of them
        for the whole wait, then answered 503)."""
        return self.repo.head() > int(self.repo.setting(CURSOR) or 0)

    def _row(self, rid: str, state: merge.State, version: int) -> CentreRecord:
        fields = merge.fields(state)
        status = fields["status"]["to"]
        facts = facts_from(state["kind"], rid, state["scope"], status, fields)
        return CentreRecord(rid, state["kind"], state["scope"], fields.get("receipt"),
                            status, fields.get("matter"), fields.get("channel"),
                            state["first"], state["last"], version,
                            self.storage.seal("records", pack_state(merge.dump(state)),
                                              f"records|{rid}|{version}"),
                            orjson.dumps(facts).decode(),  # orjson writes dataclasses
                            ",".join(c.field for c in merge.conflicts(state)))

    # --- following the log in the background ----------------------------------------------

    def nudge(self, logged: Sequence[Changeset] = ()) -> None:
        """New entries were logged: catch up soon, off the request's path.

        ``logged`` are those changesets as the push already decoded them: the projector
        takes them from here instead of decrypting and decoding each again (a third of its
        work), as long as it is not too far behind."""
        if len(self._decoded) < HINTS_MAX:
            self._decoded.update((cs.id, cs) for cs in logged)
        if self._behind_since is None:
            self._behind_since = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="projector", daemon=True)
            self._thread.start()
        self._wake.set()

    @contextmanager
    def serving_station(self) -> Iterator[None]:
        """Around a push or a pull: the background projector waits for it."""
        with self._serving_lock:
            self._serving += 1
        try:
            yield
        finally:
            with self._serving_lock:
                self._serving -= 1
                self._last_served = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            while not self._stop.is_set() and self._stations_busy():
                self._stop.wait(self.quiet_s / 4)
            if self._stop.is_set():
                return
            try:
                if self.catch_up(give_way=self._stations_busy):
                    self._behind_since = None
                else:
                    self._wake.set()  # gave way to a station: wait for it, then go on
            except Exception:  # logged; the next nudge or decision tries again
                log.exception("projector")

    def _stations_busy(self) -> bool:
        """A station is syncing, and the view is not yet too far behind to wait for it (once
        it is, the projector catches up whatever keeps arriving)."""
        now = time.monotonic()
        behind = self._behind_since
        return ((self._serving > 0 or now - self._last_served < self.quiet_s)
                and (behind is None or now - behind < self.max_lag_s))

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
