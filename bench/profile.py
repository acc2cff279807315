"""Where the time goes: cProfile of the saves and of an import (not a benchmark; no JSON).

    python -m bench.profile save [--home DIR | --records N] [--saves N] [--top N] [--sort S]
    python -m bench.profile import [--rows N] [--this-core] [--top N] [--sort S]

``save`` profiles ``--saves`` updates and as many application creates on a station with
``--records`` residents (or on a kept one: ``python -m bench save --keep`` leaves it under
``bench/out/tmp/save-*/station``); ``import`` profiles one ``import_file`` of ``--rows``
residents into a fresh station — whose rows, from 2 000 on, are built by other processes that
cProfile does not see, unless ``--this-core`` keeps them in this one. Prints the top functions
by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    log,
    new_station,
    open_station,
    scratch,
    write_residents_csv,
)
from station.domain import sample
from station.store.importer import import_file


def show(title: str, fn: Callable[[], object], top: int, sort: str = "cumulative") -> None:
    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    print(f"=== {title} ===")
    print(out.getvalue().strip().split("\n", 2)[-1] if out.getvalue() else "")
    print()


def profile_save(home: Path | None, records: int, saves: int, top: int, sort: str) -> None:
    with scratch("profile-save") as work:
        people: list[dict[str, Any]] | None = None
        if home is None:
            home = work / "station"
            log(f"profile: building a station with {records} residents")
            people = write_residents_csv(work / "residents.csv", records)
            station = new_station(home)
            import_file(station, work / "residents.csv")
            station.close()
        station = open_station(home)
        try:
            station.names  # noqa: B018 -- as in bench.save
            ids = [row[0] for row in station.db.execute(
                "SELECT id FROM records WHERE kind='resident'")]
            rng = random.Random(5)
            apps = [{k: v for k, v in row.items() if k != "kind"}
                    for row in sample.applications(saves, catalogue=station.catalogue, seed=11,
                                                   today=dt.date.today(), people=people)]

            def updates() -> None:
                for _ in range(saves):
                    station.update(rng.choice(ids),
                                   {"resident.address": f"青石村三组 {rng.randint(1, 10**6)} 号"})

            def creates() -> None:
                for values in apps:
                    station.create("application", values)

            n = station.db.execute("SELECT count(*) FROM records").fetchone()[0]
            show(f"{saves} updates (station.update), {n} records stored", updates, top, sort)
            show(f"{saves} creates (station.create application)", creates, top, sort)
        finally:
            station.close()


def profile_import(rows: int, this_core: bool, top: int, sort: str) -> None:
    with scratch("profile-import") as work:
        csv_path = work / "residents.csv"
        write_residents_csv(csv_path, rows)
        station = new_station(work / "station")
        station._preparing = not this_core
        try:
            show(f"import_file of {rows} residents", lambda: import_file(station, csv_path),
                 top, sort)
        finally:
            station.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("what", choices=("save", "import"))
    parser.add_argument("--home", type=Path, default=None, help="a kept bench station")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--this-core", action="store_true",
                        help="import: build the rows in this process too, where cProfile sees")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative")
    args = parser.parse_args(argv)
    if args.what == "save":
        profile_save(args.home, args.records, args.saves, args.top, args.sort)
    else:
        profile_import(args.rows, args.this_core, args.top, args.sort)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
