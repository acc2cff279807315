"""Hybrid logical clock (Kulkarni et al. 2014), with a guard against laptops with wrong clocks.

An HLC timestamp is (wall ms, counter, device id). Every local changeset takes
``max(local wall, last seen) + tick``, so timestamps respect causality even when wall clocks
disagree. Village laptops often have wrong clocks; a remote timestamp more than ``max_skew``
ahead of our own wall clock is *not* adopted (one laptop with a wrong year must not drag every
replica's clock along). The clock remembers such events so sync can flag the device.

Merge never lets a timestamp win on its own when causality says otherwise: an edit that
names what it replaced (``prev``) supersedes it whatever the clocks say (``station.domain.merge``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from station.domain.chinatime import china_time

DEFAULT_MAX_SKEW_MS = 24 * 3600 * 1000


class HLC(NamedTuple):
    """One timestamp. Ordering is (wall, counter, device): total and the same everywhere."""

    wall: int
    counter: int
    device: str

    def encode(self) -> str:
        """A string that sorts like the timestamp (for plaintext index columns)."""
        return f"{self.wall:013d}.{self.counter:05d}.{self.device}"

    @classmethod
    def decode(cls, text: str) -> HLC:
        wall, counter, device = text.split(".", 2)
        return cls(int(wall), int(counter), device)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def set_back_note(now_ms: int, latest_ms: int) -> tuple[str, str]:
    """What to tell a person whose clock has gone back (``Clock.set_back``), in Chinese and
    English: what it reads, what this station already saw, and to set it before recording
    work, since the dates it gives are taken from it."""
    now, latest = china_time(now_ms), china_time(latest_ms)
    return (f"本机时钟显示 {now}，早于本站已保存的最近一次变更（{latest}）：时钟被调回了"
            "（如主板电池没电）。请先校准日期和时间再办理业务：受理日期、承诺日期和是否超期"
            "都按它计算",
            f"This computer's clock reads {now}, earlier than the latest change this station "
            f"has saved ({latest}): the clock has gone back (a flat CMOS battery?). Set the "
            "date and time before recording work: the dates received, promised and overdue "
            "are counted from it")


@dataclass
class SkewEvent:
    """A remote timestamp that was too far ahead of our wall clock to adopt."""

    remote: HLC
    local_wall: int

    @property
    def ahead_ms(self) -> int:
        return self.remote.wall - self.local_wall


@dataclass
class Clock:
    """The HLC of one device. ``last`` is persisted by the store with every changeset."""

    device: str
    last: HLC | None = None
    now: Callable[[], int] = wall_ms
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS
    skew_events: list[SkewEvent] = field(default_factory=list)

    def tick(self) -> HLC:
        """A timestamp for a new local event."""
        pt = self.now()
        if self.last is None or pt > self.last.wall:
            stamp = HLC(pt, 0, self.device)
        else:
            stamp = HLC(self.last.wall, self.last.counter + 1, self.device)
        self.last = stamp
        return stamp

    def set_back(self) -> bool:
        """Whether the wall clock now reads earlier than this device's latest timestamp by
        more than the max skew (which is how far ahead an adopted remote one may be): the
        computer's clock has gone back (a flat CMOS battery puts a laptop years back), and
        every date taken from it — received, promised, overdue, the receipt number's — would
        be as far off."""
        return self.last is not None and self.now() < self.last.wall - self.max_skew_ms

    def observe(self, remote: HLC) -> bool:
        """Take a received timestamp into account; False if it was too far ahead to adopt."""
        pt = self.now()
        if remote.wall > pt + self.max_skew_ms:
            self.skew_events.append(SkewEvent(remote, pt))
            return False
        last = self.last or HLC(0, 0, self.device)
        wall = max(last.wall, remote.wall, pt)
        if wall == last.wall == remote.wall:
            counter = max(last.counter, remote.counter) + 1
        elif wall == last.wall:
            counter = last.counter + 1
        elif wall == remote.wall:
            counter = remote.counter + 1
        else:
            counter = 0
        self.last = HLC(wall, counter, self.device)
        return True
