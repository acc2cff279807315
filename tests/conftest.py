"""Fixtures shared by the whole suite: a pinned clock, temp homes, fast vaults, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from station.store.service import Station
from station.store.vault import FAST_KDF

PASSPHRASE = "correct horse battery"
PINNED = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, as systemd or Ctrl+C would; SIGKILL if it has not ended within ``timeout``.
    Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=10)


def station_cli(*args: str, home: Path, passphrase_file: Path
                ) -> subprocess.CompletedProcess[str]:
    """``station ARGS`` on ``home`` in a process of its own, as typed in a second terminal
    while the app has the station open."""
    return subprocess.run([sys.executable, "-m", "station", *args, "--home", str(home),
                           "--passphrase-file", str(passphrase_file), "--lang", "en"],
                          capture_output=True, text=True, timeout=120, check=False)


class FakeNow:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime = PINNED) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def advance(self, **kwargs: float) -> None:
        self.value += dt.timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's own station, locale or passphrase file."""
    for var in ("STATION_HOME", "STATION_PASSPHRASE_FILE", "STATION_AGENT", "STATION_LANG",
                "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))


@pytest.fixture
def now() -> FakeNow:
    return FakeNow()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "V001"


@pytest.fixture
def station(home: Path, now: FakeNow):
    st, _ = Station.init(home, station_id="V001", name="青石村便民服务站", agent="李春梅",
                         passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    yield st
    st.close()


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def pg_dsn() -> str | None:
    return os.environ.get("STATION_TEST_PG_DSN") or None
