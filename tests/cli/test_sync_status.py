"""``station sync --status``: how sync stands, and what the centre sent that this version
keeps aside (since when, why, which records, what to do), without sending anything."""

from __future__ import annotations

import json

from station.cli import cli
from station.cli.common import run
from tests.store.test_held import from_a_newer_station, made_at, receiver


def test_status_names_what_is_kept_aside_by_receipt_and_says_to_update(station, tmp_path,
                                                                        capsys,
                                                                        passphrase_file):
    ids, encoded = made_at(station, 1)
    receipt = station.get(ids[0]).receipt
    bus = receiver(tmp_path)
    bus.ledger.receive_encoded([from_a_newer_station(encoded[0])], today=bus.today())
    bus.close()
    auth = ["--home", str(bus.home), "--passphrase-file", str(passphrase_file)]

    assert run(cli, ["sync", "--status", "--lang", "zh", *auth]) == 0
    out, err = capsys.readouterr()
    assert "1 条更新本版本无法读取" in err and receipt in err
    assert "含有本版本不认识的字段或操作" in err and "升级" in err
    assert "王桂英" not in out + err

    assert run(cli, ["sync", "--status", "--json", *auth]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["held"]["count"] == 1 and data["unsent"] == 0
    assert data["held"]["items"][0]["receipt"] == receipt
    assert data["held"]["items"][0]["reason"] == "domain.bad_changeset"


def test_status_with_nothing_kept_aside_says_everything_merged(station, capsys,
                                                               passphrase_file):
    station.close()
    assert run(cli, ["sync", "--status", "--home", str(station.home), "--passphrase-file",
                     str(passphrase_file)]) == 0
    err = capsys.readouterr().err
    assert "Everything from the centre has merged" in err and "not enrolled" in err
