"""What waits aside: changesets from the centre this version cannot read (``changesets_held``).

The sync says only how many; an agent who sees that number needs more to act on it and to
tell the town centre: since when, why in words, which records (by receipt number, never a
value of theirs: G2), and what to do. ``HeldChanges`` is that, read by the ledger and worded
here once, for the CLI (``station sync --status``) and the app (dashboard, sync screen).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from station.domain.chinatime import china_time
from station.domain.english import number_words

Pair = tuple[str, str]

# Why a changeset was kept aside, by the code stored with it (``ledger._unreadable``). A
# code not listed (a fault in this program: ``internal.*``) is given as it is.
REASONS: dict[str, Pair] = {
    "wire.malformed": ("写法是新版本的，本版本读不懂",
                       "it is written in a form this version cannot read"),
    "domain.bad_changeset": ("含有本版本不认识的字段或操作",
                             "it has a field or a kind of change this version does not know"),
    "domain.invalid": ("含有本版本的规则还不接受的值（例如新的号段或选项）",
                       "it has a value this version's rules do not accept yet "
                       "(a new number range or choice)"),
    "domain.unknown_matter": ("涉及本版本事项清单里没有的事项",
                              "it is for a matter this version's catalogue does not have"),
    "domain.catalogue": ("涉及本版本事项清单里没有的事项",
                         "it is for a matter this version's catalogue does not have"),
}
_OTHER: Pair = ("本版本无法读取（代码 {code}）", "this version cannot read it (code {code})")

TEXT: dict[str, Pair] = {
    "head": ("镇中心发来的 {n} 条更新本版本无法读取，已加密单独保存（最早在 {since}），"
             "其余已正常合并",
             "{n} change{s} from the centre cannot be read by this version and {are} kept aside, "
             "encrypted (the first on {since}); everything else merged"),
    "reason": ("原因：{why}（{n} 条）", "why: {why} ({n})"),
    "receipts": ("涉及的记录：{receipts}", "records: {receipts}"),
    "unknown": ("另有 {n} 条不知是哪条记录", "{n} more whose record is not known here"),
    "todo": ("请把 station 升级到最新版本；升级后下次同步时会自动合并，无需其他操作",
             "Update station to the newest version: they merge by themselves at the next "
             "sync after, nothing else to do"),
}


def pick(pair: Pair, lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def reason_words(code: str, lang: str) -> str:
    """A kept-aside reason code as a person reads it."""
    return pick(REASONS.get(code, _OTHER), lang).format(code=code)


@dataclass(frozen=True)
class HeldChange:
    """One changeset kept aside: when (ISO, UTC), the reason code, and its record's
    receipt number when the station knows it (None for a record it has never seen)."""

    since: str
    reason: str
    receipt: str | None


@dataclass(frozen=True)
class HeldChanges:
    """Every changeset kept aside, oldest first."""

    items: tuple[HeldChange, ...] = ()

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def since(self) -> str | None:
        return self.items[0].since if self.items else None

    def receipts(self) -> list[str]:
        """The records they are for, each once, in the order they were kept."""
        return list(dict.fromkeys(h.receipt for h in self.items if h.receipt))

    def lines(self, lang: str) -> list[str]:
        """What a person is told, one sentence a line ([] when nothing is held)."""
        if not self.items:
            return []
        since = china_time(self.since or "")
        lines = [pick(TEXT["head"], lang).format(**number_words(self.count), since=since)]
        for code, n in Counter(h.reason for h in self.items).items():
            lines.append(pick(TEXT["reason"], lang).format(why=reason_words(code, lang), n=n))
        receipts = self.receipts()
        if receipts:
            sep = "、" if lang == "zh" else ", "
            lines.append(pick(TEXT["receipts"], lang).format(receipts=sep.join(receipts)))
        unknown = sum(1 for h in self.items if not h.receipt)
        if unknown and receipts:
            lines.append(pick(TEXT["unknown"], lang).format(n=unknown))
        lines.append(pick(TEXT["todo"], lang))
        return lines

    def as_dict(self) -> dict[str, object]:
        """The JSON form: codes and receipts, both sentences of each reason."""
        return {"count": self.count, "since": self.since,
                "items": [{"since": h.since, "reason": h.reason, "receipt": h.receipt,
                           "zh": reason_words(h.reason, "zh"),
                           "en": reason_words(h.reason, "en")} for h in self.items]}
