"""The centre's merged view of each record, kept up with the log.

The log is the source of truth; the ``records`` table (what a staff decision or a report
reads) is derived from it by merging each record's changesets with the same rules as the
stations. Pushes only append to the log, so a push pays for checking and storing, not for
re-merging records while it holds the append lock (which every centre process shares on
PostgreSQL). The projector follows in the background after each push and is always caught
up, synchronously, before anything reads the view.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import orjson

from station.centre.repo import CentreRecord, Repository
from station.domain import merge
from station.domain.changeset import Changeset
from station.domain.followup import facts_from
from station.wire.codec import decode_changeset, pack_state, unpack_state

if TYPE_CHECKING:
    from station.centre.service import Storage

CURSOR = "projected_seq"
BATCH = 2000
HINTS_MAX = 10_000  # decoded changesets kept for the projector; beyond, it decodes again

log = logging.getLogger("station.centre")


class Projector:
    def __init__(self, repo: Repository, storage: Storage, now_ms: Callable[[], int]) -> None:
        self.repo = repo
        self.storage = storage
        self.now_ms = now_ms
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoded: dict[str, Changeset] = {}

    def state(self, rec: CentreRecord) -> merge.State:
        return merge.load(unpack_state(self.storage.open("records", rec.state,
                                                         f"records|{rec.id}|{rec.version}")))

    def catch_up(self) -> int:
        """Merge every logged changeset not yet in the view; returns how many."""
        done = 0
        while True:
            with self.repo.projecting(self.now_ms()) as tx:
                cursor = int(tx.setting(CURSOR) or 0)
                entries = tx.log_after(cursor, BATCH)
                if not entries:
                    self._decoded.clear()  # any left were projected by another process
                    return done
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
                done += len(entries)

    def _row(self, rid: str, state: merge.State, version: int) -> CentreRecord:
        fields = merge.fields(state)
        status = fields["status"]["to"]
        facts = facts_from(state["kind"], rid, state["scope"], status, fields)
        return CentreRecord(rid, state["kind"], state["scope"], fields.get("receipt"),
                            status, fields.get("matter"), fields.get("channel"),
                            state["first"], state["last"], version,
                            self.storage.seal("records", pack_state(merge.dump(state)),
                                              f"records|{rid}|{version}"),
                            orjson.dumps(facts).decode())  # orjson writes dataclasses

    # --- following the log in the background ----------------------------------------------

    def nudge(self, logged: Sequence[Changeset] = ()) -> None:
        """New entries were logged: catch up soon, off the request's path.

        ``logged`` are those changesets as the push already decoded them: the projector
        takes them from here instead of decrypting and decoding each again (a third of its
        work), as long as it is not too far behind."""
        if len(self._decoded) < HINTS_MAX:
            self._decoded.update((cs.id, cs) for cs in logged)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="projector", daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.catch_up()
            except Exception:  # logged; the next nudge or decision tries again
                log.exception("projector")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
