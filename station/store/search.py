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
import unicodedata
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from functools import cache
from itertools import islice

from pypinyin import Style, pinyin

from station.domain.gc_pause import freeze_loaded

freeze_loaded()  # pypinyin's tables, just loaded: see freeze_loaded

MAX_VARIANTS = 4

# The dots between the parts of a transliterated name (阿卜杜拉·艾买提) as input methods and
# pasted text give them: the middle dot, the bullet, the katakana dot, a full stop, a hyphen.
# They are left out of every key and every query, like spaces, so that any of them (or none)
# finds the name, and the pinyin initials run on past the dot: abdlamt.
_NAME_SEPARATORS = dict.fromkeys(map(ord, "·•・‧∙⋅.-"))

# a record's name as read from its row, with the row's version
Versioned = tuple[int, str]


def folded(text: str) -> str:
    """``text`` as keys and queries are compared: NFKC (full-width ｗｇｙ is wgy), lower
    case, with no spaces and no dots between the parts of a name."""
    plain = unicodedata.normalize("NFKC", text).lower().translate(_NAME_SEPARATORS)
    return "".join(plain.split())


@cache
def _readings(ch: str) -> tuple[str, ...]:
    if not ("\u3400" <= ch <= "\u9fff"):
        return (ch.lower(),)
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(found[0])) if found and found[0] else (ch,)


def keys_for(name: str) -> set[str]:
    """Every key a name is found by: itself, full pinyin and initials of each reading, each
    ``folded``."""
    chars = folded(name)
    keys = {chars}
    if not chars:
        return keys
    for combo in itertools.islice(itertools.product(*(_readings(c) for c in chars)),
                                  MAX_VARIANTS):
        keys.add("".join(combo))
        keys.add("".join(p[0] for p in combo if p))
    return keys


class NameIndex:
    """Prefix search over names; ``query`` returns record ids in a stable order.

    An entry is one string, key NUL record id (names cannot hold control characters): it
    sorts as the pair would, but compares with one memcmp and keeps its hash, so sorting and
    filtering a big village's 400 000 entries costs a fraction of what pairs did.

    A save must not pay for re-sorting a big village's keys: new entries go to a small sorted
    ``_recent`` list and replaced ones into ``_gone``; both are folded into the main list
    once they grow past ``COMPACT_AT``, or an eighth of the main list: a bus pulling a whole
    village with the app open adds 100 000 names one by one, and re-sorting the main list
    every 4 096 of them would cost seconds.
    """

    COMPACT_AT = 4096
    SEP = "\x00"

    def __init__(self) -> None:
        self._keys: list[str] = []  # key SEP record id, sorted
        self._recent: list[str] = []  # sorted, small
        self._gone: set[str] = set()
        self._by_record: dict[str, str] = {}  # record id -> name (its keys are recomputed)

    def __len__(self) -> int:
        return len(self._by_record)

    def bulk_load(self, names: dict[str, str]) -> None:
        """Replace the index with ``record id -> name`` in one sort (fast start-up)."""
        self._by_record = {rid: name for rid, name in names.items() if name}
        self._keys = sorted(e for rid, name in self._by_record.items()
                            for e in self._entries(rid, name))
        self._recent, self._gone = [], set()

    def put(self, record_id: str, name: str) -> None:
        old = self._by_record.get(record_id)
        if old == name:
            return
        if old is not None:
            del self._by_record[record_id]
            self._gone.update(self._entries(record_id, old))
        if name:
            self._by_record[record_id] = name
            for entry in self._entries(record_id, name):
                if entry in self._gone:  # still in a list, only marked gone: revive it
                    self._gone.discard(entry)
                else:
                    insort(self._recent, entry)
        if len(self._recent) + len(self._gone) > max(self.COMPACT_AT, len(self._keys) // 8):
            self._compact()

    @classmethod
    def _entries(cls, record_id: str, name: str) -> Iterator[str]:
        return (key + cls.SEP + record_id for key in keys_for(name))

    def _compact(self) -> None:
        """Fold the recent entries into the main list, dropping the gone ones. No entry is
        in the lists twice (``put`` revives a gone entry instead of adding it again), and
        sorting two sorted runs is one merge: with 100 000 names this pause in a save is
        about 0.1 s, where de-duplicating (key, id) pairs took 0.9 s."""
        gone = self._gone
        merged = (self._keys + self._recent if not gone
                  else [e for e in itertools.chain(self._keys, self._recent) if e not in gone])
        merged.sort()
        self._keys = merged
        self._recent, self._gone = [], set()

    def name(self, record_id: str) -> str:
        return self._by_record.get(record_id, "")

    @staticmethod
    def _scan(keys: list[str], prefix: str) -> Iterator[str]:
        i = bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            yield keys[i]
            i += 1

    def matches(self, text: str) -> Iterator[str]:
        """Record ids whose name starts with ``text`` (characters, pinyin or initials), in a
        stable order, each once; lazily, so a caller that filters further stops early.

        "li" is a prefix of a fifth of a big village's keys: the main list is walked only as
        far as the caller reads (it is replaced, never changed in place, so a save meanwhile
        does not disturb the walk); the small recent list is read at once."""
        prefix = folded(text)
        if not prefix or self.SEP in prefix:
            return
        recent = list(self._scan(self._recent, prefix))
        gone, by_record = self._gone, self._by_record
        seen: set[str] = set()
        for entry in heapq.merge(self._scan(self._keys, prefix), recent):
            rid = entry.rpartition(self.SEP)[2]
            if entry in gone or rid not in by_record or rid in seen:
                continue
            seen.add(rid)
            yield rid

    def query(self, text: str, limit: int = 200) -> list[str]:
        return list(islice(self.matches(text), limit))


class SharedNames:
    """The name index a station and its clones (worker connections) share.

    Built once, by whichever connection asks first — the app asks from a worker right after
    unlock, so the first search does not wait. Changes take the same lock as the build, so a
    record saved while the index is being built waits for it and is then added: nothing saved
    in those seconds goes missing from search.

    It remembers the row version each name was read at, so ``catch_up`` can bring in what
    another program wrote (an import in a second terminal, a scheduled sync) by decrypting
    only the records whose version moved, not every name again.
    """

    def __init__(self) -> None:
        self._index: NameIndex | None = None
        self._versions: dict[str, int] = {}  # record id -> row version its name was read at
        self._lock = threading.Lock()

    def get(self, load: Callable[[], dict[str, Versioned]]) -> NameIndex:
        with self._lock:
            if self._index is None:
                loaded = load()
                index = NameIndex()
                index.bulk_load({rid: name for rid, (_, name) in loaded.items()})
                self._index = index
                self._versions = {rid: version for rid, (version, _) in loaded.items()}
            return self._index

    def catch_up(self, versions: Callable[[], dict[str, int]],
                 load: Callable[[list[str]], dict[str, Versioned]]) -> None:
        """Re-read the names of the records whose version is not the one indexed (changed
        or made by another connection); nothing to do before the index is built."""
        with self._lock:
            if self._index is None:
                return
            stale = [rid for rid, version in versions().items()
                     if self._versions.get(rid) != version]
            for rid, (version, name) in load(stale).items():
                self._index.put(rid, name)
                self._versions[rid] = version

    def put(self, record_id: str, name: str) -> None:
        with self._lock:
            if self._index is not None:
                self._index.put(record_id, name)

    def forget(self) -> None:
        """Many records changed at once (a bulk import): rebuild on next use."""
        with self._lock:
            self._index = None
            self._versions = {}
