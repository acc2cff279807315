"""sync: push 100 000 changesets to a real centre and pull them into an empty station.

Targets (issue "Sync client"): ≥ 3 000 changesets/s push and pull on the SQLite centre
(PouchDB replicating the same documents to pouchdb-server on this kind of machine does about
2 900 push / 3 500 pull); bytes on the wire per typical one-field edit ≤ 400 B and per new
application ≤ 600 B, sealed and signed. The PostgreSQL centre is measured too.

Baselines in the same run: a bare httpx POST loop of the same bytes to a bare endpoint
(what moving the bytes costs), and the raw crypto cost of the same changesets
(sign + seal at the station, verify + open at the centre).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Report, Target, log, median, scratch, timed, write_residents_csv
from station.domain import sample
from station.store.importer import import_file
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.engine import PUSH_MAGIC, SyncReport, pull, push
from station.sync.transport import CentreClient
from station.wire.envelope import open_changeset, seal_changeset, verify_changeset
from station.wire.framing import pack
from station.wire.keys import SealKey, Signer

PASSPHRASE = "bench passphrase"
PUSH_LIMIT = 3000.0
EDIT_BYTES = 400.0
APPLICATION_BYTES = 600.0
ROOT = Path(__file__).resolve().parents[1]

CENTRE = """
import sys
from pathlib import Path
from station.centre.keys import Protector
from station.centre.serve import CentreConfig, serve
home, db, key, workers, port = sys.argv[1:6]
serve(CentreConfig(Path(home), db=db, host="127.0.0.1", port=int(port),
                   protector=Protector(key_file=Path(key)), workers=int(workers),
                   protector_file=("key_file", Path(key))))
"""
WORKERS = 1  # one server process; it checks each push on every core (centre/opening.py)

BARE = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[-1]), log_level="warning")
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real server process on 127.0.0.1 (``code`` gets its port as the last argument)."""

    def __init__(self, code: str, *args: str, health: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args, str(self.port)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.url + health, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_centre(work: Path, db: str, key_file: Path, workers: int = WORKERS) -> Server:
    return Server(CENTRE, str(work / "centre-home"), db, str(key_file), str(workers),
                  health="/v1/health")


def staff_code(centre: Server, work: Path, station: str, scope: list[str]) -> str:
    token = (work / "centre-home" / "staff.token").read_text().strip()
    reply = httpx.post(centre.url + "/v1/staff/enroll-code", timeout=30,
                       json={"station": station, "scope": scope},
                       headers={"Authorization": f"Bearer {token}"})
    reply.raise_for_status()
    return str(reply.json()["code"])


def source_station(work: Path, n: int, centre: Server) -> Path:
    """A station with ``n`` sealed changesets in its outbox (built once per run set)."""
    home = work / "source"
    station, _ = Station.init(home, station_id="V001", name="青石村", agent="李春梅",
                              passphrase=PASSPHRASE, kdf=FAST_KDF)
    enroll(station, staff_code(centre, work, "V001", ["V001"]))
    csv = work / "residents.csv"
    write_residents_csv(csv, n)
    import_file(station, csv)
    station.close()
    return home


def wire_sizes(home: Path) -> dict[str, float]:
    """Sealed bytes per changeset as pushed (framing and HTTP headers shared per batch are
    counted separately): a typical one-field edit, and a new application."""
    station = Station.open(home, PASSPHRASE)
    try:
        before = {i.changeset for i in station.sync.outbox(10**9, 1 << 62)}
        ids = [r[0] for r in station.db.execute("SELECT id FROM records LIMIT 50")]
        for rid in ids:
            station.update(rid, {"resident.phone": f"139{abs(hash(rid)) % 10**8:08d}"})
        apps = sample.applications(50, catalogue=station.catalogue, seed=3,
                                   today=station.today())
        for row in apps:
            row.pop("kind")
            try:
                station.create("application", row)
            except Exception:  # a sample the rules refuse: not what is measured
                continue
        items = [i for i in station.sync.outbox(10**9, 1 << 62) if i.changeset not in before]
        edits = [len(i.sealed) + 4 for i in items[:len(ids)]]
        creates = [len(i.sealed) + 4 for i in items[len(ids):]]
        return {"edit": median(edits), "application": median(creates)}
    finally:
        station.close()


def crypto_baseline(home: Path, limit: int) -> float:
    """Seconds for sign + seal + verify + open of ``limit`` changesets (no I/O)."""
    station = Station.open(home, PASSPHRASE)
    try:
        rows = station.db.execute("SELECT id, body FROM changesets LIMIT ?", [limit]).fetchall()
        encoded = [station.keys.open("changesets", body, f"changesets|{cid}|1")
                   for cid, body in rows]
        ids = [cid for cid, _ in rows]
    finally:
        station.close()
    signer, centre = Signer.generate(), SealKey.generate()

    def work() -> None:
        for cid, enc in zip(ids, encoded, strict=True):
            blob = seal_changeset(enc, changeset_id=cid, station="V001", signer=signer,
                                  centre_public=centre.public_bytes())
            head = verify_changeset(blob, signer.public_bytes())
            open_changeset(blob, head, centre)

    seconds, _ = timed(work)
    return seconds


def bare_post(bodies: list[bytes]) -> float:
    server = Server(BARE, health="/")
    try:
        with httpx.Client(timeout=60) as client:
            seconds, _ = timed(lambda: [client.post(server.url + "/push", content=b)
                                        for b in bodies])
    finally:
        server.stop()
    return seconds


def one_run(work: Path, source: Path, key_file: Path, db: str, run: int) -> dict[str, Any]:
    home = work / f"run-{run}"
    shutil.copytree(source, home / "V001")
    server = start_centre(work, db, key_file)
    try:
        station = Station.open(home / "V001", PASSPHRASE)
        enroll(station, staff_code(server, work, "V001", ["V001"]))  # register in this DB
        reader, _ = Station.init(home / "BUS01", station_id="BUS01", name="直通车",
                                 agent="张", passphrase=PASSPHRASE, kdf=FAST_KDF)
        enroll(reader, staff_code(server, work, "BUS01", ["V001"]))
        total = station.sync.unsent()
        up = SyncReport()
        with CentreClient(server.url, station="V001", signer=station.sync.transport()) as lk:
            push_s, _ = timed(lambda: push(station.sync, lk, up))
        down = SyncReport()
        with CentreClient(server.url, station="BUS01", signer=reader.sync.transport()) as lk:
            pull_s, _ = timed(lambda: pull(reader.sync, lk, down, station=reader))
        assert up.pushed == total and down.pulled == total, (up, down, total)
        station.close()
        reader.close()
        return {"changesets": total, "push_s": push_s, "pull_s": pull_s,
                "bytes_up": up.bytes_up, "bytes_down": down.bytes_down}
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def run(*, quick: bool = False, repeats: int | None = None, keep: bool = False) -> Report:
    repeats = repeats or (3 if quick else 5)
    n = 5000 if quick else 100_000
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("STATION_TEST_PG_DSN") else [])
    rows: list[list[Any]] = []
    targets: list[Target] = []
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    with scratch("sync", keep=keep) as work:
        key_file = work / "centre.keyfile"
        key_file.write_bytes(os.urandom(32))
        log(f"sync: building a station with {n:,} changesets in its outbox")
        setup = start_centre(work, f"sqlite:///{work / 'setup.db'}", key_file, workers=1)
        try:
            source = source_station(work, n, setup)
        finally:
            setup.stop()
        sizes = wire_sizes(source)
        log("sync: baselines (raw crypto; bare httpx POST loop of the same bytes)")
        crypto_s = median([crypto_baseline(source, min(n, 5000)) for _ in range(3)])
        crypto_rate = min(n, 5000) / crypto_s
        station = Station.open(source, PASSPHRASE)
        items = station.sync.outbox(10**9, 1 << 62)
        station.close()
        bodies = [pack(PUSH_MAGIC, [i.sealed for i in items[s:s + 300]])
                  for s in range(0, len(items), 300)]
        bare_s = median([bare_post(bodies) for _ in range(3)])
        for backend in backends:
            for r in range(repeats):
                db = (f"sqlite:///{work / f'centre-{r}.db'}" if backend == "sqlite"
                      else _pg_schema(r))
                log(f"sync: {backend} run {r + 1}/{repeats}")
                result = one_run(work, source, key_file, db, r)
                result["backend"] = backend
                runs.append(result)
            mine = [x for x in runs if x["backend"] == backend]
            push_rate = median([x["changesets"] / x["push_s"] for x in mine])
            pull_rate = median([x["changesets"] / x["pull_s"] for x in mine])
            per_up = median([x["bytes_up"] / x["changesets"] for x in mine])
            rows.append([f"{backend}: push", push_rate, n / bare_s, crypto_rate, per_up])
            rows.append([f"{backend}: pull", pull_rate, None, None,
                         median([x["bytes_down"] / x["changesets"] for x in mine])])
            if backend == "sqlite":
                targets += [Target("push changesets/s (SQLite centre)", push_rate, PUSH_LIMIT,
                                   ">=", "cs/s"),
                            Target("pull changesets/s (SQLite centre)", pull_rate, PUSH_LIMIT,
                                   ">=", "cs/s")]
    targets += [Target("bytes per one-field edit (sealed+signed)", sizes["edit"], EDIT_BYTES,
                       "<=", "B"),
                Target("bytes per new application (sealed+signed)", sizes["application"],
                       APPLICATION_BYTES, "<=", "B")]
    notes.append(f"per changeset on the wire, sealed and signed: one-field edit "
                 f"{sizes['edit']:.0f} B, new application {sizes['application']:.0f} B "
                 "(each plus a 4-byte frame; HTTP headers are shared by a batch)")
    notes.append("the centre checks each push's signatures and seals on every core; the "
                 "station keeps 2 push batches in flight and fetches the next pull batch "
                 "while merging the last")
    notes.append("baselines: bare = the same push bodies POSTed in a loop to a bare uvicorn "
                 "endpoint; crypto = sign + seal + verify + open of the same changesets, "
                 "single core, no I/O")
    return Report(name="sync", quick=quick,
                  title=f"sync: {n:,} changesets pushed to a real centre on 127.0.0.1 and "
                        f"pulled into an empty station (medians of {repeats} runs)",
                  params={"changesets": n, "repeats": repeats, "backends": backends},
                  headers=["measure", "cs/s", "bare POST cs/s", "crypto-only cs/s",
                           "bytes/cs"],
                  rows=rows, targets=targets, runs=runs, notes=notes)


def _pg_schema(run: int) -> str:
    import uuid
    from urllib.parse import quote

    import psycopg

    base = os.environ["STATION_TEST_PG_DSN"]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
