"""Changeset bytes: canonical JSON, compressed before sealing (ciphertext does not compress).

The first byte names the format so that a newer dictionary can ship beside the old one:
``0x01`` zstd without a dictionary, ``0x02`` zstd with the shipped dictionary v1 (trained on
sample records; see ``station/wire/data``). Decoding refuses oversized output, so a hostile
"zip bomb" cannot exhaust memory.

zstd compressor and decompressor objects must not be shared between threads (the centre
serves requests from a thread pool; sharing them corrupts data), so each thread gets its own.
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import Any

import orjson
import zstandard

from station.domain.changeset import Changeset, peek_record
from station.wire.errors import Malformed

MAX_PLAIN = 256 * 1024
MAX_STATE = 64 * 1024 * 1024  # a record's merged state: our own, authenticated data
PLAIN_ZSTD = 0x01
DICT_V1 = 0x02
_LEVEL = 3


@cache
def _dictionary() -> zstandard.ZstdCompressionDict | None:
    path = resources.files("station.wire").joinpath("data/changeset-v1.zdict")
    if not path.is_file():
        return None
    return zstandard.ZstdCompressionDict(path.read_bytes())


_per_thread = threading.local()


def _compressor() -> tuple[int, zstandard.ZstdCompressor]:
    found = getattr(_per_thread, "compressor", None)
    if found is None:
        zdict = _dictionary()
        if zdict is None:
            found = PLAIN_ZSTD, zstandard.ZstdCompressor(level=_LEVEL, write_content_size=True)
        else:
            found = DICT_V1, zstandard.ZstdCompressor(level=_LEVEL, dict_data=zdict,
                                                      write_content_size=True,
                                                      write_dict_id=False)
        _per_thread.compressor = found
    return found


def _decompressor(tag: int) -> zstandard.ZstdDecompressor:
    cache_ = getattr(_per_thread, "decompressors", None)
    if cache_ is None:
        cache_ = _per_thread.decompressors = {}
    if tag not in cache_:
        if tag == DICT_V1:
            zdict = _dictionary()
            if zdict is None:
                raise Malformed(what="changeset",
                                detail="made with a dictionary this version lacks")
            cache_[tag] = zstandard.ZstdDecompressor(dict_data=zdict)
        else:
            cache_[tag] = zstandard.ZstdDecompressor()
    decompressor: zstandard.ZstdDecompressor = cache_[tag]
    return decompressor


def to_json_bytes(data: Any) -> bytes:
    """Canonical JSON: sorted keys, compact, UTF-8."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def compress(raw: bytes) -> bytes:
    tag, zc = _compressor()
    return bytes([tag]) + zc.compress(raw)


def decompress(blob: bytes, what: str = "changeset", limit: int = MAX_PLAIN) -> bytes:
    if not blob or blob[0] not in (PLAIN_ZSTD, DICT_V1):
        raise Malformed(what=what, detail="unknown compression")
    try:
        # A frame that declares its size gets a buffer of that size up front, whatever
        # max_output_size says: refuse an oversized declaration before allocating anything.
        if zstandard.frame_content_size(blob[1:]) > limit:
            raise Malformed(what=what, detail="too large")
        raw = _decompressor(blob[0]).decompress(blob[1:], max_output_size=limit,
                                                allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise Malformed(what=what, detail=str(exc)) from None
    if len(raw) > limit:
        raise Malformed(what=what, detail="too large")
    return raw


def pack_state(state_json: bytes) -> bytes:
    """A record's merged state as stored, compressed before it is sealed: a state is mostly
    op ids, timestamps and field names (a resident's 1.2 kB is 0.3 kB), and the records
    table is most of what a pull, an import or a save writes to disk."""
    return compress(state_json)


def unpack_state(blob: bytes) -> bytes:
    """The state's JSON; one stored before states were compressed (its first byte is "{")
    is read as it is."""
    return blob if blob[:1] == b"{" else decompress(blob, "record state", MAX_STATE)


def encode_changeset(cs: Changeset) -> bytes:
    """Compressed canonical bytes of a changeset: what gets sealed and stored."""
    return compress(to_json_bytes(cs.to_dict()))


def decode_changeset(blob: bytes) -> Changeset:
    raw = decompress(blob)
    try:
        data = orjson.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8 or JSON, a 5000-digit int, [[[[…]]]]
        raise Malformed(what="changeset", detail="not JSON") from None
    return Changeset.from_dict(data)


def peek_changeset(blob: bytes) -> tuple[str | None, str | None]:
    """The record id and receipt of a changeset's bytes that ``decode_changeset`` refuses
    (``peek_record``); ``(None, None)`` when they are not even compressed JSON."""
    try:
        return peek_record(orjson.loads(decompress(blob)))
    except (Malformed, ValueError, RecursionError):
        return None, None
