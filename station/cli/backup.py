"""``station backup`` and ``station restore``: a copy of the station to keep on a USB stick,
made while the app is open, and put back on a new or repaired laptop."""

from __future__ import annotations

from pathlib import Path

import click

from station.cli.common import Env, common
from station.store.backup import backup, restore


@click.command("backup")
@click.argument("folder", type=click.Path(path_type=Path))
@common(json_output=True)
def backup_cmd(env: Env, folder: Path) -> None:
    """Copy the station into a new folder inside FOLDER (a USB stick), even while the app is
    open. Everything personal in it stays encrypted; no passphrase is needed."""
    made = backup(env.home, folder)
    size = sum(f.stat().st_size for f in made.iterdir())
    env.emit({"backup": str(made), "bytes": size},
             lambda: env.say(f"已备份到 {made}（{size / 1e6:.1f} MB）。恢复："
                             f"station restore {made} --home 新文件夹",
                             f"Backed up to {made} ({size / 1e6:.1f} MB). To restore: "
                             f"station restore {made} --home NEW-FOLDER"))


@click.command("restore")
@click.argument("backup_folder", metavar="BACKUP", type=click.Path(path_type=Path))
@common(json_output=True)
def restore_cmd(env: Env, backup_folder: Path) -> None:
    """Put a backup made by `station backup` into --home, which must hold no station. Open it
    with an agent's passphrase as before; the next sync brings back what the centre holds
    that is newer than the backup. It takes the place of the laptop it was made on: never
    run one backup on two laptops at once (each would take the other's work for its own);
    a second laptop gets its own `station init` and enrollment."""
    done = restore(backup_folder, env.home)
    station, first = done.station, done.next_receipt
    env.emit({"station": station, "home": str(env.home), "next_receipt": first},
             lambda: env.say(f"已把站点 {station} 恢复到 {env.home}；用原来的口令打开，"
                             "再同步一次以取回备份之后的记录。今天新的受理编号从 "
                             f"{first} 开始，不会与原电脑今天给出的编号重复",
                             f"Restored station {station} into {env.home}; open it with your "
                             "passphrase as before, and sync once to bring back what came "
                             f"after the backup. Today's new receipt numbers start at {first}, "
                             "so none repeats one the old laptop gave out today"))
