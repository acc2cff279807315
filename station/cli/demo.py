"""``station demo``: a working station with realistic sample data, in a temporary home.

It runs the same path a new user does — init, import a resident list and a month of
applications and visits, list — so a newcomer sees real output in one command.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import click

from station.cli.common import Env, common
from station.cli.records import print_summaries
from station.domain import sample
from station.store.importer import import_file
from station.store.service import Station
from station.store.vault import FAST_KDF

DEMO_PASSPHRASE = "demo-passphrase"


def build_demo(home: Path, *, residents: int = 300, applications: int = 40, visits: int = 20,
               station_id: str = "V001", village: str = "青石村", seed: int = 7) -> Station:
    """Make a demo station in ``home`` and import sample data through the importer."""
    station, _ = Station.init(home, station_id=station_id, name=f"{village}便民服务站",
                              agent="李春梅", passphrase=DEMO_PASSPHRASE, kdf=FAST_KDF)
    today = station.today()
    people = list(sample.residents(residents, seed=seed, village=village, today=today))
    csv_path = home / "residents.csv"
    csv_path.write_text("".join(sample.to_csv_rows(people)), encoding="utf-8-sig")
    import_file(station, csv_path)
    jsonl = home / "casework.jsonl"
    rows = [*sample.applications(applications, catalogue=station.catalogue, seed=seed,
                                 village=village, today=today, people=people),
            *sample.visits(visits, seed=seed, village=village, today=today, people=people)]
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                     encoding="utf-8")
    import_file(station, jsonl)
    return station


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the demo home instead of a temporary one.")
@common()
def demo_cmd(env: Env, keep: bool) -> None:
    """A demo station with sample residents, applications and visits."""
    with tempfile.TemporaryDirectory(prefix="station-demo-") as tmp:
        home = Path(tmp) / "V001" if not keep else env.home
        started = dt.datetime.now()
        with build_demo(home) as station:
            rows = station.list(kind="application", limit=15)
            env.say("最近的代办件：", "Latest applications:")
            print_summaries(env, rows, station)
            counts = station.counts()
            took = (dt.datetime.now() - started).total_seconds()
            env.say(
                f"\n演示站点 {station.station_id}（{station.station_name}）：居民 "
                f"{counts['residents']} 人，代办件 {counts['applications']} 件，上门服务 "
                f"{counts['visits']} 次，共 {counts['changesets']} 条变更，用时 {took:.1f} 秒。"
                + (f"\n数据目录：{home}（口令 {DEMO_PASSPHRASE}）" if keep else
                   "\n（临时目录，退出即删除；加 --keep --home 目录 可保留）"),
                f"\nDemo station {station.station_id} ({station.station_name}): "
                f"{counts['residents']} residents, {counts['applications']} applications, "
                f"{counts['visits']} visits, {counts['changesets']} changes, in {took:.1f} s."
                + (f"\nData directory: {home} (passphrase {DEMO_PASSPHRASE})" if keep else
                   "\n(A temporary directory, removed now; add --keep --home DIR to keep it.)"))
