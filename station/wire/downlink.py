"""Downlink batches: what a station pulls, sealed to it and signed by the centre.

Layout (big-endian)::

    "DL" | version=1 | station (1-byte length + ASCII) | after (u64) | upto (u64)
         | centre time ms (u64) | entries (u32) | complete (u8) | key id (8)
         | payload length (u32) | HPKE payload | signature

The header is clear (cursors, the centre's time, how many entries, whether the station is
now up to date, which station key opens it) so a station
whose vault is locked can still check the centre's signature and keep the batch in its
inbox until an agent unlocks. The payload is a framed list of entries, each
``kind (1) | seq (u64) | data``: a changeset (encoded, as sealed on the way up), a new
matter catalogue (JSON), or — in the downlink a carried pull request asked for — an
acknowledgement: the ids of the changesets it named that the centre holds from this station
(JSON list, seq 0: it is no log entry). An acknowledgement is trusted because it is in here:
signed by the centre and sealed to the station, unlike the reply bundle's header around it.
A station skips kinds it does not know, so the centre can add kinds without breaking one.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from station.wire.errors import BadSignature, CannotOpen, Malformed
from station.wire.framing import pack, unpack
from station.wire.keys import OpenFailed, SealKey, Signer, key_id, seal, verify

MAGIC = b"DL"
VERSION = 1
_HEAD = struct.Struct(">QQQIB")
_ENTRY = struct.Struct(">BQ")
_INFO = b"station/downlink/v1|"
SIG_LEN = 64
ENTRY_CHANGESET = 1
ENTRY_CATALOGUE = 2
ENTRY_ACK = 3
MAX_ENTRIES = 20_000
MAX_ENTRY = 512 * 1024


@dataclass(frozen=True)
class Entry:
    kind: int
    seq: int
    data: bytes


@dataclass(frozen=True)
class BatchHeader:
    station: str
    after: int
    upto: int
    centre_time_ms: int
    count: int
    complete: bool  # nothing more after ``upto`` for this station right now
    key_id: bytes
    payload_start: int
    payload_end: int


def seal_batch(entries: list[Entry], *, station: str, after: int, upto: int, complete: bool,
               centre_time_ms: int, station_public: bytes, signer: Signer) -> bytes:
    st = station.encode("ascii")
    head = (MAGIC + bytes([VERSION, len(st)]) + st
            + _HEAD.pack(after, upto, centre_time_ms, len(entries), int(complete))
            + key_id(station_public))
    payload = pack(b"DLP1", [_ENTRY.pack(e.kind, e.seq) + e.data for e in entries])
    sealed = seal(payload, station_public, info=_INFO + head)
    body = head + struct.pack(">I", len(sealed)) + sealed
    return body + signer.sign(body)


def read_batch_header(blob: bytes) -> BatchHeader:
    if len(blob) < 4 or blob[:2] != MAGIC:
        raise Malformed(what="downlink batch", detail="not a station downlink batch")
    if blob[2] != VERSION:
        raise Malformed(what="downlink batch", detail=f"unknown version {blob[2]}")
    n = blob[3]
    pos = 4 + n
    if len(blob) < pos + _HEAD.size + 8 + 4 + SIG_LEN:
        raise Malformed(what="downlink batch", detail="truncated")
    try:
        station = blob[4:pos].decode("ascii")
    except UnicodeDecodeError:
        raise Malformed(what="downlink batch", detail="bad station id") from None
    after, upto, centre_time, count, complete = _HEAD.unpack_from(blob, pos)
    pos += _HEAD.size
    kid = blob[pos:pos + 8]
    (length,) = struct.unpack_from(">I", blob, pos + 8)
    start = pos + 12
    if start + length + SIG_LEN != len(blob):
        raise Malformed(what="downlink batch", detail="truncated or padded")
    return BatchHeader(station, after, upto, centre_time, count, bool(complete), kid, start,
                       start + length)


def verify_batch(blob: bytes, centre_public: bytes) -> BatchHeader:
    """Check the centre's signature (no private key needed): ``BadSignature`` if altered."""
    head = read_batch_header(blob)
    if not verify(centre_public, blob[-SIG_LEN:], blob[:-SIG_LEN]):
        raise BadSignature(what="downlink batch", item=f"{head.after}–{head.upto}",
                           station="centre")
    return head


def open_batch(blob: bytes, head: BatchHeader, key: SealKey) -> list[Entry]:
    """The entries of a verified batch, opened with the station's own key."""
    try:
        payload = key.open(blob[head.payload_start:head.payload_end],
                           info=_INFO + blob[:head.payload_start - 4])
    except OpenFailed as exc:
        raise CannotOpen(what="downlink batch", item=f"{head.after}–{head.upto}",
                         station="centre", detail=str(exc)) from None
    entries = []
    for raw in unpack(b"DLP1", payload, what="downlink batch", max_items=MAX_ENTRIES,
                      max_item=MAX_ENTRY + _ENTRY.size):
        if len(raw) < _ENTRY.size:
            raise Malformed(what="downlink batch", detail="short entry")
        kind, seq = _ENTRY.unpack_from(raw)
        entries.append(Entry(kind, seq, raw[_ENTRY.size:]))
    return entries


def ack_entry(changesets: Sequence[str]) -> Entry:
    """The entry that tells a station the centre holds these changesets of its own."""
    return Entry(ENTRY_ACK, 0, json.dumps(list(changesets)).encode())


def acked(entry: Entry) -> list[str]:
    """The changeset ids an acknowledgement entry names."""
    try:
        ids = json.loads(entry.data)
    except (ValueError, RecursionError):
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Malformed(what="downlink batch", detail="bad acknowledgement entry",
                        detail_zh="收讫确认条目有误")
    return ids
