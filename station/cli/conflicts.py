"""``station conflicts``: see every disagreement between replicas, and settle one."""

from __future__ import annotations

import click

from station.cli.common import Env, UsageProblem, common
from station.cli.vault import unlock
from station.domain.chinatime import CHINA
from station.domain.errors import StationError
from station.domain.merge import TAG_LEN


class PickOrValue(UsageProblem):
    code = "cli.settle_pick_or_value"
    zh = "请用 --pick 序号 选列出的某个值，或用 --value 输入新值：两者必须且只能给一个"
    en = ("Give exactly one of --pick N (one of the listed values) or --value (a new one)")


class NotListed(StationError):
    """A number means the value listed under it: with no listing, it means nothing yet."""

    code = "cli.settle_not_listed"
    zh = ("还没有在这里列出冲突 {ref} 的各个值，序号 {n} 无从对应：请先运行 station conflicts "
          "查看各个值，再用 --pick 序号 或 --pick 标记 选择")
    en = ("The values of conflict {ref} have not been listed here yet, so number {n} means "
          "nothing: run station conflicts to see them, then --pick a number or a mark shown")


@click.group("conflicts", invoke_without_command=True)
@common(json_output=True)
@click.pass_context
def conflicts_group(ctx: click.Context, env: Env) -> None:
    """List open conflicts: every competing value, who wrote it, when, from which device."""
    if ctx.invoked_subcommand is not None:
        return
    with unlock(env) as station:
        found = station.conflicts()
        station.remember_shown(found)  # what --pick N will mean: exactly this listing
        catalogue = station.catalogue

    def human() -> None:
        from station.tui.screens.values import label, show, when  # as the app words them

        if not found:
            env.say("没有待处理的冲突", "No open conflicts")
        for c in found:
            click.echo(f"{c.id}  {label(c.kind, c.field, env.lang)}")
            for i, head in enumerate(c.heads, start=1):
                mark = env.t("（暂用）", " (shown for now)") if i == 1 else ""
                value = show(c.kind, c.field, head.value, env.lang, catalogue)
                choice, tag = ((f"--pick {i}:", f"  [--pick {head.tag}]")
                               if not c.centre_settles else ("·", ""))
                click.echo(f"  {choice} {value}  {head.author} @ {head.device}, "
                           f"{when(head.hlc, CHINA)}{mark}{tag}")
            if c.centre_settles:  # nothing to pick here: say who settles it instead
                click.echo(f"  {c.centre_refusal().message(env.lang)}")

    env.emit([c.as_dict() for c in found], human)


@conflicts_group.command("settle")
@click.argument("conflict_id")
@click.option("--pick", metavar="N|MARK",
              help="Keep a listed value: its number as last listed by `station conflicts`, "
                   "or its mark (--pick MARK, in brackets), which never changes.")
@click.option("--value", help="Enter a new value instead.")
@common(json_output=True)
def settle_cmd(env: Env, conflict_id: str, pick: str | None, value: str | None) -> None:
    """Settle a conflict; it closes on every station once synced.

    Refused, with nothing saved, when the values differ from those last listed here (a sync
    brought another one, or it was settled elsewhere): list them again and choose."""
    if (pick is None) == (value is None):
        raise PickOrValue()
    with unlock(env) as station:
        seen = station.shown_heads(conflict_id)
        # a mark is TAG_LEN hex characters, now and then all digits: never a list number
        number = (pick.strip() if pick is not None and pick.strip().isdigit()
                  and len(pick.strip()) < TAG_LEN else None)
        if number is not None and seen is None:
            raise NotListed(ref=conflict_id, n=number)
        chosen: int | str | None = int(number) if number is not None else pick
        record = station.settle(conflict_id, pick=chosen, value=value, seen=seen)
    env.emit(record.as_dict(), lambda: env.say(f"已解决冲突 {conflict_id}",
                                               f"Settled {conflict_id}"))
