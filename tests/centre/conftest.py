"""Centre fixtures: every centre test runs on SQLite *and* on the real PostgreSQL server.

`make test` starts PostgreSQL and passes ``STATION_TEST_PG_DSN``; each test gets a fresh
schema, dropped afterwards. Without the DSN the PostgreSQL half skips with a visible reason
on a laptop, and fails under CI (``CI`` set): it is never skipped silently there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from station.centre.keys import Protector
from station.centre.serve import CentreConfig, build
from station.centre.service import Centre

BACKENDS = ["sqlite", "postgresql"]


def pg_dsn() -> str:
    dsn = os.environ.get("STATION_TEST_PG_DSN", "")
    if not dsn:
        if os.environ.get("CI"):
            pytest.fail("CI is set but STATION_TEST_PG_DSN is empty: PostgreSQL was not "
                        "provisioned (see .ci/pg-setup)")
        pytest.skip("PostgreSQL tests need STATION_TEST_PG_DSN (make test sets it up; "
                    "see README, Tests)")
    return dsn


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema of its own."""
    import psycopg

    base = pg_dsn()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable under CI: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'centre.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def centre_config(tmp_path: Path, db_url: str) -> CentreConfig:
    key_file = tmp_path / "centre.keyfile"
    key_file.write_bytes(os.urandom(32))
    return CentreConfig(tmp_path / "centre-home", db=db_url, public_url="http://127.0.0.1:8700",
                        protector=Protector(key_file=key_file))


@pytest.fixture
def centre_app(centre_config: CentreConfig) -> Iterator[tuple[Centre, TestClient]]:
    centre, app = build(centre_config)
    with TestClient(app, base_url="http://127.0.0.1:8700") as client:
        yield centre, client
    centre.close()


@pytest.fixture
def staff_headers(centre_config: CentreConfig, centre_app) -> dict[str, str]:
    token = (centre_config.home / "staff.token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}
