"""The ``station`` command. Each command is a few lines over ``station.store.Station``.

Textual is imported only when the app opens, so scripted commands (``station list --json``)
start fast and work on machines without a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from station.cli.backup import backup_cmd, restore_cmd
from station.cli.centre import centre_group
from station.cli.check import check_cmd
from station.cli.common import INTERRUPTED, detect_lang, leave_now, remember_group_options, run
from station.cli.conflicts import conflicts_group
from station.cli.demo import demo_cmd
from station.cli.enroll import enroll_cmd
from station.cli.export import export_cmd
from station.cli.followup import contact_cmd, due_cmd, followup_group, rate_cmd, report_cmd
from station.cli.records import catalogue_cmd, edit_cmd, import_cmd, list_cmd, show_cmd
from station.cli.serve_web import serve_web_cmd
from station.cli.sync import bundle_group, sync_cmd
from station.cli.vault import agent_group, init_cmd, passwd_cmd, recover_cmd
from station.store.home import resolve_home


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="station")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              envvar="STATION_HOME",
              help="Data directory of the station (of the centre for `station centre …`); "
                   "the same as --home after the command.")
@click.option("--lang", type=click.Choice(["zh", "en"]),
              help="Language of the app and of messages.")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, lang: str | None) -> None:
    """station — records for village service stations (村/社区便民服务站), offline first.

    Without a command, opens the app (unlock screen)."""
    remember_group_options(ctx)
    if ctx.invoked_subcommand is None:
        from station.tui import run_app

        run_app(resolve_home(home), lang=detect_lang(lang))


for command in (init_cmd, agent_group, passwd_cmd, recover_cmd, import_cmd, list_cmd, show_cmd,
                edit_cmd, catalogue_cmd, conflicts_group, demo_cmd, enroll_cmd, centre_group):
    cli.add_command(command)
for command in (sync_cmd, bundle_group, due_cmd, contact_cmd, rate_cmd, followup_group,
                report_cmd, export_cmd, serve_web_cmd, backup_cmd, restore_cmd,
                check_cmd):
    cli.add_command(command)


def main() -> None:
    code = run(cli)
    if code == INTERRUPTED:
        leave_now(code)
    sys.exit(code)
