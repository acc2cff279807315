"""Length-prefixed lists of byte strings: the body of a push, a bundle, a downlink payload.

    magic (4) | count (u32) | count × (length (u32) | bytes)

Parsing checks every length against what is left and against the caller's limits, so a
truncated or hostile body is refused with ``Malformed`` before anything is allocated for it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from station.wire.errors import Malformed

_U32 = struct.Struct(">I")


def pack(magic: bytes, items: Sequence[bytes]) -> bytes:
    assert len(magic) == 4
    parts = [magic, _U32.pack(len(items))]
    for item in items:
        parts.append(_U32.pack(len(item)))
        parts.append(item)
    return b"".join(parts)


def unpack(magic: bytes, data: bytes, *, what: str, max_items: int,
           max_item: int) -> list[bytes]:
    """The items of a packed list, or ``Malformed`` naming ``what`` was wrong."""
    if len(data) < 8 or data[:4] != magic:
        raise Malformed(what=what, detail="not in the expected format")
    (count,) = _U32.unpack_from(data, 4)
    if count > max_items:
        raise Malformed(what=what, detail=f"{count} items, at most {max_items} allowed")
    items, pos = [], 8
    for _ in range(count):
        if pos + 4 > len(data):
            raise Malformed(what=what, detail="truncated")
        (length,) = _U32.unpack_from(data, pos)
        pos += 4
        if length > max_item:
            raise Malformed(what=what, detail=f"an item of {length} bytes is too large")
        if pos + length > len(data):
            raise Malformed(what=what, detail="truncated")
        items.append(data[pos:pos + length])
        pos += length
    if pos != len(data):
        raise Malformed(what=what, detail="trailing bytes")
    return items
