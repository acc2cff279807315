"""The processes that build rows on other cores: whatever happens to them, every part comes
back, in order, either built or for the ledger to build itself."""

from __future__ import annotations

import os
import time

from station.store.prepare import AHEAD, Preparer
from station.store.vault import new_dek


def _die(part: list[int]) -> list[int]:
    os._exit(3)


def _slow_double(part: list[int]) -> list[int]:
    time.sleep(0.2)
    return [2 * n for n in part]


def test_when_a_process_dies_every_part_comes_back_for_the_ledger():
    preparer = Preparer(new_dek())
    parts = [[n] for n in range(AHEAD + 3)]
    try:
        got = list(preparer._stream(_die, iter(parts)))
    finally:
        preparer.close()
    assert got == [(part, None) for part in parts]


def test_a_part_no_process_has_started_is_taken_back_rather_than_waited_for():
    preparer = Preparer(new_dek())
    parts = [[n] for n in range(AHEAD + 3)]
    try:
        got = list(preparer._stream(_slow_double, iter(parts), take_back=True))
    finally:
        preparer.close()
    assert [part for part, _ in got] == parts
    assert [built for _, built in got][:AHEAD] == [[2 * n] for n in range(AHEAD)]
    taken_back = [part for part, built in got if built is None]
    assert taken_back and all(built == [2 * part[0]] for part, built in got if built)
