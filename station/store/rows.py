"""Turning changesets and merged states into the encrypted rows the store writes.

Kept apart from the ledger's SQL so the same code builds rows for a single save, a pull and
a bulk import. Everything here is CPU work over keys held in memory: no database, no files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from station.domain import merge
from station.domain.changeset import Changeset
from station.store.projection import Record, blind_values, columns, view
from station.store.vault import Keys
from station.wire.codec import encode_changeset, pack_state
from station.wire.envelope import seal_changeset
from station.wire.keys import Signer

RECORD_COLUMNS = ("id", "kind", "scope", "receipt", "status", "round", "matter", "channel",
                  "received_on", "promised_date", "next_due", "closed_on", "last_contact",
                  "contact_months", "rating", "rated_on", "followup_open", "conflicts",
                  "created", "updated", "version", "state", "label")
INSERT_RECORD = (f"INSERT INTO records({', '.join(RECORD_COLUMNS)}) "
                 f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})")
# the columns the records table's indexes hold (station/store/schema.py): SQLite rewrites an
# index entry whenever an UPDATE sets its column, even to the same value, and each index
# touched is one more page the commit writes and syncs
INDEXED_COLUMNS = ("receipt", "kind", "status", "next_due")
_INDEXED_AT = tuple(RECORD_COLUMNS.index(c) for c in INDEXED_COLUMNS)
_UNINDEXED_AT = tuple(i for i, c in enumerate(RECORD_COLUMNS)
                      if i > 0 and c not in INDEXED_COLUMNS)
UPDATE_RECORD = f"UPDATE records SET {', '.join(f'{c}=?' for c in RECORD_COLUMNS[1:])} WHERE id=?"
UPDATE_RECORD_UNINDEXED = (
    f"UPDATE records SET {', '.join(f'{RECORD_COLUMNS[i]}=?' for i in _UNINDEXED_AT)} "
    "WHERE id=?")
INSERT_CHANGESET = ("INSERT INTO changesets(id, record, origin, hlc, local, body) "
                    "VALUES (?,?,?,?,?,?)")
INSERT_OUTBOX = "INSERT OR IGNORE INTO outbox(changeset, sealed, created) VALUES (?,?,?)"
INSERT_BLIND = "INSERT OR IGNORE INTO blind_index(token, record) VALUES (?,?)"
INSERT_CONFLICT = "INSERT INTO conflicts(record, field, heads, opened) VALUES (?,?,?,?)"

Row = tuple[Any, ...]


def indexed(row: Row) -> Row:
    """The values of a record row (in ``RECORD_COLUMNS`` order) that the indexes hold."""
    return tuple(row[i] for i in _INDEXED_AT)


def update_record(row: Row, was_indexed: Row) -> tuple[str, Row]:
    """The UPDATE of a record to ``row`` and its parameters: one that leaves the indexed
    columns alone when they hold ``was_indexed`` already, so their index pages stay clean."""
    if indexed(row) == was_indexed:
        return UPDATE_RECORD_UNINDEXED, (*(row[i] for i in _UNINDEXED_AT), row[0])
    return UPDATE_RECORD, (*row[1:], row[0])


def conflict_rows(record: Record) -> list[Row]:
    """The ``conflicts`` rows of a record: field, how many heads, when the oldest was made."""
    return [(record.id, c.field, len(c.heads), min(h.hlc for h in c.heads))
            for c in record.conflicts]


@dataclass
class Sealing:
    """What sealing at write time needs: our signing key and the pinned centre key."""

    station: str
    signer: Signer
    centre_public: bytes

    def plain(self) -> tuple[str, bytes, bytes]:
        """As plain bytes, for a process of our own that seals on another core."""
        return self.station, self.signer.private_bytes(), self.centre_public

    @classmethod
    def from_plain(cls, plain: tuple[str, bytes, bytes]) -> Sealing:
        station, private, centre_public = plain
        return cls(station, Signer.from_bytes(private), centre_public)


class NewRows(NamedTuple):
    """Everything one new record writes: its changeset, outbox copy, record row, tokens
    (plain data: it may be built on another core)."""

    changeset: Row
    outbox: Row | None
    record: Row
    blind: tuple[Row, ...]
    receipt: str | None


class RowBuilder:
    def __init__(self, keys: Keys, sealing: Sealing | None) -> None:
        self.keys = keys
        self.sealing = sealing

    def changeset_row(self, cs: Changeset, encoded: bytes, *, local: bool) -> Row:
        return (cs.id, cs.record, cs.origin, cs.hlc.encode(), int(local),
                self.keys.seal("changesets", encoded, f"changesets|{cs.id}|1"))

    def outbox_row(self, cs: Changeset, encoded: bytes) -> Row | None:
        """The sealed, signed copy for the centre, once the station is enrolled."""
        if self.sealing is None:
            return None
        sealed = seal_changeset(encoded, changeset_id=cs.id, station=self.sealing.station,
                                signer=self.sealing.signer,
                                centre_public=self.sealing.centre_public)
        return (cs.id, sealed, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def tokens(self, record: Record) -> set[bytes]:
        return {self.keys.blind(what, value) for what, value in blind_values(record)}

    def record_row(self, record: Record, state: merge.State, version: int) -> Row:
        cols = columns(record, version)
        cols["state"] = self.keys.seal("records", pack_state(merge.dump(state)),
                                       f"records|{record.id}|{version}")
        cols["label"] = self.keys.seal("labels", record.name.encode(),
                                       f"labels|{record.id}|{version}")
        return tuple(cols[c] for c in RECORD_COLUMNS)

    def new_record(self, cs: Changeset) -> NewRows:
        """The rows of a record made by this one changeset."""
        encoded = encode_changeset(cs)
        state = merge.empty(cs.kind, cs.record, cs.scope)
        merge.apply(state, cs)
        record = view(state)
        return NewRows(self.changeset_row(cs, encoded, local=True),
                       self.outbox_row(cs, encoded), self.record_row(record, state, 1),
                       tuple((token, record.id) for token in self.tokens(record)),
                       record.receipt)
