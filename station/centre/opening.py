"""Checking sealed changesets on every core: signature, then AEAD, then every op.

This is most of what a push costs the centre (an Ed25519 verification and an HPKE open per
changeset, then parsing and validating the ops), all CPU work that one Python process cannot
spread over cores. So a batch is cut into chunks that a small process pool checks in
parallel; the results (or the reasons for refusal, which name the item) come back in order.
A pool is made only on machines with more than one core and for batches worth it.

The per-item work is a pure function of the blob and what the centre knows about its
station (its keys and villages), so it needs no database in the worker processes.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from station.domain.changeset import Changeset
from station.domain.errors import StationError
from station.domain.gc_pause import paused_gc
from station.domain.processes import end_with_parent
from station.domain.rules import check_changeset
from station.wire.codec import decode_changeset
from station.wire.envelope import open_changeset, read_header, verify_changeset
from station.wire.errors import BadSignature
from station.wire.keys import SealKey

POOL_FROM = 64  # smaller batches are checked here: the pool's round trip would cost more


class OriginMismatch(StationError):
    code = "centre.origin_mismatch"
    zh = "变更 {item} 声称来自 {claimed}，但由 {station} 签名"
    en = "Changeset {item} claims to come from {claimed} but was signed by {station}"


class OutOfScope(StationError):
    code = "centre.out_of_scope"
    zh = "站点 {station} 无权写入 {scope} 的记录"
    en = "Station {station} may not write records of {scope}"


@dataclass(frozen=True)
class Signers:
    """What the centre knows about the station a changeset says it is from."""

    station: str
    keys: tuple[bytes, ...]  # its current signing key first, then superseded ones
    scope: tuple[str, ...]


Checked = tuple[Changeset, bytes] | StationError

_seal_key: SealKey | None = None


def _start(seal_key: bytes) -> None:
    global _seal_key
    end_with_parent()
    _seal_key = SealKey.from_bytes(seal_key)


def check_one(blob: bytes, signers: Signers, seal_key: SealKey, today: dt.date) -> Checked:
    """The opened, validated changeset and its encoded bytes — or why it is refused."""
    try:
        head = read_header(blob)
        for i, key in enumerate(signers.keys):
            try:
                verify_changeset(blob, key)
                break
            except BadSignature:
                if i == len(signers.keys) - 1:
                    raise
        encoded = open_changeset(blob, head, seal_key)
        cs = decode_changeset(encoded)
        if cs.id != head.changeset_id or cs.origin != signers.station:
            raise OriginMismatch(item=head.changeset_id, claimed=cs.origin,
                                 station=signers.station)
        if cs.scope not in signers.scope:
            raise OutOfScope(station=signers.station, scope=cs.scope)
        check_changeset(cs, today=today)
    except StationError as exc:
        return exc
    return cs, encoded


def _ready(_: int) -> bool:
    return _seal_key is not None


def _check_chunk(items: list[tuple[bytes, Signers]], today: dt.date) -> list[Checked]:
    assert _seal_key is not None
    with paused_gc():
        return [check_one(blob, signers, _seal_key, today) for blob, signers in items]


class Opener:
    """Checks batches of sealed changesets, on every core when it pays."""

    def __init__(self, seal_key: SealKey, processes: int | None = None) -> None:
        self.seal_key = seal_key
        self.processes = processes if processes is not None else (os.cpu_count() or 1)
        self._pool: Executor | None = None

    def _executor(self) -> Executor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # the server has threads: no fork
            self._pool = ProcessPoolExecutor(self.processes, mp_context=context,
                                             initializer=_start,
                                             initargs=(self.seal_key.private_bytes(),))
        return self._pool

    def warm(self) -> None:
        """Start the worker processes now (a server at start-up), not on the first push."""
        if self.processes >= 2:
            list(self._executor().map(_ready, range(self.processes)))

    def check(self, items: Sequence[tuple[bytes, Signers]], today: dt.date) -> list[Checked]:
        if self.processes < 2 or len(items) < POOL_FROM:
            return [check_one(blob, signers, self.seal_key, today) for blob, signers in items]
        size = -(-len(items) // self.processes)
        chunks = [list(items[i:i + size]) for i in range(0, len(items), size)]
        results: list[Checked] = []
        for part in self._executor().map(_check_chunk, chunks, [today] * len(chunks)):
            results.extend(part)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

