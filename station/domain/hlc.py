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
