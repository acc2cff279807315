"""``station enroll CODE``: register this station with its town centre and pin the centre's keys.

The code (from ``station centre enroll-code``) carries the centre's address, a one-time token
and the fingerprint of the centre's keys; the keys the centre answers with are pinned only if
they match that fingerprint, so a code typed from paper still protects against a look-alike
server. Work done before enrolling is sealed to the centre now, ready for the next sync.
"""

from __future__ import annotations

import click

from station.cli.common import Env, common
from station.cli.vault import unlock
from station.domain.english import agrees, counted
from station.sync.client import enroll, enroll_link, parse_code


@click.command("enroll")
@click.argument("code")
@common(json_output=True)
def enroll_cmd(env: Env, code: str) -> None:
    """Enroll with the town centre using the one-time code its staff gave you."""
    url, _, _ = parse_code(code)  # a mistyped code is told before the passphrase is asked
    with unlock(env) as station, enroll_link(url) as link:
        earlier = station.sync.centre().fingerprint if station.sync.enrolled() else None
        before = station.sync.unsent()
        pin = enroll(station, code, client=link)
        sealed = station.sync.unsent() - before
        unsent = station.sync.unsent()
        station_id = station.station_id
    data = {"station": station_id, "centre": pin.url, "fingerprint": pin.fingerprint,
            "scope": list(pin.scope), "sealed": sealed, "unsent": unsent,
            "previous_fingerprint": earlier}

    def human() -> None:
        env.say(f"站点 {station_id} 已在镇中心 {pin.url} 登记",
                f"Station {station_id} is enrolled with the town centre at {pin.url}")
        env.say("镇中心密钥指纹（可与镇中心工作人员核对）：",
                "Centre key fingerprint (compare it with the centre staff's):")
        click.echo(pin.fingerprint)
        env.say(f"服务范围：{'、'.join(pin.scope)}", f"Villages: {', '.join(pin.scope)}")
        if earlier and earlier != pin.fingerprint:
            env.say(f"注意：本站此前登记的镇中心指纹是 {earlier}，现在改为上面这个",
                    f"Note: this station was enrolled with a centre of fingerprint {earlier} "
                    "before; it now trusts the one above")
        if sealed:
            env.say(f"登记前的 {sealed} 项变更已加密封装，下次同步时发送（station sync）",
                    f"{counted(sealed, 'earlier change')} {agrees(sealed, 'was', 'were')} "
                    "sealed for sending; they go on the next sync (station sync)")
        else:
            env.say("没有登记前的待发送变更", "There were no earlier changes to send")

    env.emit(data, human)
