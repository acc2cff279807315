"""G2: the database file and its WAL/SHM hold no resident's name, ID, phone or address."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from station.domain import sample
from station.store.db import db_path
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.wire.keys import SealKey

AGENT = "李春梅"


def needles(rows: list[dict]) -> set[bytes]:
    """Every personal value, and every 2+ character piece of each Chinese name."""
    out: set[bytes] = set()
    for row in rows:
        name = row["resident.name"]
        assert name not in AGENT  # staff names are plaintext key-slot labels, not personal data
        out.add(name.encode())
        out.update(name[i:j].encode() for i in range(len(name))
                   for j in range(i + 2, len(name) + 1))
        for key in ("resident.id_number", "resident.phone", "resident.address"):
            if row.get(key):
                out.add(row[key].encode())
    return out


def raw_files(home: Path) -> dict[str, bytes]:
    base = db_path(home)
    return {p.name: p.read_bytes() for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm"))
            if p.exists()}


def test_no_personal_data_in_plaintext_at_rest(station):
    station.db.execute("INSERT INTO meta(key, value) VALUES ('centre.seal_public', ?)",
                       [SealKey.generate().public_bytes().hex()])
    station.ledger.rows.sealing = station._sealing()  # enrolled: saves are sealed into the outbox
    people = [r for r in sample.residents(150, seed=3, today=dt.date(2026, 11, 23))
              if r["resident.name"] not in AGENT][:120]
    for row in people:
        values = {k: v for k, v in row.items() if k != "kind"}
        record = station.create("resident", values)
        station.update(record.id, {"notes": "已电话回访"})
    station.search("wang")  # build the in-memory index: it must never reach the disk
    files = raw_files(station.home)
    assert "station.db-wal" in files  # the WAL is checked while it still holds the pages
    hits = [(needle.decode(), name) for needle in needles(people)
            for name, data in files.items() if needle in data]
    assert hits == []
    station.close()
    hits = [(needle.decode(), name) for needle in needles(people)
            for name, data in raw_files(station.home).items() if needle in data]
    assert hits == []


def test_the_test_would_see_plaintext_if_it_were_there(tmp_path):
    """The grep itself works: a plaintext value written to the file is found."""
    station, _ = Station.init(tmp_path / "x", station_id="V009", name="站", agent="甲",
                              passphrase="a long passphrase", kdf=FAST_KDF)
    station.db.execute("INSERT INTO meta(key, value) VALUES ('oops', '王桂英 11010519491231002X')")
    found = any(b"\xe7\x8e\x8b\xe6\xa1\x82\xe8\x8b\xb1" in data
                for data in raw_files(station.home).values())
    station.close()
    assert found
