"""The watcher: sync when connectivity returns, and on a schedule whatever the network says.

Other tools' users were hurt by auto-send that never fired after the link came back. So the
watcher does not rely on connectivity events alone: it probes the centre cheaply
(``/v1/health``, backing off while it is unreachable) *and* sweeps the outbox on a timer
(``every``), syncing at whichever comes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from station.domain.errors import StationError
from station.sync.engine import SyncReport
from station.sync.errors import CentreUnreachable

PROBE_MIN_S = 15.0
PROBE_MAX_S = 300.0
DEFAULT_EVERY_S = 300.0


@dataclass
class WatchEvent:
    kind: str  # "synced" | "unreachable" | "refused" | "back"
    report: SyncReport | None = None
    error: StationError | None = None


def watch(sync: Callable[[], SyncReport], probe: Callable[[], bool], *,
          every_s: float = DEFAULT_EVERY_S, stop: threading.Event,
          on_event: Callable[[WatchEvent], None],
          clock: Callable[[], float] = time.monotonic) -> None:
    """Run until ``stop`` is set. ``sync`` does one sync; ``probe`` says whether the centre
    answers its health check right now."""
    next_sync = clock()
    probe_every = PROBE_MIN_S
    next_probe = clock() + probe_every
    up = True
    while not stop.is_set():
        now = clock()
        if now >= next_sync:
            try:
                on_event(WatchEvent("synced", report=sync()))
                up, probe_every = True, PROBE_MIN_S
            except CentreUnreachable as exc:
                up = False
                on_event(WatchEvent("unreachable", error=exc))
            except StationError as exc:  # refused: say so, try again on schedule
                on_event(WatchEvent("refused", error=exc))
            next_sync = clock() + every_s
            next_probe = clock() + probe_every
        elif not up and now >= next_probe:
            if probe():
                on_event(WatchEvent("back"))
                next_sync = now  # connectivity returned: sync right away
            else:
                probe_every = min(PROBE_MAX_S, probe_every * 2)
            next_probe = clock() + probe_every
        stop.wait(max(0.05, min(next_sync, next_probe if not up else next_sync) - clock()))
