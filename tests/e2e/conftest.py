"""End-to-end fixtures: a real centre (uvicorn on 127.0.0.1, a free port, SQLite and real
PostgreSQL) in its own process, real stations in temp dirs, and a TCP proxy between them
that records every byte on the wire and can cut a connection at the worst moment."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.transport import CentreClient
from tests.centre.conftest import db_url, pg_dsn, pg_url  # noqa: F401  (fixtures)
from tests.conftest import PASSPHRASE
from tests.served import Served, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveCentre:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    @property
    def token(self) -> str:
        return (self.home / "staff.token").read_text().strip()

    def staff(self, path: str, body: dict[str, object]) -> dict[str, object]:
        reply = httpx.post(self.url + path, json=body, timeout=30,
                           headers={"Authorization": f"Bearer {self.token}"})
        reply.raise_for_status()
        return reply.json()

    def code(self, station: str, scope: list[str] | None = None) -> str:
        return str(self.staff("/v1/staff/enroll-code",
                              {"station": station, "scope": scope or [station]})["code"])


class RunCentre(Served):
    """``tests.e2e.run_centre``: the centre in one process of its own, on a given database."""

    label = "tests.e2e.run_centre"
    busy = "address already in use"  # uvicorn's words when it cannot bind
    cwd = ROOT

    def __init__(self, home: Path, db: str, key_file: Path, log: Path) -> None:
        super().__init__(log)
        self.home, self.db, self.key_file = home, db, key_file

    def argv(self, port: int) -> list[str]:
        return [sys.executable, "-m", "tests.e2e.run_centre", str(self.home), self.db,
                str(port), str(self.key_file)]

    def answers(self) -> bool:
        return httpx.get(self.url + "/v1/health", timeout=1).status_code == 200


@contextmanager
def running_centre(tmp_path: Path, db_url: str) -> Iterator[LiveCentre]:  # noqa: F811
    """A real centre process (``tests.e2e.run_centre``) on a free port, stopped on exit."""
    key_file = tmp_path / "centre.keyfile"
    key_file.write_bytes(os.urandom(32))
    centre = RunCentre(tmp_path / "centre", db_url, key_file, tmp_path / "centre.log")
    try:
        centre.start()
        assert centre.proc is not None
        yield LiveCentre(centre.url, centre.home, centre.proc)
    finally:
        centre.stop()


@pytest.fixture
def live_centre(tmp_path: Path, db_url: str) -> Iterator[LiveCentre]:  # noqa: F811
    with running_centre(tmp_path, db_url) as centre:
        yield centre


def new_station(tmp_path: Path, station_id: str, *, agent: str = "李春梅") -> Station:
    station, _ = Station.init(tmp_path / station_id, station_id=station_id,
                              name=f"{station_id} 站", agent=agent, passphrase=PASSPHRASE,
                              kdf=FAST_KDF)
    return station


def enrolled(tmp_path: Path, centre: LiveCentre, station_id: str,
             scope: list[str] | None = None, url: str | None = None) -> Station:
    station = new_station(tmp_path, station_id)
    code = centre.code(station_id, scope)
    if url is not None:  # enroll through the proxy: the pinned URL is the proxy's
        code = url + code[code.index("#"):]
    enroll(station, code)
    return station


def link(station: Station) -> CentreClient:
    pin = station.sync.centre()
    return CentreClient(pin.url, station=station.station_id, signer=station.sync.transport())


@dataclass
class Proxy:
    """A TCP proxy that records both directions and can cut a connection on cue.

    ``cut`` decides, for each response the centre sends back, whether to drop it: the
    request has reached (and been committed by) the centre, but the station never hears.
    ``cut_after`` passes only the first N bytes of a response (all but the last -N for a
    negative N; None for all of it) before dropping the connection: a link that fails
    part-way through a reply.
    ``forge`` answers a request itself, without forwarding it (a captive portal, or a
    man in the middle on a plain-HTTP link), when it returns a response. ``target_port``
    may change while it runs (a centre started again elsewhere); while nothing answers
    there, each connection is dropped, as a link to a centre that is down."""

    target_port: int
    port: int = field(default_factory=free_port)
    upstream: bytearray = field(default_factory=bytearray)
    downstream: bytearray = field(default_factory=bytearray)
    cut: Callable[[bytes], bool] = lambda request: False
    cut_after: Callable[[bytes], int | None] = lambda request: None
    forge: Callable[[bytes], bytes | None] = lambda request: None
    cuts: int = 0
    _server: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        """One request at a time: forward it whole, then the response (or cut)."""
        with client:
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                return  # the centre is down: the station's connection is dropped
            with server, contextlib.suppress(OSError):
                self._forward(client, server)

    def _forward(self, client: socket.socket, server: socket.socket) -> None:
        while True:
            request = _read_http(client)
            if not request:
                return
            with self._lock:
                self.upstream += request
            forged = self.forge(request)
            if forged is not None:
                client.sendall(forged)
                continue
            server.sendall(request)
            response = _read_http(server)
            if not response:
                return  # the centre went away mid-request: so does the connection
            with self._lock:
                self.downstream += response
            if self.cut(request):
                self.cuts += 1
                return  # the centre committed; the station never hears back
            part = self.cut_after(request)
            if part is not None:
                self.cuts += 1
                client.sendall(response[:part])
                return  # the link fails part-way through the reply
            client.sendall(response)


def _read_http(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message (headers + Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


@pytest.fixture
def proxy(live_centre: LiveCentre) -> Iterator[Proxy]:
    port = int(live_centre.url.rsplit(":", 1)[1])
    p = Proxy(port).start()
    yield p
    p.stop()
