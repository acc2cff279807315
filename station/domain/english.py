"""Number agreement in the English sentences said to people: 'Imported 1 record', '2 rows
were'. Chinese needs none; each place that counted in English spelled it out for itself,
and several said '1 records' or 'change(s)'."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and its noun: '1 record', '2 records', '3 batches' (``plural`` when it is not
    the noun with an s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def agrees(n: int, one: str, many: str) -> str:
    """The verb (or any word) that goes with ``n``: agrees(1, 'was', 'were') is 'was'."""
    return one if n == 1 else many


def number_words(n: int) -> dict[str, object]:
    """``n`` with the English endings and verbs that agree with it, for a sentence kept as a
    template beside its Chinese (``{n} change{s} {are} kept``): the places that format one
    with ``n`` alone said '1 changes are kept' and 'conflict(s)'. Chinese templates ignore
    the extra words."""
    one = n == 1
    return {"n": n, "s": "" if one else "s", "es": "" if one else "es",
            "are": "is" if one else "are", "have": "has" if one else "have",
            "were": "was" if one else "were", "vs": "s" if one else ""}
