"""What sync needs from the store that does not need the vault: the outbox, the inbox, the
cursor and the pinned centre.

Everything here works while the vault is locked, which is what makes unattended batch sync
possible: outbox items were sealed to the centre when they were committed, downlink batches
are checked against the centre's pinned signing key and kept sealed in the inbox until an
agent unlocks, and requests are signed with the transport key (a separate file).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from station.store import db as dbmod
from station.store.errors import StoreError
from station.store.home import load_transport_key
from station.wire.downlink import BatchHeader, verify_batch
from station.wire.keys import Signer


class NotEnrolled(StoreError):
    code = "store.not_enrolled"
    zh = "本站尚未在镇中心登记；请先运行 station enroll 登记码"
    en = "This station is not enrolled with a town centre yet; run `station enroll CODE` first"


@dataclass(frozen=True)
class CentrePin:
    """The centre this station trusts: pinned at enrollment from the code's fingerprint."""

    url: str
    sign_public: bytes
    seal_public: bytes
    fingerprint: str
    scope: tuple[str, ...]


@dataclass(frozen=True)
class KeptBatch:
    """A downlink batch kept sealed in the inbox; ``batch`` is its range, "after-upto"."""

    seq: int
    batch: str
    sealed: bytes

    @property
    def after(self) -> int:
        """Where the batch began: the cursor to go back to if it never merges."""
        return int(self.batch.split("-", 1)[0])


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    changeset: str
    sealed: bytes


def _meta(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key=?", [key]).fetchone()
    return row[0] if row else None


class SyncState:
    """Outbox, inbox, cursor and centre pin of one station database."""

    def __init__(self, home: Path, db: sqlite_utils.Database) -> None:
        self.home = home
        self.db = db

    @classmethod
    def open_locked(cls, home: Path) -> SyncState:
        """For unattended sync: no passphrase, no access to any record."""
        db = dbmod.connect(dbmod.db_path(home))
        try:
            dbmod.check_station(db)
        except BaseException:
            db.close()
            raise
        dbmod.migrate(db)
        return cls(home, db)

    def close(self) -> None:
        self.db.close()

    @property
    def station(self) -> str:
        return _meta(self.db, "station") or ""

    def transport(self) -> Signer:
        return load_transport_key(self.home)

    # --- the pinned centre ---------------------------------------------------------------

    def centre(self) -> CentrePin:
        raw = _meta(self.db, "centre")
        if raw is None:
            raise NotEnrolled()
        data = json.loads(raw)
        return CentrePin(data["url"], bytes.fromhex(data["sign_public"]),
                         bytes.fromhex(data["seal_public"]), data["fingerprint"],
                         tuple(data["scope"]))

    def enrolled(self) -> bool:
        return _meta(self.db, "centre") is not None

    def set_centre(self, pin: CentrePin) -> None:
        """Call inside a write transaction (the outbox is sealed in the same one)."""
        value = json.dumps({"url": pin.url, "sign_public": pin.sign_public.hex(),
                            "seal_public": pin.seal_public.hex(),
                            "fingerprint": pin.fingerprint, "scope": list(pin.scope)})
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('centre', ?)", [value])
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES "
                        "('centre.seal_public', ?)", [pin.seal_public.hex()])

    # --- outbox --------------------------------------------------------------------------

    def outbox(self, limit: int, max_bytes: int, *, after: int = 0) -> list[OutboxItem]:
        """The oldest unsent, unrefused items after queue position ``after``, at most
        ``limit`` and about ``max_bytes``."""
        out, size = [], 0
        for seq, cid, sealed in self.db.execute(
                "SELECT seq, changeset, sealed FROM outbox WHERE refused IS NULL AND seq > ? "
                "ORDER BY seq LIMIT ?", [after, limit]):
            if out and size + len(sealed) > max_bytes:
                break
            out.append(OutboxItem(seq, cid, sealed))
            size += len(sealed)
        return out

    def unsent(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox WHERE refused IS NULL").fetchone()[0]

    def ack(self, changesets: list[str]) -> int:
        """The centre has them: drop the sealed copies, mark the changesets sent. Only ids
        in the outbox count: the centre acknowledges work this station sent, so any other
        id (another station's, or one received from the centre) changes nothing. Returns
        how many left the outbox."""
        with dbmod.write(self.db):
            sent = {cid: row[0] for cid in changesets if (row := self.db.execute(
                "SELECT hlc FROM changesets JOIN outbox ON outbox.changeset = changesets.id "
                "WHERE changesets.id=?", [cid]).fetchone())}
            if sent:  # see own_held_upto
                self.db.execute("INSERT INTO meta(key, value) VALUES ('own_held', ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
                                [max(sent.values())])
            rows = [(cid,) for cid in sent]
            self.db.conn.executemany("UPDATE changesets SET acked=1 WHERE id=?", rows)
            self.db.conn.executemany("DELETE FROM outbox WHERE changeset=?", rows)
            return len(sent)

    def mark_exported(self, changesets: list[str]) -> None:
        """Written to a bundle: ``init --force`` no longer has to refuse over these."""
        with dbmod.write(self.db):
            for cid in changesets:
                self.db.execute("UPDATE changesets SET exported=1 WHERE id=?", [cid])

    def quarantine(self, changeset: str, reason: dict[str, Any]) -> None:
        """The centre refused this one: keep it, with the reason, out of the queue."""
        with dbmod.write(self.db):
            self.db.execute("UPDATE outbox SET refused=? WHERE changeset=?",
                            [json.dumps(reason, ensure_ascii=False), changeset])

    def requeue_refused(self) -> int:
        """Put what the centre refused back in the queue, once the cause is mended at the
        centre (a bus's scope, a catalogue); how many. One refused again is set aside again,
        with the centre's new reason: nothing is lost either way."""
        with dbmod.write(self.db):
            return int(self.db.execute(
                "UPDATE outbox SET refused=NULL WHERE refused IS NOT NULL").rowcount)

    def quarantined(self) -> list[tuple[str, dict[str, Any]]]:
        return [(cid, json.loads(reason)) for cid, reason in self.db.execute(
            "SELECT changeset, refused FROM outbox WHERE refused IS NOT NULL ORDER BY seq")]

    # --- what the dashboard shows about sync ---------------------------------------------

    def note_clock(self, offset_ms: int) -> None:
        """After a sync: when it happened, and how far our clock is from the centre's."""
        with dbmod.write(self.db):
            for key, value in (("sync.last", dt.datetime.now(dt.UTC).isoformat(
                    timespec="seconds")), ("sync.clock_offset_ms", str(offset_ms))):
                self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                                [key, value])

    def note_carried(self, centre_time_ms: int) -> None:
        """After a reply bundle is merged: the station is as up to date as the centre was
        when it made the reply, so that is its last sync (a station that only ever syncs by
        USB stick would otherwise read "never synced"). The clock offset is left alone: a
        stick's days on the road say nothing about this computer's clock."""
        made = dt.datetime.fromtimestamp(centre_time_ms / 1000, dt.UTC)
        last = _meta(self.db, "sync.last")
        if last is None or dt.datetime.fromisoformat(last) < made:
            with dbmod.write(self.db):
                self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES "
                                "('sync.last', ?)", [made.isoformat(timespec="seconds")])

    def last_sync(self) -> tuple[str | None, int]:
        """(when the last sync finished, ISO UTC; our clock's offset from the centre's, ms)."""
        return _meta(self.db, "sync.last"), int(_meta(self.db, "sync.clock_offset_ms") or 0)

    # --- cursor and inbox ----------------------------------------------------------------

    def own_held_upto(self) -> str:
        """The newest changeset of this install's that the centre has acknowledged (after a
        push or a carried bundle), as its encoded HLC ("" for none), kept up to date by
        ``ack``. A pull names it, so the centre leaves out only those of our own: after a
        restore from an older backup (whose value is older too), what this install sent and
        then lost comes back. Those come back again, as duplicates, until the next ack."""
        return _meta(self.db, "own_held") or ""

    def cursor(self) -> int:
        return int(_meta(self.db, "cursor") or 0)

    def set_cursor(self, value: int) -> None:
        """Call inside the transaction that made the batch durable."""
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('cursor', ?)",
                        [str(value)])

    def keep_in_inbox(self, blob: bytes) -> BatchHeader:
        """A downlink batch pulled while locked: checked against the centre's signature,
        then kept sealed, with the cursor advanced in the same transaction. One with no
        entries is not kept: every unattended sync with nothing new would otherwise add one,
        and the app would merge nothing at unlock."""
        head = verify_batch(blob, self.centre().sign_public)
        with dbmod.write(self.db):
            if head.count:  # an empty one ("nothing new") has nothing to merge at unlock
                self.db.execute(
                    "INSERT OR IGNORE INTO inbox(batch, sealed, received) VALUES (?,?,?)",
                    [f"{head.after}-{head.upto}", blob,
                     dt.datetime.now(dt.UTC).isoformat(timespec="seconds")])
            self.advance_cursor(head)
        return head

    def advance_cursor(self, head: BatchHeader) -> None:
        """Past a batch made durable here (call inside that transaction): to its ``upto``
        when it continues from this station's cursor. One that starts further on — a reply
        bundle made for a later state, imported after a restore from backup — is applied but
        leaves the cursor, so the entries in between are pulled again instead of skipped."""
        cursor = self.cursor()
        if head.after <= cursor < head.upto:
            self.set_cursor(head.upto)

    def kept(self) -> int:
        """How many downlink batches wait in the inbox to be merged at unlock."""
        return int(self.db.execute("SELECT count(*) FROM inbox").fetchone()[0])

    def kept_batches(self) -> list[KeptBatch]:
        """The inbox, oldest first, with each batch's range."""
        return [KeptBatch(seq, batch, blob) for seq, batch, blob in self.db.execute(
            "SELECT seq, batch, sealed FROM inbox ORDER BY seq")]

    def merged_kept(self, kept: KeptBatch) -> None:
        """The batch is merged: it leaves the inbox."""
        with dbmod.write(self.db):
            self.db.execute("DELETE FROM inbox WHERE seq=?", [kept.seq])

    def rewind_cursor(self, to: int) -> None:
        """Back to ``to`` if the cursor is past it, so the next pull brings those entries
        again: the cursor moved past a kept batch when it was kept, and a batch that then
        does not merge would otherwise never come back. Pulling twice is harmless (a
        changeset already here is counted a duplicate and changes nothing)."""
        with dbmod.write(self.db):
            if self.cursor() > to:
                self.set_cursor(to)

    def set_aside(self, kept: KeptBatch, reason: str) -> None:
        """A kept batch that can never merge (damaged on disk, or signed or sealed with keys
        this station no longer holds) leaves the inbox, sealed as it is, and the cursor goes
        back to where it began, in one transaction: its entries come again with the next
        pull, and a fresh copy of the same range can be kept."""
        with dbmod.write(self.db):
            self.db.execute(
                "INSERT INTO inbox_set_aside(batch, sealed, received, set_aside, reason) "
                "SELECT batch, sealed, received, ?, ? FROM inbox WHERE seq=?",
                [dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), reason, kept.seq])
            self.db.execute("DELETE FROM inbox WHERE seq=?", [kept.seq])
            self.rewind_cursor(kept.after)
