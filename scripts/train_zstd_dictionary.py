"""Train the zstd dictionary shipped for changesets (station/wire/data/changeset-v1.zdict).

Changesets are small JSON documents full of the same keys, field names, op kinds, matter
codes and village names; a dictionary trained on realistic ones lets zstd compress each
changeset on its own to about half what it could alone (DESIGN §7). The dictionary is part
of the wire format (the codec's tag 0x02 means "v1"): never retrain it in place — ship a v2
beside it with a new tag.

    .venv/bin/python scripts/train_zstd_dictionary.py [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
from pathlib import Path

import orjson
import zstandard

from station.domain import sample
from station.domain.catalogue import shipped_catalogue
from station.store.service import Station
from station.store.vault import FAST_KDF

OUT = Path(__file__).resolve().parents[1] / "station" / "wire" / "data" / "changeset-v1.zdict"
SIZE = 16 * 1024


def samples(n_records: int, seed: int) -> list[bytes]:
    """Canonical JSON of realistic changesets: creates and the edits that follow them."""
    today = dt.date(2026, 11, 23)
    rng = random.Random(seed)
    out: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for village, code in (("青石村", "V001"), ("柳树湾村", "V002"), ("大桥社区", "V003")):
            station, _ = Station.init(Path(tmp) / code, station_id=code, name=village,
                                      agent="李春梅", passphrase="training only", kdf=FAST_KDF)
            people = list(sample.residents(n_records, seed=seed, village=village, today=today))
            rows = [*people[: n_records // 3],
                    *sample.applications(n_records // 2, catalogue=shipped_catalogue(),
                                         seed=seed, village=village, today=today, people=people),
                    *sample.visits(n_records // 4, seed=seed, village=village, today=today,
                                   people=people)]
            made = []
            for row in rows:
                kind = row.pop("kind")
                try:
                    made.append(station.create(kind, row))
                except Exception:  # a sample the rules refuse: it is not a changeset anyone sends
                    continue
            for record in rng.sample(made, k=len(made) // 2):
                person = {"application": "applicant", "visit": "resident",
                          "resident": "resident"}[record.kind]
                edit = rng.choice([{f"{person}.phone": f"139{rng.randrange(10**8):08d}"},
                                   {f"{person}.address": f"{village}{rng.randrange(1, 9)}组 "
                                                         f"{rng.randrange(1, 80)} 号"},
                                   {"notes": "电话回访，本人表示满意"}])
                station.update(record.id, edit)
            for (rid,) in station.db.execute("SELECT id FROM records"):
                out += [orjson.dumps(cs.to_dict(), option=orjson.OPT_SORT_KEYS)
                        for cs in station.ledger.changesets_of(rid)]
            station.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="measure the shipped dictionary")
    args = parser.parse_args()
    training = samples(400, seed=11)
    held_out = samples(60, seed=97)
    if not args.check:
        zdict = zstandard.train_dictionary(SIZE, training, level=6)
        OUT.write_bytes(zdict.as_bytes())
        print(f"wrote {OUT} ({len(zdict.as_bytes())} bytes) from {len(training)} changesets")
    zdict = zstandard.ZstdCompressionDict(OUT.read_bytes())
    with_dict = zstandard.ZstdCompressor(level=3, dict_data=zdict, write_dict_id=False)
    plain = zstandard.ZstdCompressor(level=3)
    for name, c in (("no dictionary", plain), ("dictionary v1", with_dict)):
        sizes = sorted(len(c.compress(s)) for s in held_out)
        raw = sorted(len(s) for s in held_out)
        print(f"{name:14s} median {sizes[len(sizes) // 2]} B (raw JSON median "
              f"{raw[len(raw) // 2]} B, {len(held_out)} held-out changesets)")


if __name__ == "__main__":
    main()
