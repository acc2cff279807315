"""Find a resident by what an agent types: 王桂, wangguiying or wgy.

Names are encrypted at rest, so SQL cannot search them. After unlock, the names are decrypted
into this in-memory index (never written to disk). It answers prefix queries on the Chinese
characters, on full pinyin and on pinyin initials, through three sorted key lists and
``bisect``. Pinyin is computed per distinct character and cached, so indexing 100 000 names
costs little more than decrypting them. Characters with several readings (长 chang/zhang)
index every reading, up to a few variants per name.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from functools import cache

from pypinyin import Style, pinyin

MAX_VARIANTS = 4


@cache
def _readings(ch: str) -> tuple[str, ...]:
    if not ("\u3400" <= ch <= "\u9fff"):
        return (ch.lower(),)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(found[0])) if found and found[0] else (ch,)


def keys_for(name: str) -> set[str]:
    """Every key a name is found by: itself, full pinyin and initials of each reading."""
    chars = [c for c in name if not c.isspace()]
    keys = {name.lower()}
    if not chars:
        return keys
    for combo in itertools.islice(itertools.product(*(_readings(c) for c in chars)),
                                  MAX_VARIANTS):
        keys.add("".join(combo))
        keys.add("".join(p[0] for p in combo if p))
    return keys


class NameIndex:
    """Prefix search over names; ``query`` returns record ids in a stable order."""

    def __init__(self) -> None:
        self._keys: list[tuple[str, str]] = []  # (key, record id), sorted
        self._by_record: dict[str, tuple[str, set[str]]] = {}

    def __len__(self) -> int:
        return len(self._by_record)

    def bulk_load(self, names: dict[str, str]) -> None:
        """Replace the index with ``record id -> name`` in one sort (fast start-up)."""
        self._by_record = {rid: (name, keys_for(name)) for rid, name in names.items() if name}
        self._keys = sorted((k, rid) for rid, (_, keys) in self._by_record.items() for k in keys)

    def put(self, record_id: str, name: str) -> None:
        old = self._by_record.pop(record_id, None)
        if old:
            for k in old[1]:
                i = bisect_left(self._keys, (k, record_id))
                if i < len(self._keys) and self._keys[i] == (k, record_id):
                    del self._keys[i]
        if name:
            keys = keys_for(name)
            self._by_record[record_id] = (name, keys)
            for k in keys:
                insort(self._keys, (k, record_id))

    def name(self, record_id: str) -> str:
        entry = self._by_record.get(record_id)
        return entry[0] if entry else ""

    def query(self, text: str, limit: int = 200) -> list[str]:
        prefix = "".join(text.lower().split())
        if not prefix:
            return []
        out: dict[str, None] = {}
        i = bisect_left(self._keys, (prefix, ""))
        while i < len(self._keys) and len(out) < limit:
            key, rid = self._keys[i]
            if not key.startswith(prefix):
                break
            out[rid] = None
            i += 1
        return list(out)
