"""Receipt numbers `<station>-<yyyymmdd>-<nnnn>` stay unique with two processes writing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from station.store.service import Station
from tests.conftest import PASSPHRASE

ROOT = Path(__file__).resolve().parents[2]
WRITER = """
import sys
from pathlib import Path
from station.store.service import Station
st = Station.open(Path(sys.argv[1]), sys.argv[2])
for i in range(int(sys.argv[3])):
    print(st.create("resident", {"resident.name": f"居民{i}"}).receipt, flush=True)
"""


def test_two_processes_writing_at_once_never_share_a_receipt(station, home):
    station.close()
    per_process = 40
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(home), PASSPHRASE,
                               str(per_process)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    receipts = outputs[0] + outputs[1]
    assert len(receipts) == len(set(receipts)) == 2 * per_process
    numbers = sorted(int(r.rsplit("-", 1)[1]) for r in receipts)
    assert numbers == list(range(1, 2 * per_process + 1))
    with Station.open(home, PASSPHRASE) as again:
        assert again.counts()["residents"] == 2 * per_process


def test_numbers_restart_each_day(station, now):
    first = station.create("resident", {"resident.name": "甲"})
    now.advance(days=1)
    second = station.create("resident", {"resident.name": "乙"})
    assert first.receipt == "V001-20261123-0001"
    assert second.receipt == "V001-20261124-0001"
