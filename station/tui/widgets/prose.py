"""Sentences in Chinese as well as English, wrapped as a reader of each expects.

Rich and Textual break lines at spaces only. Chinese has none between words, so a sentence
such as "其中 1 件有待处理的冲突，……" moved whole to the next line after "其中 1", and
"U 盘" split at its space. Here a line may break between any two Chinese characters (never
before closing punctuation, never after opening punctuation), at spaces, and not inside a
short word set between Chinese characters.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual.app import RenderResult as WidgetRender
from textual.widgets import Static

SHORT = 3  # cells: a key (c), a count (15), a letter (U) kept with the characters beside it


CLOSING = set("，。、；：？！）」』》,.;:?!)%")  # never at the start of a line
OPENING = set("（「『《(")  # never at the end of one


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(s: str) -> list[tuple[int, int]]:
    """Spans a line may break between: runs of spaces, words of narrow characters, single
    wide (CJK) characters — with closing punctuation kept on the token before it and
    opening punctuation on the token after it, and a short word set in Chinese kept with
    the characters either side of it (``_glued``)."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(s)
    while i < n:
        j = i + 1
        if s[i].isspace():
            while j < n and s[j].isspace():
                j += 1
        elif not _wide(s[i]) and s[i] not in OPENING:
            while j < n and not s[j].isspace() and not _wide(s[j]) and s[j] not in OPENING:
                j += 1
        while j < n and s[j] in CLOSING:
            j += 1
        if spans and s[spans[-1][0]:spans[-1][1]] in OPENING:
            spans[-1] = (spans[-1][0], j)
        else:
            spans.append((i, j))
        i = j
    return _glued(s, spans)


def _narrow_tail(s: str, a: int, b: int) -> int:
    """Cells of the word of narrow characters that ends ``s[a:b]`` (0: it ends otherwise)."""
    k = b
    while k > a and not s[k - 1].isspace() and not _wide(s[k - 1]):
        k -= 1
    return cell_len(s[k:b])


def _glued(s: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A short word of narrow characters set between Chinese ones with a space either side
    (a key, a count, a letter: 按 c 处理, 其中 1 件, U 盘) stays on one line with the
    characters next to it: "U" at the end of one line and "盘" at the start of the next
    read as two words."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if len(out) >= 2 and s[slice(*out[-1])] == " ":
            ya, yb = out[-2]
            word = s[a:b].rstrip("".join(CLOSING))
            short_after_wide = (_wide(s[yb - 1]) and 0 < cell_len(word) <= SHORT
                                and _narrow_tail(s, a, a + len(word)) == cell_len(word))
            wide_after_short = _wide(s[a]) and 0 < _narrow_tail(s, ya, yb) <= SHORT
            if short_after_wide or wide_after_short:
                out[-2:] = [(ya, b)]
                continue
        out.append((a, b))
    return out


def wrap(text: Text, width: int) -> list[Text]:
    """Lines of at most ``width`` cells, broken at spaces or between CJK characters (Rich
    alone breaks only at spaces, so a Chinese sentence would move whole to the next line).
    A newline always ends a line (several notes, one a line)."""
    if "\n" in text.plain:
        return [line for part in text.split("\n", allow_blank=True)
                for line in wrap(part, width)]
    s, width = text.plain, max(1, width)
    cuts: list[tuple[int, int]] = []
    start, used = 0, 0
    for a, b in _tokens(s):
        piece = s[a:b]
        w = cell_len(piece)
        if piece.isspace():
            if used == 0:
                start = b  # no line starts with spaces
            elif used + w > width:
                cuts.append((start, a))
                start, used = b, 0
            else:
                used += w
            continue
        if used and used + w > width:
            cuts.append((start, a))
            start, used = a, 0
        while w > width:  # a word longer than a line is folded
            k, cw = a, 0
            while k < b and cw + cell_len(s[k]) <= width:
                cw += cell_len(s[k])
                k += 1
            k = max(k, a + 1)
            cuts.append((start, k))
            start = a = k
            w = cell_len(s[a:b])
        used += w
    cuts.append((start, len(s)))
    lines = []
    for a, b in cuts:
        line = text[a:b]
        line.rstrip()
        lines.append(line)
    return lines


class Wrapped:
    """Text wrapped by ``wrap`` at whatever width it has when it is drawn (a log line, a
    ``Prose``)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text.plain

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(self.text.plain[a:b]) for a, b in _tokens(self.text.plain)),
                      default=1)
        widest = max(cell_len(line) for line in self.text.plain.split("\n"))
        return Measurement(min(longest, options.max_width), widest)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in wrap(self.text, options.max_width):
            line.end = "\n"
            line.no_wrap = True
            yield line


class Prose(Static):
    """A ``Static`` for sentences, in either language: its text (a ``str`` is taken as it
    is, without markup) is wrapped by ``wrap`` at the width it has when drawn."""

    def render(self) -> WidgetRender:
        content = self.content
        return Wrapped(content if isinstance(content, Text) else Text(str(content)))
