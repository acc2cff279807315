"""Building the rows of records new to this station on another core, during a big pull.

A bus's first pull of the villages it serves brings tens of thousands of records the station
has never seen. Each costs ~0.2 ms of pure-Python CPU to decode, validate, merge, project,
compress and seal, and ~0.1 ms to write — on one core, while the other waits. Here a process
does the first part for a slice of the batch (assuming every record in it is new) while the
station writes the slice before; the ledger uses what comes back only for records that are
in fact new and whose changesets it has not seen, and merges everything else itself.

The worker holds the vault's data key, as the station process does; it gets it over the
pipe it was started with, and it ends with the pull (the station closes it at the batch that
completes one). Like the centre's check processes, it is started with "spawn": a script that
embeds the store must guard its entry point with ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from typing import NamedTuple

from station.domain import merge
from station.domain.gc_pause import paused_gc
from station.domain.rules import check_changeset
from station.store.projection import view
from station.store.rows import Row, RowBuilder, conflict_rows
from station.store.vault import Keys
from station.wire.codec import decode_changeset

SLICE = 250  # changesets a worker prepares at a time: small enough to keep both cores busy
WORKERS = 2


class Prepared(NamedTuple):
    """The rows of one record made entirely by changesets of one slice (plain data: it
    crosses a process boundary)."""

    record: str
    items: tuple[int, ...]  # positions of its changesets in the slice
    changesets: tuple[str, ...]
    hlcs: tuple[tuple[int, int, str], ...]
    changeset_rows: tuple[Row, ...]
    record_row: Row
    blind_rows: tuple[Row, ...]
    receipt: str | None
    conflicts: tuple[Row, ...]


_rows: RowBuilder | None = None


def _start(dek: bytes) -> None:
    global _rows
    _rows = RowBuilder(Keys(dek), None)


def prepare_slice(encoded: Sequence[bytes], today: dt.date,
                  rows: RowBuilder | None = None) -> list[Prepared] | None:
    """Every record of the slice merged from nothing, or None when anything in it is
    malformed or invalid (the ledger then takes the slice the ordinary way, which says why)."""
    rows = rows or _rows
    assert rows is not None
    try:
        with paused_gc():
            decoded = [decode_changeset(blob) for blob in encoded]
            by_record: dict[str, list[int]] = {}
            for i, cs in enumerate(decoded):
                check_changeset(cs, today=today, strict=False)
                by_record.setdefault(cs.record, []).append(i)
            out = []
            for rid, items in by_record.items():
                first = decoded[items[0]]
                state = merge.empty(first.kind, rid, first.scope)
                for i in items:
                    merge.apply(state, decoded[i])
                record = view(state)
                out.append(Prepared(
                    rid, tuple(items), tuple(decoded[i].id for i in items),
                    tuple((decoded[i].hlc.wall, decoded[i].hlc.counter, decoded[i].hlc.device)
                          for i in items),
                    tuple(rows.changeset_row(decoded[i], encoded[i], local=False)
                          for i in items),
                    rows.record_row(record, state, 1),
                    tuple((token, rid) for token in rows.tokens(record)),
                    record.receipt,
                    tuple(conflict_rows(record))))
            return out
    except Exception:  # any failure: the ledger does this slice itself, and says why
        return None


class Preparer:
    """A process that prepares slices of a big downlink batch ahead of the ledger."""

    def __init__(self, dek: bytes) -> None:
        self._dek = dek
        self._pool: Executor | None = None

    def slices(self, encoded: Sequence[bytes],
               today: dt.date) -> Iterator[tuple[Sequence[bytes], list[Prepared] | None]]:
        """Each slice with its prepared rows, in order; later slices are being prepared
        while the caller writes earlier ones. If the process dies, the slices left come
        with None (the ledger does them itself)."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # the sync runs in a thread
            self._pool = ProcessPoolExecutor(WORKERS, mp_context=context, initializer=_start,
                                             initargs=(self._dek,))
        parts = [encoded[i:i + SLICE] for i in range(0, len(encoded), SLICE)]
        results: Iterator[list[Prepared] | None] | None = self._pool.map(
            prepare_slice, parts, [today] * len(parts))
        for part in parts:
            prepared = None
            if results is not None:
                try:
                    prepared = next(results)
                except BrokenExecutor:
                    self.close()
                    results = None
            yield part, prepared

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
