"""Sentences wrapped as a reader of each language expects (station.tui.widgets.prose)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from station.tui.widgets.prose import wrap


def lines(s: str, width: int) -> list[str]:
    return [line.plain for line in wrap(Text(s), width)]


def test_a_short_word_between_chinese_characters_stays_with_them():
    """'U 盘' is one word (a USB stick) and '按 c' one instruction: neither is split."""
    for width in range(8, 40):
        got = lines("居民信息仍然加密；请放在 U 盘等另一处保管，首页按 c 处理冲突", width)
        assert all(cell_len(line) <= width for line in got)
        assert not any(line.endswith(("U", "按", "按 c")) or line.startswith(("盘", "c "))
                       for line in got), (width, got)


def test_a_long_word_is_not_glued_to_the_characters_beside_it():
    got = lines("冲突 V001-20261123-0001:outcome 是镇中心作出的两个不同决定", 40)
    assert got[0].startswith("冲突 V001-20261123-0001:outcome 是镇中心")


def test_a_newline_ends_a_line_and_a_blank_line_is_kept():
    """Several notes, one a line: they were run together as if the newline were a space."""
    assert lines("第一条\n\n第二条很长很长很长", 8) == ["第一条", "", "第二条很", "长很长很", "长"]
