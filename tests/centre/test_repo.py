"""The repository interface, straight (no HTTP), on SQLite and on PostgreSQL: one-time codes,
the nonce cache, station keys, the ordered log, merged records, settings."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from contextlib import contextmanager

import pytest

from station.centre.errors import ForeignDatabase, NewerDatabase
from station.centre.repo import (
    CentreRecord,
    EnrollCode,
    LogEntry,
    Repository,
    StationRow,
    open_repository,
)
from station.centre.repo.base import NONCE_SWEEP_MS, SCHEMA_VERSION, Dialect
from station.domain.errors import StationError

NOW = 1_795_397_400_000


@pytest.fixture
def repo(db_url):
    repo = open_repository(db_url)
    yield repo
    repo.close()


def code(token: bytes, station: str = "V001", scope: tuple[str, ...] = ("V001",),
         expires_ms: int = NOW + 60_000) -> EnrollCode:
    return EnrollCode(token.ljust(32, b"\0"), station, scope, expires_ms)


def station_row(station: str = "V001", transport: bytes = b"T" * 32,
                scope: tuple[str, ...] = ("V001",), at: int = NOW) -> StationRow:
    return StationRow(station, scope, b"S" * 32, b"\x01" + b"X" * 32, transport,
                      f"{station}-abc123", at)


def entry(n: int, scope: str, origin: str, kind: str = "changeset") -> LogEntry:
    return LogEntry(f"id-{n}", kind, scope, origin, f"rec-{n}", f"{NOW + n}.0.{origin}",
                    f"body {n}".encode())


def record(rid: str, receipt: str | None, version: int = 1, status: str = "received"
           ) -> CentreRecord:
    return CentreRecord(rid, "application", "V001", receipt, status, "HJ-001", "station",
                        "a", "b", version, b"sealed state")


def test_open_repository_makes_the_schema_and_is_safe_to_run_again(db_url):
    repo = open_repository(db_url)
    repo.set_setting("probe", "1")
    again = open_repository(db_url)  # a second process starting: migrate again, keep data
    assert again.setting("probe") == "1"
    assert again.setting("schema_version") == "1"
    again.close()
    repo.close()


def test_a_database_of_a_newer_schema_is_refused_before_anything_is_changed(db_url):
    """A centre started against the database of a newer one (a rollback of the package, a
    spare machine) took it as its own and wrote to tables it does not know the shape of."""
    newer = open_repository(db_url)
    newer.set_setting("schema_version", str(SCHEMA_VERSION + 1))
    newer.close()
    with pytest.raises(NewerDatabase) as refused:
        open_repository(db_url)
    assert f"schema version {SCHEMA_VERSION + 1}" in refused.value.message("en")
    assert "upgrade station" in refused.value.message("en")


def test_another_applications_database_is_refused_and_left_as_it_was(db_url):
    """``--db`` pointing at another application's database that happens to have a ``log``
    table: the centre added its own tables beside it, then failed on a column it lacks."""
    with _raw(db_url) as conn:
        conn.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, message TEXT)")
    with pytest.raises(ForeignDatabase) as refused:
        open_repository(db_url)
    assert "(log)" in refused.value.message("en")
    with _raw(db_url) as conn:  # nothing of ours was made beside it
        tables = {r[0] for r in conn.execute(_TABLES[db_url.split(":")[0]]).fetchall()}
    assert tables == {"log"}


_TABLES = {"sqlite": "SELECT name FROM sqlite_master WHERE type='table'",
           "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"}


@contextmanager
def _raw(db_url: str):
    """A plain connection to the database behind ``db_url``, committed on exit."""
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///"):])
    else:
        import psycopg

        conn = psycopg.connect(db_url)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def test_unknown_database_url_is_refused_clearly():
    from station.centre.errors import BadRequest

    with pytest.raises(BadRequest) as caught:
        open_repository("mysql://somewhere/db")
    assert "sqlite:///" in caught.value.message("en")


def test_settings(repo):
    assert repo.setting("catalogue") is None
    repo.set_setting("catalogue", "v1")
    repo.set_setting("catalogue", "v2")
    assert repo.setting("catalogue") == "v2"


# --- one-time codes ------------------------------------------------------------------------

def test_a_code_can_be_taken_once(repo):
    repo.add_code(code(b"a", "BUS01", ("V001", "V002")))
    taken = repo.take_code(code(b"a").token_hash, NOW)
    assert taken is not None
    assert (taken.station, taken.scope) == ("BUS01", ("BUS01", "V001", "V002"))
    assert repo.take_code(code(b"a").token_hash, NOW) is None
    assert repo.take_code(code(b"a").token_hash, NOW + 1) is None
    assert repo.take_code(code(b"unknown").token_hash, NOW) is None


def test_an_expired_code_cannot_be_taken(repo):
    repo.add_code(code(b"a", expires_ms=NOW + 10))
    assert repo.take_code(code(b"a").token_hash, NOW + 10) is None
    repo.add_code(code(b"b", expires_ms=NOW + 10))
    assert repo.take_code(code(b"b").token_hash, NOW + 9) is not None


def test_a_code_for_another_station_is_not_used_up(repo):
    repo.add_code(code(b"a", "V002", ("V002",)))
    other = repo.take_code(code(b"a").token_hash, NOW, station="V001")
    assert other is not None and other.station == "V002"  # so the caller can say whose it is
    taken = repo.take_code(code(b"a").token_hash, NOW, station="V002")
    assert taken is not None and taken.station == "V002"
    assert repo.take_code(code(b"a").token_hash, NOW, station="V002") is None


def test_two_threads_cannot_both_take_one_code(repo):
    tokens = [code(bytes([65 + i])) for i in range(12)]
    for c in tokens:
        repo.add_code(c)
    wins: list[bytes] = []
    barrier = threading.Barrier(2)

    def take(c: EnrollCode) -> None:
        barrier.wait()
        if repo.take_code(c.token_hash, NOW) is not None:
            wins.append(c.token_hash)

    for c in tokens:
        threads = [threading.Thread(target=take, args=(c,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(wins) == sorted(c.token_hash for c in tokens)


class Dawdling(Dialect):
    """The real dialect, pausing after every statement of a write transaction: two
    transactions then interleave as badly as they ever could."""

    def __init__(self, inner: Dialect) -> None:
        self.inner = inner
        self.name, self.blob, self.serial = inner.name, inner.blob, inner.serial

    def sql(self, text: str) -> str:
        return self.inner.sql(text)

    def reading(self):
        return self.inner.reading()

    @contextmanager
    def writing(self, *, append_lock: bool = False):
        with self.inner.writing(append_lock=append_lock) as conn:
            yield _Slow(conn)

    def close(self) -> None:
        self.inner.close()


class _Slow:
    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql, params=()):
        cursor = self.conn.execute(sql, params)
        time.sleep(0.15)
        return cursor


def test_a_code_is_taken_once_even_when_two_transactions_interleave(db_url):
    base = open_repository(db_url)
    slow = Repository(Dawdling(base.d))
    base.add_code(code(b"race"))
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(
        slow.take_code(code(b"race").token_hash, NOW))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    base.close()


def test_two_enrollments_of_one_station_at_once_both_succeed_one_after_the_other(db_url):
    base = open_repository(db_url)
    slow = Repository(Dawdling(base.d))
    keys = [b"A" * 32, b"B" * 32]
    failures: list[Exception] = []

    def register(transport: bytes) -> None:
        try:
            slow.register(station_row("V009", transport=transport))
        except Exception as exc:  # what the enrollment's request would have answered a 500 for
            failures.append(exc)

    threads = [threading.Thread(target=register, args=(key,)) for key in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    current = base.station("V009")
    assert current is not None and current.transport_public in keys
    assert base.retired_keys("V009") == [k for k in keys if k != current.transport_public]
    base.close()


# --- nonces --------------------------------------------------------------------------------

def test_a_nonce_is_accepted_once_per_station(repo):
    assert repo.remember_nonce("V001", "n" * 32, NOW + 600_000, NOW)
    assert not repo.remember_nonce("V001", "n" * 32, NOW + 600_000, NOW + 1)
    assert repo.remember_nonce("V002", "n" * 32, NOW + 600_000, NOW + 1)


def test_an_expired_nonce_is_taken_as_new(repo):
    assert repo.remember_nonce("V001", "old" * 8, NOW + 10, NOW)
    assert not repo.remember_nonce("V001", "old" * 8, NOW + 20, NOW + 10)  # not yet expired
    assert repo.remember_nonce("V001", "old" * 8, NOW + 999, NOW + 12)
    assert not repo.remember_nonce("V001", "old" * 8, NOW + 999, NOW + 13)  # live again


def test_expired_nonces_are_swept_now_and_then(repo):
    for n in range(3):
        assert repo.remember_nonce("V001", f"gone{n}" * 8, NOW + 10, NOW)
    assert repo.remember_nonce("V001", "soon" * 8, NOW + NONCE_SWEEP_MS * 3, NOW + 11)
    assert repo._read("SELECT count(*) FROM nonces")[0][0] == 4  # swept at NOW, not again yet
    assert repo.remember_nonce("V001", "later" * 8, NOW + NONCE_SWEEP_MS * 3,
                               NOW + NONCE_SWEEP_MS + 1)
    assert repo._read("SELECT count(*) FROM nonces")[0][0] == 2


def test_a_nonce_is_remembered_once_from_two_threads(repo):
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def remember() -> None:
        barrier.wait()
        results.append(repo.remember_nonce("V001", "same" * 8, NOW + 600_000, NOW))

    threads = [threading.Thread(target=remember) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]


# --- stations ------------------------------------------------------------------------------

def test_register_and_reregister_retires_the_old_transport_key(repo):
    assert repo.station("V001") is None
    repo.register(station_row(transport=b"A" * 32))
    assert repo.retired_keys("V001") == []
    row = repo.station("V001")
    assert row is not None and row.transport_public == b"A" * 32 and row.revoked_ms is None
    assert row.scope == ("V001",) and row.device == "V001-abc123"

    repo.register(station_row(transport=b"A" * 32, at=NOW + 1))  # same keys again: nothing
    assert repo.retired_keys("V001") == []
    repo.register(station_row(transport=b"B" * 32, at=NOW + 2))  # a reinstalled laptop
    assert repo.retired_keys("V001") == [b"A" * 32]
    assert repo.station("V001").transport_public == b"B" * 32
    assert [s.id for s in repo.stations()] == ["V001"]


def test_revoke_and_enroll_again(repo):
    repo.register(station_row("V002"))
    repo.register(station_row("V001", transport=b"C" * 32))
    assert [s.id for s in repo.stations()] == ["V001", "V002"]
    assert repo.revoke("V001", NOW + 5)
    assert not repo.revoke("V001", NOW + 6)  # already revoked
    assert not repo.revoke("V404", NOW + 6)
    assert repo.station("V001").revoked_ms == NOW + 5
    assert repo.station("V002").revoked_ms is None
    repo.register(station_row("V001", transport=b"D" * 32, at=NOW + 7))
    assert repo.station("V001").revoked_ms is None
    assert repo.retired_keys("V001") == [b"C" * 32]
    assert repo.retired_keys("V002") == []


# --- the log -------------------------------------------------------------------------------

def fill(repo: Repository) -> None:
    with repo.writing(NOW) as tx:
        tx.append(entry(1, "V001", "V001"))
        tx.append(entry(2, "V002", "V002"))
        tx.append(entry(3, "*", "centre", kind="catalogue"))
        tx.append(entry(4, "V001", "BUS01"))
        tx.append(entry(5, "V001", "centre"))
        tx.append(entry(6, "V003", "V003"))


def test_the_log_is_read_by_scope_in_order(repo):
    assert repo.head() == 0
    fill(repo)
    assert repo.head() == 6
    assert repo.count() == 5 and repo.count("catalogue") == 1
    ids = lambda entries: [e.id for e in entries]  # noqa: E731
    assert ids(repo.read_log(0, ["V001"], exclude_own=None, limit=100)) == [
        "id-1", "id-3", "id-4", "id-5"]
    assert ids(repo.read_log(0, ["V001", "V002"], exclude_own=None, limit=100)) == [
        "id-1", "id-2", "id-3", "id-4", "id-5"]
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V001", None), limit=100)) == [
        "id-3", "id-4", "id-5"]
    assert ids(repo.read_log(0, ["V001", "V002"], exclude_own=("BUS01", "BUS01", None),
                             limit=100)) == ["id-1", "id-2", "id-3", "id-5"]
    # the same station's work from the install it replaced (another device) still comes down
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V001-new", None),
                             limit=100)) == [
        "id-1", "id-3", "id-4", "id-5"]
    # a device id is matched as text, not as a LIKE pattern
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V0_1", None), limit=100)) == [
        "id-1", "id-3", "id-4", "id-5"]
    assert ids(repo.read_log(0, ["V001"], exclude_own=None, limit=2)) == ["id-1", "id-3"]
    after = repo.read_log(3, ["V001"], exclude_own=None, limit=100)
    assert ids(after) == ["id-4", "id-5"]
    assert [e.seq for e in after] == sorted(e.seq for e in after) and after[0].seq > 3
    got = after[0]
    assert (got.kind, got.scope, got.origin, got.record, got.body) == (
        "changeset", "V001", "BUS01", "rec-4", b"body 4")
    assert repo.read_log(6, ["V001", "V002", "V003"], exclude_own=None, limit=10) == []
    # up to where the install knows we hold its work: past it (sent, then lost to a restore
    # from an older backup) its own changesets come back; "" says it knows of none
    held = f"{NOW + 1}.0.V001"
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V001", held), limit=100)) == [
        "id-3", "id-4", "id-5"]
    with repo.writing(NOW) as tx:
        tx.append(entry(7, "V001", "V001"))
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V001", held), limit=100)) == [
        "id-3", "id-4", "id-5", "id-7"]
    assert ids(repo.read_log(0, ["V001"], exclude_own=("V001", "V001", ""), limit=100)) == [
        "id-1", "id-3", "id-4", "id-5", "id-7"]


def test_known_and_an_append_that_fails_leaves_nothing(repo):
    fill(repo)
    with repo.writing(NOW) as tx:
        assert tx.known(["id-1", "id-6", "id-99"]) == {"id-1", "id-6"}
    with pytest.raises(RuntimeError), repo.writing(NOW) as tx:
        tx.append(entry(7, "V001", "V001"))
        raise RuntimeError("crash in the middle of a batch")
    assert repo.head() == 6
    with pytest.raises(Exception), repo.writing(NOW) as tx:  # noqa: B017 - either driver's
        tx.append(entry(1, "V001", "V001"))                 # unique-violation error
    assert repo.count() == 5


# --- merged records ------------------------------------------------------------------------

def test_records_are_saved_updated_and_found_by_receipt_or_id(repo):
    with repo.writing(NOW) as tx:
        assert tx.records(["r1"]) == {}
        tx.save_records([record("r1", "V001-20261123-0001")])
        tx.save_records([record("r2", "V001-20261123-0002")])
    with repo.writing(NOW) as tx:
        tx.save_records([record("r1", "V001-20261123-0001", version=2, status="completed")])
        assert tx.records(["r1"])["r1"].version == 2
        assert set(tx.records(["r1", "r2", "r3"])) == {"r1", "r2"}
    found = repo.find_receipt("V001-20261123-0001")
    assert [(r.id, r.version, r.status, r.state) for r in found] == [
        ("r1", 2, "completed", b"sealed state")]
    assert [r.id for r in repo.find_receipt("r2")] == ["r2"]  # a record id works too
    assert repo.find_receipt("V001-20261123-0404") == []
    with repo.writing(NOW) as tx:  # a reinstalled laptop handing out the same number again
        tx.save_records([record("r3", "V001-20261123-0001")])
    assert sorted(r.id for r in repo.find_receipt("V001-20261123-0001")) == ["r1", "r3"]


def test_clock_flags_keep_the_latest_per_device(repo):
    with repo.writing(NOW) as tx:
        tx.flag_clock("V001-abc", 3_600_000)
    with repo.writing(NOW + 5) as tx:
        tx.flag_clock("V001-abc", 7_200_000)
        tx.flag_clock("V002-def", 600_000)
    assert repo.clock_flags() == [("V001-abc", 7_200_000, NOW + 5), ("V002-def", 600_000, NOW + 5)]


def test_a_centre_database_from_before_conflicts_were_noted_is_brought_forward(db_url):
    """A centre upgraded in place: its records table gains the column, the rows it already
    held are offered as "not noted" (their state says), and new rows say which disagree."""
    repo = open_repository(db_url)
    with repo.writing(NOW) as tx:
        tx.save_records([record("old", "V001-20261123-0001")])
    with repo.d.writing(append_lock=True) as conn:  # as the previous version made it
        conn.execute("DROP INDEX records_conflicts")
        conn.execute("ALTER TABLE records DROP COLUMN conflicts")
    repo.close()
    repo = open_repository(db_url)
    try:
        with repo.writing(NOW) as tx:
            tx.save_records([dataclasses.replace(record("new", "V002-20261123-0001"),
                                                 scope="V002", conflicts="applicant.phone"),
                             dataclasses.replace(record("calm", "V001-20261123-0002"),
                                                 conflicts="")])
        assert {r.id for r in repo.conflicted()} == {"new", "old"}
        assert [r.id for r in repo.conflicted(["V002"])] == ["new"]
        assert repo.conflicted(["V003"]) == []
    finally:
        repo.close()


def test_an_unknown_database_url_is_refused_without_its_password():
    with pytest.raises(StationError) as exc:
        open_repository("mysql://centre:s3cret-pw@db.example/centre")
    for lang in ("zh", "en"):
        said = exc.value.message(lang)
        assert "s3cret-pw" not in said and "mysql" in said and "postgresql://" in said
