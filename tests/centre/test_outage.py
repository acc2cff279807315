"""The centre's database failing under it: a clear 503 with Retry-After (the stations' sync
waits it out, their work kept), never a 500 or a request held until the station gives up;
and the centre serves again by itself once the database is back.

PostgreSQL is never stopped here (other tests share it): the outage is a TCP gate between
the centre and the real server, which drops every connection through it and refuses new
ones while it is shut. On SQLite, the other writer is a second connection to the file.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from tenacity import Retrying, stop_after_attempt

from station.centre.keys import Protector
from station.centre.repo.postgres import APPEND_LOCK
from station.centre.serve import CentreConfig, build
from station.centre.service import Centre
from station.store.service import Station
from station.sync.engine import pull, push
from station.sync.errors import Throttled
from station.sync.transport import CentreClient

from .helpers import URL, application, enrolled, error_of

WAIT_S = 2.0  # the centre's wait for its database, short so that a refusal comes quickly
LONG_OUTAGE_S = 20.0  # long enough for the pool's reconnection to have backed off to 16 s


class Gate:
    """A TCP forwarder to the database that can be shut (every connection through it is
    dropped and new ones are closed at once, as when the server goes down) and opened."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.is_open = True
        self.live: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.is_open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.live += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(src, dst), daemon=True).start()

    def shut(self) -> None:
        self.is_open = False
        with self.lock:
            for sock in self.live:
                _hang_up(sock)
            self.live.clear()

    def open(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.shut()
        self.server.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    _hang_up(src)
    _hang_up(dst)


def _hang_up(sock: socket.socket) -> None:
    with suppress(OSError):  # already hung up by the other side
        sock.shutdown(socket.SHUT_RDWR)


def through(dsn: str, port: int) -> str:
    """The same DSN, reaching the database through a local port."""
    parts = urlsplit(dsn)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2
                                     else host))


@contextmanager
def centre_on(tmp_path: Path, db: str) -> Iterator[tuple[Centre, TestClient, dict[str, str]]]:
    """A centre on ``db`` that waits ``WAIT_S`` for it, its client and the staff's headers."""
    key_file = tmp_path / "centre.keyfile"
    key_file.write_bytes(os.urandom(32))
    config = CentreConfig(tmp_path / "centre-home", db=db, public_url=URL,
                          protector=Protector(key_file=key_file), db_wait_s=WAIT_S)
    centre, app = build(config)
    token = (config.home / "staff.token").read_text().strip()
    with TestClient(app, base_url=URL) as client:
        yield centre, client, {"Authorization": f"Bearer {token}"}


def once(client: TestClient, station: Station) -> CentreClient:
    """The station's link, without retries: each refusal is seen as the station gets it."""
    return CentreClient(URL, station=station.station_id, signer=station.sync.transport(),
                        client=client, retry=Retrying(stop=stop_after_attempt(1), reraise=True))


@pytest.mark.postgres
def test_a_database_outage_is_a_503_and_the_centre_serves_again_when_it_is_back(tmp_path,
                                                                              pg_url):
    """PostgreSQL went away under a running centre: every request was a bare 500 (and, once
    the pool had no connection left, only after 30 s), so a station could not tell "come
    back later" from a broken centre. Now it is a 503 with Retry-After that names no host."""
    parts = urlsplit(pg_url)
    gate = Gate(parts.hostname or "127.0.0.1", parts.port or 5432)
    try:
        with centre_on(tmp_path, through(pg_url, gate.port)) as (_, client, staff):
            station = enrolled(client, staff, tmp_path, "V001")
            application(station)
            gate.shut()
            for _ in range(3):  # the pooled connection lost, then none to be had
                reply = client.post("/v1/staff/enroll-code", json={"station": "V002"},
                                    headers=staff)
                error = error_of(reply, 503)
                assert error["code"] == "centre.unavailable"
                assert reply.headers["retry-after"] == "5"
                assert str(gate.port) not in reply.text and "127.0.0.1" not in reply.text
            with pytest.raises(Throttled) as throttled:
                push(station.sync, once(client, station))
            assert throttled.value.params["retry_after"] == 5.0
            assert station.sync.unsent() == 1  # the work is kept for later
            gate.open()  # the database is back: no restart of the centre
            push(station.sync, once(client, station))
            assert station.sync.unsent() == 0
            station.close()
    finally:
        gate.close()


@pytest.mark.postgres
def test_after_a_long_outage_the_centre_serves_again_as_soon_as_the_database_is_back(
        tmp_path, pg_url):
    """The pool's own reconnection attempts back off (1, 2, 4, 8, 16 s …): after an outage of
    20 s the centre went on refusing for several seconds more with the database already back
    (after one of a few minutes, for a minute or two)."""
    parts = urlsplit(pg_url)
    gate = Gate(parts.hostname or "127.0.0.1", parts.port or 5432)
    try:
        with centre_on(tmp_path, through(pg_url, gate.port)) as (_, client, staff):
            gate.shut()
            outage_ends = time.monotonic() + LONG_OUTAGE_S
            while time.monotonic() < outage_ends:
                assert client.get("/v1/staff/stations", headers=staff).status_code == 503
            gate.open()
            reply = client.get("/v1/staff/stations", headers=staff)
            assert reply.status_code == 200, reply.text
    finally:
        gate.close()


@pytest.mark.postgres
def test_a_lock_held_by_a_stalled_process_is_a_503_not_a_request_held_for_ever(tmp_path,
                                                                              pg_url):
    """Another centre process stalled while it held the lock every append takes (a frozen
    VM, a debugger): pushes to every other process waited for it without end, each holding
    a pooled connection, until the stations timed out."""
    with centre_on(tmp_path, pg_url) as (_, client, staff):
        station = enrolled(client, staff, tmp_path, "V001")
        application(station)
        with psycopg.connect(pg_url) as stalled:
            stalled.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            with pytest.raises(Throttled):
                push(station.sync, once(client, station))
            stalled.rollback()  # the process comes back and lets go
        assert station.sync.unsent() == 1
        push(station.sync, once(client, station))
        assert station.sync.unsent() == 0
        station.close()


@pytest.mark.postgres
def test_after_the_database_restarts_the_next_requests_are_served(tmp_path, pg_url):
    """A restart of PostgreSQL ends every connection the centre's pool holds. Each of them
    was still handed out once more, and the request that drew it failed."""
    name = f"centre-{uuid.uuid4().hex[:12]}"
    with centre_on(tmp_path, f"{pg_url}&application_name={name}") as (_, client, staff):
        with ThreadPoolExecutor(4) as pool:  # a few connections in the pool, as under load
            assert {r.status_code for r in pool.map(
                lambda _: client.get("/v1/staff/stations", headers=staff), range(16))} == {200}
        with psycopg.connect(pg_url, autocommit=True) as admin:  # what a restart does to them
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM "
                                  "pg_stat_activity WHERE application_name = %s",
                                  (name,)).fetchone()
        assert ended is not None and ended[0] >= 1
        for _ in range(ended[0] + 1):
            reply = client.post("/v1/staff/enroll-code", json={"station": "V001"},
                                headers=staff)
            assert reply.status_code == 200, reply.text


def test_another_process_writing_the_sqlite_file_is_a_503_not_a_500(tmp_path):
    """Two centre processes on one SQLite file: while one wrote, the other's requests waited
    30 s (as long as a station waits for a reply) and then failed with a 500."""
    db = tmp_path / "centre.db"
    with centre_on(tmp_path, f"sqlite:///{db}") as (_, client, staff):
        station = enrolled(client, staff, tmp_path, "V001")
        application(station)
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the other process, in the middle of a write
        reply = client.post("/v1/staff/enroll-code", json={"station": "V002"}, headers=staff)
        assert error_of(reply, 503)["code"] == "centre.unavailable"
        assert reply.headers["retry-after"] == "5"
        with pytest.raises(Throttled):
            push(station.sync, once(client, station))
        other.execute("ROLLBACK")
        other.close()
        assert station.sync.unsent() == 1
        push(station.sync, once(client, station))
        assert station.sync.unsent() == 0
        station.close()


REPORT = "/v1/staff/report?month=2026-11"


def refusals_while_held(client: TestClient, staff: dict[str, str], station: Station,
                        receipt: str) -> dict[str, tuple[object, float]]:
    """Every kind of request a station and the staff make, all at once (as under load), each
    with how long its answer took; a request still unanswered after a bounded wait fails
    the test rather than hanging it."""
    calls = {
        "push": lambda: push(station.sync, once(client, station)),
        "pull": lambda: pull(station.sync, once(client, station)),
        "stations": lambda: client.get("/v1/staff/stations", headers=staff),
        "report": lambda: client.get(REPORT, headers=staff),
        "conflicts": lambda: client.get("/v1/staff/conflicts", headers=staff),
        "enroll-code": lambda: client.post("/v1/staff/enroll-code", json={"station": "V002"},
                                           headers=staff),
        "decide": lambda: client.post("/v1/staff/decide", headers=staff, json={
            "receipt": receipt, "outcome": "completed"}),
    }

    def timed(call: Callable[[], object]) -> tuple[object, float]:
        began = time.monotonic()
        try:
            answer: object = call()
        except Exception as exc:  # the station's refusal (Throttled) is what is checked
            answer = exc
        return answer, time.monotonic() - began

    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {name: pool.submit(timed, call) for name, call in calls.items()}
        return {name: f.result(timeout=WAIT_S * 4) for name, f in futures.items()}


def assert_all_503(answers: dict[str, tuple[object, float]], *, only: set[str]) -> None:
    for name, (answer, took) in answers.items():
        if name not in only:
            continue
        assert took < WAIT_S * 3, (name, took)  # the configured wait, not a hang
        if isinstance(answer, Throttled):  # the station's sync: it waits as told
            assert answer.params["retry_after"] == 5.0, name
            continue
        assert not isinstance(answer, BaseException), (name, answer)
        error = error_of(answer, 503)  # type: ignore[arg-type]
        assert error["code"] == "centre.unavailable", name
        assert answer.headers["retry-after"] == "5", name  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_with_every_pooled_connection_held_each_request_is_a_503_in_a_bounded_time(tmp_path,
                                                                                  pg_url):
    """Every connection of the pool in use (long requests, a stalled worker): the station's
    and the staff's requests are told in both languages to come back after Retry-After once
    the configured wait is over, never held or answered with a 500; they are served again as
    soon as a connection comes back."""
    with centre_on(tmp_path, pg_url) as (centre, client, staff):
        station = enrolled(client, staff, tmp_path, "V001")
        receipt = application(station).receipt
        push(station.sync, once(client, station))
        application(station, name="赵秀兰")  # saved meanwhile: kept for the next sync
        pool = centre.repo.d.pool
        held = [pool.getconn() for _ in range(pool.max_size)]
        try:
            answers = refusals_while_held(client, staff, station, receipt)
        finally:
            for conn in held:
                pool.putconn(conn)
        assert_all_503(answers, only=set(answers))
        assert station.sync.unsent() == 1
        push(station.sync, once(client, station))
        assert station.sync.unsent() == 0
        assert client.get("/v1/staff/stations", headers=staff).status_code == 200
        station.close()


def test_with_the_sqlite_file_held_by_another_writer_each_write_is_a_503_in_a_bounded_time(
        tmp_path):
    """The other centre process holds the write lock: every request that writes (a station's
    push and pull, which records its nonce; the staff's code, decision) is a 503 with
    Retry-After after the configured wait; reading the figures is not held up at all."""
    db = tmp_path / "centre.db"
    with centre_on(tmp_path, f"sqlite:///{db}") as (_, client, staff):
        station = enrolled(client, staff, tmp_path, "V001")
        receipt = application(station).receipt
        push(station.sync, once(client, station))
        application(station, name="赵秀兰")  # saved meanwhile: kept for the next sync
        assert client.get(REPORT, headers=staff).status_code == 200  # merged what came
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            answers = refusals_while_held(client, staff, station, receipt)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert_all_503(answers, only={"push", "pull", "enroll-code", "decide"})
        for name in ("stations", "report", "conflicts"):
            answer, took = answers[name]
            assert getattr(answer, "status_code", None) == 200 and took < WAIT_S, name
        push(station.sync, once(client, station))
        assert station.sync.unsent() == 0
        station.close()


@pytest.mark.postgres
def test_with_every_pooled_connection_held_the_503_says_the_centre_is_busy(tmp_path, pg_url,
                                                                          caplog):
    """The pool exhausted, the database up: the 503 said only 'it did not answer in time',
    which sent the technician to look at a database that was fine. It says now that every
    one of the centre's connections is busy with other requests, in both languages, and
    the log tells the technician what to look at."""
    with centre_on(tmp_path, pg_url) as (centre, client, staff):
        pool = centre.repo.d.pool
        held = [pool.getconn() for _ in range(pool.max_size)]
        try:
            reply = client.get("/v1/staff/stations", headers=staff)
        finally:
            for conn in held:
                pool.putconn(conn)
        error = error_of(reply, 503)
        assert error["code"] == "centre.unavailable" and reply.headers["retry-after"] == "5"
        size, wait = pool.max_size, f"{WAIT_S:.0f}"
        assert error["zh"] == (f"镇中心正忙：它与数据库的 {size} 个连接都在处理其他请求，"
                               f"{wait} 秒内没有空出来；请稍后再试，站点的工作已保存")
        assert error["en"].startswith(f"The town centre is busy: all {size} of its connections")
        assert "did not answer" not in error["en"]
        advice = [r for r in caplog.records if r.getMessage() == "every database connection in use"]
        assert advice and "pg_stat_activity" in advice[0].fields["advice"]  # type: ignore[attr-defined]
        assert client.get("/v1/staff/stations", headers=staff).status_code == 200
