"""Two centre processes on one PostgreSQL: a puller never skips a changeset, nor gets one twice.

**The hazard.** Every stored changeset gets a sequence number and a station pulls "everything
after my cursor". With several writers, the transaction that drew seq 41 can commit *after*
the one that drew seq 42. A puller that read the log in between saw 42 (and a head of 42),
moved its cursor to 42, and will never ask for 41 again: the changeset is lost for that
station, silently.

**The design** (``station/centre/repo/base.py``): every append transaction first takes one
transaction-scoped advisory lock (``pg_advisory_xact_lock``), so the sequence numbers are drawn
in commit order; a pull reads the head *before* the entries, and every entry up to a committed
head had committed by then. A reader can never later see a lower number appear.

**The test.** Two real ``station centre serve`` processes share one PostgreSQL schema and one
key file (so they are the same centre). Four village stations push their changesets in small
batches split across *both* processes at once, and a third of the batches are pushed to the
other process as well, at the same moment (overlap: the second copy must be a duplicate,
never a second row, never a 500). Three pullers (two bus stations whose scope covers every
village, one of them reading with two independent cursors) pull in a tight loop from
alternating processes with varying page sizes, checking every batch (signature, ``after`` ==
their cursor, entries above the cursor and in order) and remembering every changeset id.
When the pushes are done, a final pull drains; then every puller must have received every
pushed changeset exactly once.

**Why it fails without the lock.** Remove the advisory lock and both failure modes are open:
a late commit with a lower seq is skipped by whichever puller read in between (a changeset
missing), and two processes storing the same changeset at once both find it unknown and the
second insert hits the unique id (a 500, which this test counts as a failure: it sends every
request once, with no retries). Proved once locally by running these servers with a launcher
that patched ``PostgresDialect.writing`` to skip the lock (not committed): the test failed.
"""

from __future__ import annotations

import random
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tenacity import Retrying, stop_after_attempt

from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.engine import PUSH_MAGIC
from station.sync.transport import CentreClient
from station.wire.codec import decode_changeset
from station.wire.downlink import ENTRY_CHANGESET, open_batch, verify_batch
from station.wire.framing import pack
from tests.cli.test_centre_cli import CentreProcess

pytestmark = pytest.mark.postgres

VILLAGES = ("V001", "V002", "V003", "V004")
NEW_RECORDS = 30  # per village, each one changeset…
UPDATES = 12  # …and some edits of them: changesets of one record land on both processes
PASSPHRASE = "correct horse battery"
APPLICATION = {"matter": "HJ-001", "applicant.name": "王桂英",
               "materials.received": ["M01", "M02", "M03", "M04"]}
RACE_BOUND_S = 60.0  # a hard stop; the race itself takes a few seconds on an idle 2-core box


def once() -> Retrying:
    """No retries: every request must succeed the first time (a 500 is a failure here)."""
    return Retrying(stop=stop_after_attempt(1), reraise=True)


def staff_code(server: CentreProcess, token: str, station: str, scope: tuple[str, ...]) -> str:
    reply = httpx.post(f"{server.url}/v1/staff/enroll-code", timeout=10.0,
                       json={"station": station, "scope": list(scope)},
                       headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()["code"]


def new_station(tmp_path: Path, station_id: str) -> Station:
    station, _ = Station.init(tmp_path / station_id, station_id=station_id,
                              name=f"{station_id} 便民服务站", agent="李春梅",
                              passphrase=PASSPHRASE, kdf=FAST_KDF)
    return station


def run_threads(threads: list[threading.Thread], deadline: float, what: str) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
        assert not thread.is_alive(), f"{what} did not finish within the time bound"


@pytest.mark.timeout(180)
def test_two_processes_deliver_every_changeset_exactly_once(tmp_path, pg_url):
    home, key_file = tmp_path / "centre", tmp_path / "centre.keyfile"
    servers = [CentreProcess(home, key_file, db=pg_url, name="centre-a"),
               CentreProcess(home, key_file, db=pg_url, name="centre-b")]
    try:
        servers[0].start()  # makes the keys and the schema
        servers[1].start()  # the same key file and database: the same centre
        _race(tmp_path, home, servers)
    finally:
        for server in servers:
            server.stop()


def _race(tmp_path: Path, home: Path, servers: list[CentreProcess]) -> None:
    health = [s.health() for s in servers]
    assert health[0]["fingerprint"] == health[1]["fingerprint"]
    assert {h["backend"] for h in health} == {"postgresql"}
    token = (home / "staff.token").read_text().strip()

    # Enroll: half the codes from each process.
    stations: dict[str, Station] = {}
    plan = [(v, (v,)) for v in VILLAGES] + [("BUS01", VILLAGES), ("BUS02", VILLAGES)]
    for i, (sid, scope) in enumerate(plan):
        stations[sid] = new_station(tmp_path, sid)
        enroll(stations[sid], staff_code(servers[i % 2], token, sid, scope))
    pin = stations["BUS01"].sync.centre()

    # Each village's changesets, sealed in its outbox, cut into small batches; each batch goes
    # to one process, and about a third of them to the other one as well (overlap).
    pushed: set[str] = set()
    work: dict[tuple[str, int], list[list[bytes]]] = {}
    for k, village in enumerate(VILLAGES):
        station = stations[village]
        records = [station.create("application", dict(APPLICATION)) for _ in range(NEW_RECORDS)]
        for j, rec in enumerate(records[:UPDATES]):
            station.update(rec.id, {"applicant.phone": f"1390000{k}{j:03d}"})
        items = station.sync.outbox(10_000, 1 << 30)
        assert len(items) == NEW_RECORDS + UPDATES
        pushed.update(i.changeset for i in items)
        rng = random.Random(k)
        pos, n = 0, 0
        while pos < len(items):
            size = rng.randint(1, 6)
            batch = [i.sealed for i in items[pos:pos + size]]
            pos += size
            first = (n + k) % 2
            n += 1
            work.setdefault((village, first), []).append(batch)
            if rng.random() < 0.35:
                work.setdefault((village, 1 - first), []).append(batch)

    lock = threading.Lock()
    errors: list[str] = []
    accepted: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    pushes_done = threading.Event()
    gate = threading.Barrier(len(work) + 3)
    deadline = time.monotonic() + RACE_BOUND_S

    def pusher(village: str, server: CentreProcess, batches: list[list[bytes]]) -> None:
        try:
            link = CentreClient(server.url, station=village,
                                signer=stations[village].sync.transport(), retry=once())
            gate.wait(timeout=10)
            with link:
                for batch in batches:
                    reply = link.request("POST", "/v1/push", body=pack(PUSH_MAGIC, batch)).json()
                    with lock:
                        accepted.update(reply["accepted"])
                        duplicates.update(reply["duplicates"])
                        errors.extend(f"{village}: refused {r}" for r in reply["refused"])
        except Exception:
            with lock:
                errors.append(f"pusher {village}→{server.url}: {traceback.format_exc()}")

    received: dict[str, list[bytes]] = {}  # each entry's changeset, decoded at the end
    raced: Counter[str] = Counter()  # entries received while pushes were still going on

    def puller(name: str, station: Station, first: int, seed: int) -> None:
        rng = random.Random(seed)
        got: list[bytes] = []
        received[name] = got
        try:
            links = [CentreClient(s.url, station=station.station_id,
                                  signer=station.sync.transport(), retry=once())
                     for s in servers]
            cursor, turn = 0, first
            gate.wait(timeout=10)
            while time.monotonic() < deadline:
                finished = pushes_done.is_set()  # read before the pull: it then sees them all
                link = links[turn % 2]
                turn += 1
                blob = link.request("GET", "/v1/pull", params={
                    "after": cursor, "limit": rng.choice((3, 7, 50, 500))}).content
                head = verify_batch(blob, pin.sign_public)
                assert head.after == cursor and head.upto >= cursor, (head, cursor)
                entries = open_batch(blob, head, station.seal_key)
                seqs = [e.seq for e in entries]
                assert seqs == sorted(set(seqs)), seqs
                assert all(cursor < s <= head.upto for s in seqs), (cursor, seqs, head)
                for entry in entries:
                    assert entry.kind == ENTRY_CHANGESET
                    got.append(entry.data)
                if not finished:
                    raced[name] += len(entries)
                cursor = head.upto
                if finished and head.complete:
                    return
            raise AssertionError(f"{name} did not drain within {RACE_BOUND_S} s")
        except Exception:
            with lock:
                errors.append(f"puller {name}: {traceback.format_exc()}")

    pushers = [threading.Thread(target=pusher, args=(village, servers[s], batches), daemon=True)
               for (village, s), batches in sorted(work.items())]
    pullers = [threading.Thread(target=puller, args=args, daemon=True) for args in (
        ("BUS01", stations["BUS01"], 0, 1), ("BUS02", stations["BUS02"], 1, 2),
        ("BUS01-second-cursor", stations["BUS01"], 1, 3))]
    for thread in pullers:
        thread.start()
    run_threads(pushers, deadline, "the pushers")
    pushes_done.set()
    for thread in pullers:
        thread.join(max(0.1, deadline + 5 - time.monotonic()))
        assert not thread.is_alive(), "a puller did not finish within the time bound"
    for station in stations.values():
        station.close()

    assert not errors, "\n".join(errors)
    # Every changeset stored exactly once, though a third were pushed to both processes.
    assert sorted(accepted.elements()) == sorted(pushed)
    assert sum(duplicates.values()) > 0, "no overlapping push happened: the test is vacuous"
    for name, entries in received.items():
        got = [decode_changeset(data).id for data in entries]
        twice = [cid for cid, n in Counter(got).items() if n > 1]
        assert not twice, f"{name} got {len(twice)} changesets twice"
        missing = pushed - set(got)
        assert not missing, f"{name} never got {len(missing)} changesets (skipped)"
        assert len(got) == len(pushed)
    assert sum(raced.values()) > 0, "the pullers never raced the pushes: the test is vacuous"
