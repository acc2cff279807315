"""Worker processes holding keys do not outlive a killed station or centre."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each starts a real pool whose workers hold a key, prints their pids, then waits to be killed.
STARTS = {
    "station-import": """
from station.store.prepare import Preparer
from station.store.vault import new_dek
preparer = Preparer(new_dek())
next(preparer.new_rows(iter([[]])))
""",
    "centre-checks": """
from station.centre.opening import Opener
from station.wire.keys import SealKey
opener = Opener(SealKey.generate(), processes=2)
opener.warm()
""",
}
WAIT = """
import multiprocessing, time
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


@pytest.mark.parametrize("pool", list(STARTS))
def test_the_workers_end_when_the_process_that_started_them_is_killed(pool):
    code = f"if __name__ == '__main__':\n{_indent(STARTS[pool] + WAIT)}"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        workers = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(workers) >= 1 and all(_running(pid) for pid in workers)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 15
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _running(pid)]


def _indent(code: str) -> str:
    return "".join(f"    {line}\n" for line in code.strip().splitlines())
