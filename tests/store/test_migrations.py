"""Schema versions: a v1 database opens after v2 exists, and a newer one is refused."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from station.store.db import db_path
from station.store.errors import NewerSchema
from station.store.importer import import_file
from station.store.schema import SCHEMA_VERSION
from station.store.service import Station

FIXTURE = Path(__file__).parents[1] / "fixtures" / "station-v1"
V1_PASSPHRASE = "fixture passphrase v1"


@pytest.fixture
def v1_home(tmp_path):
    home = tmp_path / "old"
    shutil.copytree(FIXTURE, home)
    return home


def test_the_fixture_really_is_schema_1(v1_home):
    import sqlite3

    conn = sqlite3.connect(db_path(v1_home))
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)
    assert "drafts" not in {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()


def test_a_v1_database_opens_and_migrates_forward_keeping_everything(v1_home, now):
    with Station.open(v1_home, V1_PASSPHRASE, now=now) as station:
        assert station.db.execute(
            "SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == \
            str(SCHEMA_VERSION)
        assert "drafts" in station.db.table_names()
        people = station.same_person("11010519491231002X")
        assert sorted(s.kind for s in people) == ["application", "resident"]
        application = station.get("V001-20261102-0002")
        assert application.fields["applicant.name"] == "王桂英"
        new = station.create("resident", {"resident.name": "赵秀兰"})
        assert new.receipt == "V001-20261123-0001"
        # schema 3 keeps the marks of imported rows: the same file imported twice adds once
        path = v1_home / "visits.jsonl"
        path.write_text('{"kind": "visit", "resident.name": "赵秀兰", "reason": "elderly"}\n',
                        encoding="utf-8")
        assert import_file(station, path).imported == 1
        assert import_file(station, path).already_imported == [1]


def test_a_wrong_passphrase_does_not_migrate(v1_home, now):
    before = hashlib.sha256(db_path(v1_home).read_bytes()).hexdigest()
    with pytest.raises(Exception, match="Wrong passphrase"):
        Station.open(v1_home, "not it at all", now=now)
    assert hashlib.sha256(db_path(v1_home).read_bytes()).hexdigest() == before


def test_a_database_from_a_newer_station_is_refused_untouched(station, home, now):
    station.db.execute("INSERT INTO _sqlite_migrations(migration_set, name, applied_at) "
                       "VALUES ('station', '0099_from_the_future', '2030-01-01')")
    station.close()
    before = hashlib.sha256(db_path(home).read_bytes()).hexdigest()
    with pytest.raises(NewerSchema) as exc:
        Station.open(home, "correct horse battery", now=now)
    assert "0099_from_the_future" in exc.value.message("en")
    assert "升级" in exc.value.message("zh")
    assert hashlib.sha256(db_path(home).read_bytes()).hexdigest() == before
