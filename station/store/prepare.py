"""Building the rows of records new to this station on other cores: a big pull, an import.

A bus's first pull of the villages it serves brings tens of thousands of records the station
has never seen. Each costs ~0.2 ms of pure-Python CPU to decode, validate, merge, project,
compress and seal, and ~0.1 ms to write — on one core, while the other waits. Here a process
does the first part for a slice of the batch (assuming every record in it is new) while the
station writes the slice before; the ledger uses what comes back only for records that are
in fact new and whose changesets it has not seen, and merges everything else itself.

An import of a village's list is the same work for changesets the station makes itself: it
validates the rows and makes their changesets, the processes turn chunks of them into rows
(and the sealed outbox copies, once the station is enrolled), and it writes them as they come
back — or, rather than wait for the processes, takes a chunk back and builds it itself.

The workers hold the vault's data key, as the station process does (and, for an import by an
enrolled station, its signing key); they get them over the pipe they were started with, and
they end with the pull or the import that started them. Like the centre's check processes,
they are started with "spawn": a script that embeds the store must guard its entry point
with ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    ProcessPoolExecutor,
)
from typing import Any, NamedTuple, TypeVar

from station.domain import merge
from station.domain.changeset import Changeset
from station.domain.gc_pause import paused_gc
from station.domain.processes import end_with_parent
from station.domain.rules import check_changeset
from station.store.projection import view
from station.store.rows import NewRows, Row, RowBuilder, Sealing, conflict_rows
from station.store.vault import Keys
from station.wire.codec import decode_changeset

SLICE = 250  # changesets a worker prepares at a time: small enough to keep both cores busy
WORKERS = 2
AHEAD = 2 * WORKERS + 1  # slices given out before the first is waited for
_S = TypeVar("_S")
_T = TypeVar("_T")


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


def _start(dek: bytes, sealing: tuple[str, bytes, bytes] | None) -> None:
    global _rows
    end_with_parent()
    _rows = RowBuilder(Keys(dek), None if sealing is None else Sealing.from_plain(sealing))


def new_rows(changesets: Sequence[Changeset]) -> list[NewRows]:
    """The rows of the new records these changesets make, one changeset each (an import)."""
    assert _rows is not None
    with paused_gc():
        return [_rows.new_record(cs) for cs in changesets]


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


def _take_back(ahead: deque[tuple[_S, Future[_T] | None]]) -> None:
    """Take back the newest part no process has started yet: the caller builds it when it
    gets there, rather than wait idle for the processes now."""
    part, future = ahead[-1]
    if future is not None and future.cancel():
        ahead[-1] = (part, None)


class Preparer:
    """Processes that build rows ahead of the ledger, slice by slice, in order."""

    def __init__(self, dek: bytes, sealing: Sealing | None = None) -> None:
        self._dek = dek
        self._sealing = None if sealing is None else sealing.plain()
        self._pool: Executor | None = None

    def _stream(self, fn: Callable[..., _T], parts: Iterable[_S], *args: Any,
                take_back: bool = False) -> Iterator[tuple[_S, _T | None]]:
        """Each part with ``fn(part, *args)`` from a process, in order. A few parts are
        worked on ahead while the caller writes earlier ones (and makes later ones: ``parts``
        is read only that far ahead). A part comes with None when the ledger is to do it
        itself: all those left when a process dies, and with ``take_back`` (when the caller
        builds a part as fast as a process does) one whenever it would wait for them."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # the sync runs in a thread
            self._pool = ProcessPoolExecutor(WORKERS, mp_context=context, initializer=_start,
                                             initargs=(self._dek, self._sealing))
        pool: Executor | None = self._pool
        ahead: deque[tuple[_S, Future[_T] | None]] = deque()

        def done(part: _S, future: Future[_T] | None) -> tuple[_S, _T | None]:
            nonlocal pool
            try:
                return part, (future.result() if future is not None else None)
            except (BrokenExecutor, CancelledError):
                self.close()
                pool = None
                return part, None

        for part in parts:
            future = None
            if pool is not None:
                try:
                    future = pool.submit(fn, part, *args)
                except BrokenExecutor:
                    self.close()
                    pool = None
            ahead.append((part, future))
            if len(ahead) > AHEAD:
                oldest = ahead[0][1]
                if take_back and oldest is not None and not oldest.done():
                    _take_back(ahead)
                yield done(*ahead.popleft())
        while ahead:
            yield done(*ahead.popleft())

    def slices(self, encoded: Sequence[bytes],
               today: dt.date) -> Iterator[tuple[Sequence[bytes], list[Prepared] | None]]:
        """Each slice of a downlink batch with the rows of its records, assumed new."""
        parts = (encoded[i:i + SLICE] for i in range(0, len(encoded), SLICE))
        return self._stream(prepare_slice, parts, today)

    def new_rows(self, parts: Iterable[Sequence[Changeset]]
                 ) -> Iterator[tuple[Sequence[Changeset], list[NewRows] | None]]:
        """Each part of an import's changesets with the rows they make."""
        return self._stream(new_rows, parts, take_back=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
