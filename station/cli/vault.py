"""``station init``, ``station agent …``, ``station passwd`` and ``station recover``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from station.cli.common import (
    Env,
    NoRecoveryKey,
    RecoveryKeyFileError,
    TwoRecoveryKeys,
    common,
    read_passphrase_file,
)
from station.domain.errors import StationError
from station.store.service import Station
from station.store.vault import DEFAULT_KDF, FAST_KDF, KdfParams
from station.sync.engine import merge_kept

fast_kdf_option = click.option(
    "--insecure-fast-kdf", "fast_kdf", is_flag=True, hidden=True,
    help="Cheap Argon2id parameters, for tests and the demo only.")


def kdf_of(fast: bool) -> KdfParams:
    return FAST_KDF if fast else DEFAULT_KDF


def unlock(env: Env) -> Station:
    """Open the station in ``env.home`` with the agent's passphrase, and merge what an
    unattended sync kept sealed while it was locked. A batch that cannot be merged is said
    in a sentence (its updates come again with the next sync) and never stops the command;
    so is a clock gone back, before any date is taken from it."""
    station = Station.open(env.home, env.passphrase(), agent=env.agent)
    if note := station.clock_set_back():
        env.say(*note)
    try:
        merged = merge_kept(station)
    except StationError as exc:
        env.say(f"锁定期间收到的更新暂未合并：{exc.message('zh')}",
                f"What arrived while the station was locked is not merged yet: "
                f"{exc.message('en')}")
    else:
        if merged.brought_anything:
            env.say(f"已合并锁定期间收到的更新：{merged.summary('zh', trouble=False)}",
                    f"Merged what arrived while the station was locked: "
                    f"{merged.summary('en', trouble=False)}")
        if merged.kept_trouble():
            env.say(merged.kept_trouble("zh"), merged.kept_trouble("en"))
    return station


def _agent_name(env: Env, agent: str | None) -> str:
    name = agent or env.agent
    if name:
        return name
    return str(click.prompt(env.t("代办员姓名", "Agent name"), err=True))


@click.command("init")
@click.option("--station", "station_id", required=True, help="Station id, e.g. V001 or BUS01.")
@click.option("--name", required=True, help="Station name, e.g. 青石村便民服务站.")
@click.option("--force", is_flag=True, help="Replace an existing station (refused while "
              "unsent work remains).")
@fast_kdf_option
@common(json_output=True)
def init_cmd(env: Env, station_id: str, name: str, force: bool, fast_kdf: bool) -> None:
    """Create a new station vault and show its recovery key once."""
    agent = _agent_name(env, None)
    passphrase = env.passphrase(f"{agent} 的口令", f"Passphrase for {agent}", confirm=True)
    station, recovery = Station.init(env.home, station_id=station_id, name=name, agent=agent,
                                     passphrase=passphrase, kdf=kdf_of(fast_kdf), force=force)
    with station:
        info = {"station": station.station_id, "name": station.station_name,
                "home": str(env.home), "agent": agent, "recovery_key": recovery}

    def human() -> None:
        env.say(f"已创建站点 {info['station']}（{name}），数据目录 {env.home}",
                f"Created station {info['station']} ({name}) in {env.home}")
        env.say("恢复密钥（只显示这一次；请抄在纸上，与电脑分开保管）：",
                "Recovery key (shown only this once; copy it on paper and keep it apart "
                "from the laptop):")
        click.echo(f"\n    {recovery}\n")

    env.emit(info, human)


@click.group("agent")
def agent_group() -> None:
    """Agents' key slots: each agent opens the station with their own passphrase."""


@agent_group.command("list")
@common(json_output=True)
def agent_list(env: Env) -> None:
    """List the agents who can open this station."""
    with unlock(env) as station:
        agents = station.agents()
    env.emit({"agents": agents}, lambda: [click.echo(a) for a in agents])


@agent_group.command("add")
@click.argument("name")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new agent's passphrase from a file.")
@fast_kdf_option
@common()
def agent_add(env: Env, name: str, new_passphrase_file: Path | None, fast_kdf: bool) -> None:
    """Give another agent their own passphrase (unlock with yours first)."""
    with unlock(env) as station:
        new = env.new_passphrase(f"{name} 的新口令", f"New passphrase for {name}",
                                 new_passphrase_file)
        station.add_agent(name, new, kdf_of(fast_kdf))
    env.say(f"已为代办员“{name}”添加口令", f"Added a key slot for agent “{name}”")


@agent_group.command("remove")
@click.argument("name")
@common()
def agent_remove(env: Env, name: str) -> None:
    """Remove an agent's key slot (someone who left); the last one cannot be removed."""
    with unlock(env) as station:
        station.remove_agent(name)
    env.say(f"已删除代办员“{name}”的口令", f"Removed the key slot of agent “{name}”")


@click.command("passwd")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new passphrase from a file.")
@fast_kdf_option
@common()
def passwd_cmd(env: Env, new_passphrase_file: Path | None, fast_kdf: bool) -> None:
    """Change your passphrase (nothing else is re-encrypted)."""
    with unlock(env) as station:
        new = env.new_passphrase("新口令", "New passphrase", new_passphrase_file)
        station.change_passphrase(new, kdf=kdf_of(fast_kdf))
        who = station.agent
    env.say(f"代办员“{who}”的口令已更改", f"Changed the passphrase of agent “{who}”")


@click.command("recover")
@click.option("--recovery-key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the recovery key from the first line of a file.")
@click.option("--recovery-key", help="The recovery key itself. Other users of this computer "
              "can see it in the process list and it stays in the shell history: prefer "
              "--recovery-key-file, or leave both out and type it when asked.")
@click.option("--new-passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the new passphrase from a file.")
@fast_kdf_option
@common()
def recover_cmd(env: Env, recovery_key_file: Path | None, recovery_key: str | None,
                new_passphrase_file: Path | None, fast_kdf: bool) -> None:
    """Open the station with its recovery key and set a new passphrase for an agent.

    The new passphrase is typed twice, or read from --new-passphrase-file (or from
    --passphrase-file: nothing is unlocked with a passphrase here)."""
    key = _recovery_key(env, recovery_key, recovery_key_file)
    agent = _agent_name(env, None)
    # nothing is unlocked with a passphrase here: --passphrase-file can only mean the new one
    new = env.new_passphrase(f"{agent} 的新口令", f"New passphrase for {agent}",
                             new_passphrase_file or env.passphrase_file)
    before = Station.agents_of(env.home)
    Station.recover(env.home, key, agent=agent, new_passphrase=new,
                    kdf=kdf_of(fast_kdf)).close()
    if agent in before:
        env.say(f"已用恢复密钥为“{agent}”设置新口令", f"Set a new passphrase for “{agent}” "
                "with the recovery key")
        return
    # a slip of the name gives a new agent, and the forgotten passphrase stays as it was
    env.say(f"没有名为“{agent}”的代办员，已用恢复密钥把“{agent}”添加为新代办员；"
            f"原有代办员（{'、'.join(before)}）的口令未改变",
            f"No agent was named “{agent}”: the recovery key added “{agent}” as a new agent; "
            f"the passphrases of the others ({', '.join(before)}) are unchanged")


def _recovery_key(env: Env, given: str | None, file: Path | None) -> str:
    """The recovery key: from its file, as given, or typed (shown as typed, on purpose: it
    is copied by hand from the paper it was printed on)."""
    if given is not None and file is not None:
        raise TwoRecoveryKeys()
    if file is not None:
        return read_passphrase_file(file, RecoveryKeyFileError)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise NoRecoveryKey()
    return str(click.prompt(env.t("恢复密钥", "Recovery key"), err=True))


agent_group.add_command(passwd_cmd)
agent_group.add_command(recover_cmd)
