"""The centre under concurrent load, on SQLite and on the real PostgreSQL server: several real
stations (villages and buses, each in its own temp dir and thread) save and sync at the same
time, again and again, while staff decide, list conflicts and stations and issue codes.

What must hold: no answer is a 500 (a 503 only with Retry-After); no changeset is lost or
doubled at the centre; no station's cursor skips anything (each ends holding every changeset
of its villages); every station converges to byte-identical records; and a conflict raised by
concurrent edits of one field is listed once. ``make test`` runs a few rounds; ``make soak``
(``STATION_SOAK=1``) many more."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from station.store.service import Station
from station.sync.engine import sync_once
from tests.e2e.conftest import LiveCentre, enrolled, link

SOAK = bool(os.environ.get("STATION_SOAK"))
ROUNDS = 40 if SOAK else 4
VILLAGE = "V001"
# four village-side laptops and two buses, all serving V001 (and so all holding its records)
STATIONS = {"V001": None, "V002": [VILLAGE], "V003": [VILLAGE], "V004": [VILLAGE],
            "BUS01": [VILLAGE, "V002"], "BUS02": [VILLAGE, "V003"]}
APPLICATION = {"matter": "HJ-001", "applicant.name": "王桂英",
               "applicant.id_number": "11010519491231002X", "applicant.phone": "13912345678",
               "materials.received": ["M01", "M02", "M03", "M04"]}


def _sync(station: Station) -> None:
    with link(station) as lk:
        sync_once(station.sync, lk, station=station)


def _in_threads(work: dict[str, Callable[[], None]]) -> None:
    """Run each piece of work in a thread of its own, all at once; re-raise the first error."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(work))

    def run(fn: Callable[[], None]) -> None:
        try:
            start.wait()
            fn()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,), name=name) for name, fn in work.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a sync hung"
    if errors:
        raise errors[0]


class Staff:
    """Centre staff at work beside the stations: every answer is kept, to be judged."""

    def __init__(self, centre: LiveCentre) -> None:
        self.centre = centre
        self.answers: list[httpx.Response] = []
        self.stop = threading.Event()

    def call(self, client: httpx.Client, method: str, path: str, **kw: object) -> httpx.Response:
        reply = client.request(method, self.centre.url + path, **kw)  # type: ignore[arg-type]
        self.answers.append(reply)
        return reply

    def work(self, receipts: list[str]) -> None:
        headers = {"Authorization": f"Bearer {self.centre.token}"}
        with httpx.Client(headers=headers, timeout=60) as client:
            n = 0
            while not self.stop.is_set():
                self.call(client, "GET", "/v1/staff/conflicts")
                self.call(client, "GET", "/v1/staff/stations")
                self.call(client, "POST", "/v1/staff/enroll-code",
                          json={"station": f"X{n % 7}", "scope": [VILLAGE]})
                if receipts:
                    self.call(client, "POST", "/v1/staff/decide",
                              json={"receipt": receipts[n % len(receipts)],
                                    "outcome": "completed", "staff": "张"})
                n += 1


@pytest.mark.soak
@pytest.mark.timeout(7200 if SOAK else 300)
def test_many_stations_syncing_at_once_converge_with_nothing_lost_or_doubled(
        tmp_path: Path, live_centre: LiveCentre) -> None:
    stations: dict[str, Station] = {}

    def enroll_one(sid: str) -> None:
        stations[sid] = enrolled(tmp_path, live_centre, sid, STATIONS[sid])

    _in_threads({sid: (lambda s=sid: enroll_one(s)) for sid in STATIONS})
    # one shared application every station edits at once, and one the centre decides
    shared = stations[VILLAGE].create("application", APPLICATION)
    decided = stations[VILLAGE].create("application", APPLICATION)
    _sync(stations[VILLAGE])
    made: Counter[str] = Counter()

    def station_work(sid: str) -> None:
        st = stations[sid]
        _sync(st)
        for n in range(ROUNDS):
            st.create("resident", {"resident.name": f"居民{sid}{n}"}, scope=VILLAGE)
            if n == 0:  # everyone edits the same field of the shared case, unseen by others
                st.update(shared.id, {"applicant.phone": f"1390000000{list(STATIONS).index(sid)}"})
            _sync(st)
            made[sid] += 1

    staff = Staff(live_centre)
    staff_thread = threading.Thread(target=staff.work, args=([decided.receipt],))
    staff_thread.start()
    try:
        _in_threads({sid: (lambda s=sid: station_work(s)) for sid in STATIONS})
    finally:
        staff.stop.set()
        staff_thread.join(timeout=120)
    for _ in range(2):  # quiet rounds: everything everyone pushed comes down to everyone
        for st in stations.values():
            _sync(st)

    statuses = Counter(r.status_code for r in staff.answers)
    assert 500 not in statuses, [r.text for r in staff.answers if r.status_code == 500][:3]
    assert all(r.headers.get("retry-after") for r in staff.answers if r.status_code == 503)
    assert statuses[200] > 0

    ids = {sid: {r[0] for r in st.ledger.db.execute("SELECT id FROM changesets c WHERE "
                                                     "c.record IN (SELECT id FROM records "
                                                     "WHERE scope=?)", [VILLAGE])}
           for sid, st in stations.items()}
    union = set().union(*ids.values())
    for sid, held in ids.items():  # no cursor skipped anything: every station holds it all
        assert held == union, f"{sid} is missing {len(union - held)} changesets"
    records = {sid: {rid: st.ledger.state(rid) for (rid,) in st.ledger.db.execute(
        "SELECT id FROM records WHERE scope=? ORDER BY id", [VILLAGE])}
        for sid, st in stations.items()}
    first = records[VILLAGE]
    assert len(first) == 2 + sum(made.values())  # every resident once: none lost or doubled
    for sid, got in records.items():
        assert got == first, f"{sid} differs from {VILLAGE}"

    listed = httpx.get(live_centre.url + "/v1/staff/conflicts", timeout=60,
                       headers={"Authorization": f"Bearer {live_centre.token}"}).json()
    phone = [c for c in listed if c["record"] == shared.id]
    assert len(phone) == 1, phone  # the concurrent edits of one field: one conflict, once
    for st in stations.values():
        assert [c.field for c in st.conflicts() if c.record == shared.id] == ["applicant.phone"]
        st.close()
