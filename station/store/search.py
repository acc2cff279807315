"""Find a resident by what an agent types: 王桂, wangguiying or wgy.

Names are encrypted at rest, so SQL cannot search them. After unlock, the names are decrypted
into this in-memory index (never written to disk). It answers prefix queries on the Chinese
characters, on full pinyin and on pinyin initials, through three sorted key lists and
``bisect``. Pinyin is computed per distinct character and cached, so indexing 100 000 names
costs little more than decrypting them. Characters with several readings (长 chang/zhang)
index every reading, up to a few variants per name.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from functools import cache
from itertools import islice

from pypinyin import Style, pinyin

from station.domain.gc_pause import freeze_loaded

freeze_loaded()  # pypinyin's tables, just loaded: see freeze_loaded

MAX_VARIANTS = 4


@cache
def _readings(ch: str) -> tuple[str, ...]:
    if not ("\u3400" <= ch <= "\u9fff"):
        return (ch.lower(),)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(found[0])) if found and found[0] else (ch,)


def keys_for(name: str) -> tuple[str, ...]:
    """Every key a name is found by: itself, full pinyin and initials of each reading.

    A tuple of strings, not a set: the cyclic garbage collector stops tracking such tuples,
    and a big village's index holds 100 000 of them (as sets, every full collection walked
    them all)."""
    chars = [c for c in name if not c.isspace()]
    keys = {name.lower(): None}
    if not chars:
        return tuple(keys)
    for combo in itertools.islice(itertools.product(*(_readings(c) for c in chars)),
                                  MAX_VARIANTS):
        keys["".join(combo)] = None
        keys["".join(p[0] for p in combo if p)] = None
    return tuple(keys)


class NameIndex:
    """Prefix search over names; ``query`` returns record ids in a stable order.

    A save must not pay for re-sorting a big village's keys: new keys go to a small sorted
    ``_recent`` list and replaced ones into ``_gone``; both are folded into the main list
    once they grow past ``COMPACT_AT``, or an eighth of the main list: a bus pulling a whole
    village with the app open adds 100 000 names one by one, and re-sorting the main list
    every 4 096 of them would cost seconds.
    """

    COMPACT_AT = 4096

    def __init__(self) -> None:
        self._keys: list[tuple[str, str]] = []  # (key, record id), sorted
        self._recent: list[tuple[str, str]] = []  # sorted, small
        self._gone: set[tuple[str, str]] = set()
        self._by_record: dict[str, tuple[str, tuple[str, ...]]] = {}

    def __len__(self) -> int:
        return len(self._by_record)

    def bulk_load(self, names: dict[str, str]) -> None:
        """Replace the index with ``record id -> name`` in one sort (fast start-up)."""
        self._by_record = {rid: (name, keys_for(name)) for rid, name in names.items() if name}
        self._keys = sorted((k, rid) for rid, (_, keys) in self._by_record.items() for k in keys)
        self._recent, self._gone = [], set()

    def put(self, record_id: str, name: str) -> None:
        old = self._by_record.get(record_id)
        if old is not None and old[0] == name:
            return
        if old is not None:
            del self._by_record[record_id]
            self._gone.update((k, record_id) for k in old[1])
        if name:
            keys = keys_for(name)
            self._by_record[record_id] = (name, keys)
            for k in keys:
                self._gone.discard((k, record_id))
                insort(self._recent, (k, record_id))
        if len(self._recent) + len(self._gone) > max(self.COMPACT_AT, len(self._keys) // 8):
            self._compact()

    def _compact(self) -> None:
        merged = [e for e in self._keys if e not in self._gone]
        merged.extend(e for e in self._recent if e not in self._gone)
        merged.sort()
        self._keys = list(dict.fromkeys(merged))
        self._recent, self._gone = [], set()

    def name(self, record_id: str) -> str:
        entry = self._by_record.get(record_id)
        return entry[0] if entry else ""

    @staticmethod
    def _scan(keys: list[tuple[str, str]], prefix: str) -> Iterator[tuple[str, str]]:
        i = bisect_left(keys, (prefix, ""))
        while i < len(keys) and keys[i][0].startswith(prefix):
            yield keys[i]
            i += 1

    def matches(self, text: str) -> Iterator[str]:
        """Record ids whose name starts with ``text`` (characters, pinyin or initials), in a
        stable order, each once; lazily, so a caller that filters further stops early.

        "li" is a prefix of a fifth of a big village's keys: the main list is walked only as
        far as the caller reads (it is replaced, never changed in place, so a save meanwhile
        does not disturb the walk); the small recent list is read at once."""
        prefix = "".join(text.lower().split())
        if not prefix:
            return
        recent = list(self._scan(self._recent, prefix))
        gone, by_record = self._gone, self._by_record
        seen: set[str] = set()
        for entry in heapq.merge(self._scan(self._keys, prefix), recent):
            if entry in gone or entry[1] not in by_record or entry[1] in seen:
                continue
            seen.add(entry[1])
            yield entry[1]

    def query(self, text: str, limit: int = 200) -> list[str]:
        return list(islice(self.matches(text), limit))


class SharedNames:
    """The name index a station and its clones (worker connections) share.

    Built once, by whichever connection asks first — the app asks from a worker right after
    unlock, so the first search does not wait. Changes take the same lock as the build, so a
    record saved while the index is being built waits for it and is then added: nothing saved
    in those seconds goes missing from search.
    """

    def __init__(self) -> None:
        self._index: NameIndex | None = None
        self._lock = threading.Lock()

    def get(self, load: Callable[[], dict[str, str]]) -> NameIndex:
        with self._lock:
            if self._index is None:
                index = NameIndex()
                index.bulk_load(load())
                self._index = index
            return self._index

    def put(self, record_id: str, name: str) -> None:
        with self._lock:
            if self._index is not None:
                self._index.put(record_id, name)

    def forget(self) -> None:
        """Many records changed at once (a bulk import): rebuild on next use."""
        with self._lock:
            self._index = None
