"""A station that only ever syncs by USB stick learns what the centre holds (DESIGN §7, G4).

Real centre on 127.0.0.1, real stations, the real `station bundle …` commands: the reply
bundle carried back acknowledges the changesets the centre holds, so the unsent count goes
down and the next bundle carries only new work. The acknowledgement is trusted only inside
the centre-signed batches sealed to the station: an altered reply, a reply for another
station, or a carrier's forged one acknowledges nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from station.cli import cli
from station.cli.common import run
from station.store.projection import Record
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.bundle import BundleForAnotherStation, export_bundle, import_bundle
from station.sync.client import enroll
from station.sync.engine import sync_once
from station.wire.bundle import BundleDamaged, read_bundle, write_bundle
from station.wire.downlink import ack_entry, seal_batch
from station.wire.envelope import read_header
from station.wire.keys import Signer
from tests.conftest import PASSPHRASE
from tests.e2e.conftest import LiveCentre, enrolled, link

PERSON = {"resident.name": "欧阳秀兰", "resident.id_number": "11010519491231002X",
          "resident.phone": "13912345678", "resident.address": "青石村三组 12 号"}


def station_cli(capsys: pytest.CaptureFixture[str], home: Path, passphrase_file: Path,
                *args: str) -> dict[str, object]:
    """One `station … --json` at the village; its JSON document."""
    code = run(cli, [*args, "--home", str(home), "--passphrase-file", str(passphrase_file),
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def upload(capsys: pytest.CaptureFixture[str], tmp_path: Path, centre: LiveCentre,
           stick: Path) -> dict[str, object]:
    """`station bundle upload` on a connected computer in town that has no station."""
    code = run(cli, ["bundle", "upload", str(stick), "--url", centre.url,
                     "--home", str(tmp_path / "town-pc"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def carried(stick: Path) -> list[str]:
    """The changeset ids an uplink bundle carries (from the sealed items' clear headers)."""
    return [read_header(item).changeset_id for item in read_bundle(stick.read_bytes())[1]]


def sync(station: Station) -> None:
    """An online sync (the bus has a link; the village does not)."""
    with link(station) as lk:
        sync_once(station.sync, lk, station=station)


def last_sync(home: Path) -> str | None:
    with Station.open(home, PASSPHRASE) as st:
        return st.sync.last_sync()[0]


def unsent(home: Path) -> int:
    with Station.open(home, PASSPHRASE) as st:
        assert st.dashboard().unsent == st.sync.unsent()
        return st.sync.unsent()


def test_a_usb_only_station_learns_what_arrived_and_exports_only_new_work(
        tmp_path, live_centre, capsys, passphrase_file):
    """export → upload → import: the unsent count is 0 and the next bundle carries nothing
    old, while work saved after the export stays unsent and goes in the next bundle."""
    home = tmp_path / "V001"
    village = enrolled(tmp_path, live_centre, "V001")
    made = [village.create("resident", PERSON) for _ in range(3)]
    village.close()
    stick = tmp_path / "usb" / "V001.stb"
    stick.parent.mkdir()
    assert station_cli(capsys, home, passphrase_file, "bundle", "export",
                       str(stick))["changesets"] == 3
    first = carried(stick)
    header, _ = read_bundle(stick.read_bytes())
    assert header["pull"]["changesets"] == first  # G2: the new field holds ids only
    with Station.open(home, PASSPHRASE) as st:  # the agent keeps working meanwhile
        later = st.create("resident", {"resident.name": "后来登记的村民"})
        later_ids = [cs.id for cs in st.ledger.changesets_of(later.id)]
    uploaded = upload(capsys, tmp_path, live_centre, stick)
    assert (uploaded["accepted"], uploaded["refused"]) == (3, [])
    reply = Path(str(uploaded["reply"]))
    for path in (stick, reply):  # G2: nothing personal in either file
        raw = path.read_bytes()
        assert not [v for v in PERSON.values() if v.encode() in raw]
    assert unsent(home) == 4
    assert last_sync(home) is None  # this village has never been online

    imported = station_cli(capsys, home, passphrase_file, "bundle", "import", str(reply))
    assert imported["acked"] == 3
    assert last_sync(home) is not None  # as up to date as the centre when it made the reply
    assert unsent(home) == 1  # only the work saved after the export
    again = tmp_path / "usb" / "V001-2.stb"
    assert station_cli(capsys, home, passphrase_file, "bundle", "export",
                       str(again))["changesets"] == 1
    assert carried(again) == later_ids and not set(first) & set(carried(again))
    with Station.open(home, PASSPHRASE) as st:
        assert all(st.get(r.id).name == "欧阳秀兰" for r in made)  # nothing lost on the way
    # the second trip clears the rest; the same reply imported again changes nothing
    upload(capsys, tmp_path, live_centre, again)
    station_cli(capsys, home, passphrase_file, "bundle", "import",
                str(tmp_path / "usb" / "V001-2.reply.stb"))
    station_cli(capsys, home, passphrase_file, "bundle", "import", str(reply))
    assert unsent(home) == 0


def test_a_reply_imported_while_locked_is_merged_and_acknowledged_at_the_next_import(
        tmp_path, live_centre, capsys, passphrase_file):
    """`bundle import --unattended` can only keep the sealed batches; the next import with
    the vault open merges them first — what they brought and what they acknowledge."""
    home = tmp_path / "V001"
    village = enrolled(tmp_path, live_centre, "V001")
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    from_bus = bus.create("resident", {"resident.name": "周大山"}, scope="V001")
    sync(bus)
    village.create("resident", {"resident.name": "钱秀英"})
    village.close()
    stick = tmp_path / "V001.stb"
    station_cli(capsys, home, passphrase_file, "bundle", "export", str(stick))
    reply = Path(str(upload(capsys, tmp_path, live_centre, stick)["reply"]))
    code = run(cli, ["bundle", "import", str(reply), "--unattended", "--home", str(home),
                     "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["kept_locked"] >= 1 and unsent(home) == 1
    with Station.open(home, PASSPHRASE) as st:  # sealed in the inbox, not merged yet
        assert st.sync.kept_batches() and st.counts()["residents"] == 1
    next_trip = tmp_path / "V001-2.stb"  # its reply starts after the bus's record
    station_cli(capsys, home, passphrase_file, "bundle", "export", str(next_trip))
    next_reply = Path(str(upload(capsys, tmp_path, live_centre, next_trip)["reply"]))
    station_cli(capsys, home, passphrase_file, "bundle", "import", str(next_reply))
    assert unsent(home) == 0
    with Station.open(home, PASSPHRASE) as st:
        assert st.sync.kept_batches() == [] and st.get(from_bus.id).name == "周大山"


def test_an_altered_forged_or_other_stations_reply_acknowledges_nothing(tmp_path,
                                                                       live_centre):
    """The reply's header is the carrier's word and its batches are checked before use: a
    batch changed on the way, one signed by anyone but the centre, or the reply meant for
    another station leaves the outbox as it was. Only the genuine reply empties it."""
    village = enrolled(tmp_path, live_centre, "V001")
    other = enrolled(tmp_path, live_centre, "V002")
    village.create("resident", {"resident.name": "冯大伯"})
    other.create("resident", {"resident.name": "孙建国"})
    replies = {}
    for station in (village, other):
        stick = tmp_path / f"{station.station_id}.stb"
        export_bundle(station.sync, stick)
        code = run(cli, ["bundle", "upload", str(stick), "--url", live_centre.url,
                         "--home", str(tmp_path / "town-pc")])
        assert code == 0
        replies[station.station_id] = stick.with_name(f"{station.station_id}.reply.stb")
    header, batches = read_bundle(replies["V001"].read_bytes())
    ours = carried(tmp_path / "V001.stb")

    altered = tmp_path / "altered.stb"  # a byte of the sealed payload changed, digest redone
    bad = bytearray(batches[0])
    bad[-100] ^= 1
    altered.write_bytes(write_bundle(header, [bytes(bad), *batches[1:]]))
    forged = tmp_path / "forged.stb"  # a look-alike batch, sealed to V001, signed by a fake
    fake = Signer.from_bytes(os.urandom(32))
    forged.write_bytes(write_bundle({**header, "acked": ours}, [seal_batch(
        [ack_entry(ours)], station="V001", after=0, upto=0, complete=True, centre_time_ms=1,
        station_public=village.seal_key.public_bytes(), signer=fake)]))
    for path in (altered, forged):
        with pytest.raises(BundleDamaged):
            import_bundle(village.sync, path, station=village)
        assert village.sync.unsent() == 1

    with pytest.raises(BundleForAnotherStation):
        import_bundle(village.sync, replies["V002"], station=village)
    relabelled = tmp_path / "relabelled.stb"  # V002's reply with V001 written on it
    header2, batches2 = read_bundle(replies["V002"].read_bytes())
    relabelled.write_bytes(write_bundle({**header2, "station": "V001"}, batches2))
    with pytest.raises(BundleForAnotherStation):  # its batches name V002, signed
        import_bundle(village.sync, relabelled, station=village)
    assert village.sync.unsent() == 1 and other.sync.unsent() == 1

    assert import_bundle(village.sync, replies["V001"], station=village).acked == 1
    assert village.sync.unsent() == 0 and other.sync.unsent() == 1


@pytest.mark.parametrize("target", ["station.db", "transport.key", "centre-db"])
def test_a_bundle_export_never_replaces_a_station_file_or_a_database(
        tmp_path, live_centre, capsys, passphrase_file, target):
    """`station bundle export` onto the vault, its key or the centre's database (a mistyped
    path on the bus laptop) writes nothing and says so; the work stays unsent for a bundle
    written where it should be."""
    home = tmp_path / "V001"
    village = enrolled(tmp_path, live_centre, "V001")
    village.create("visit", {**PERSON, "reason": "elderly"})
    village.close()
    path = tmp_path / "centre.db" if target == "centre-db" else home / target
    if target == "centre-db":
        path.write_bytes((home / "station.db").read_bytes()[:4096])
    before = path.read_bytes()
    code = run(cli, ["bundle", "export", str(path), "--home", str(home), "--lang", "zh"])
    _, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert "站点自己的文件" in err and "没有写入" in err
    assert path.read_bytes() == before
    assert unsent(home) == 1
    stick = tmp_path / "stick.stb"
    assert station_cli(capsys, home, passphrase_file, "bundle", "export",
                       str(stick))["changesets"] == 1


@pytest.mark.parametrize(("lang", "nothing", "some"), [
    ("en", "Nothing here is unsent", "Exported 1 change to"),
    ("zh", "本站没有未发送的变更", "已导出 1 条变更到"),
])
def test_an_export_with_nothing_unsent_says_the_trip_still_brings_the_others_work(
        tmp_path, live_centre, capsys, lang, nothing, some):
    """A village that has sent everything still carries a stick to town for what the bus
    and the centre did: the export says so instead of 'exported 0 changes'."""
    village = enrolled(tmp_path, live_centre, "V001")
    sync(village)
    home = village.home
    village.close()
    stick = tmp_path / "V001.stb"
    assert run(cli, ["--lang", lang, "bundle", "export", str(stick), "--home", str(home)]) == 0
    said = capsys.readouterr().err
    assert nothing in said and "V001.reply.stb" in said and some not in said
    with Station.open(home, PASSPHRASE) as st:
        st.create("resident", {"resident.name": "钱秀英"})
    assert run(cli, ["--lang", lang, "bundle", "export", str(stick), "--home", str(home)]) == 0
    said = capsys.readouterr().err
    assert some in said and nothing not in said and "bundle upload" in said


@pytest.mark.parametrize(("lang", "took", "why"), [
    ("en", "refused 1", "signature"),
    ("zh", "拒收 1 条", "签名"),
])
def test_the_clerk_uploading_a_bundle_is_told_why_each_refused_change_was_refused(
        tmp_path, live_centre, capsys, lang, took, why):
    """One change on the stick fails the centre's checks (here its signature, altered on
    the way): the upload names it with the centre's reason, as the README promises, in the
    clerk's language. It said only 'refused 1', and nobody in town could tell the agent
    why or what to do; the rest of the bundle is taken either way."""
    village = enrolled(tmp_path, live_centre, "V001")
    for _ in range(2):
        village.create("resident", PERSON)
    stick = tmp_path / "V001.stb"
    export_bundle(village.sync, stick)
    village.close()
    header, items = read_bundle(stick.read_bytes())
    bad = bytearray(items[1])
    bad[-10] ^= 1
    stick.write_bytes(write_bundle(header, [items[0], bytes(bad)]))
    code = run(cli, ["--lang", lang, "bundle", "upload", str(stick), "--url", live_centre.url,
                     "--home", str(tmp_path / "town-pc")])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert took in err
    (line,) = [ln for ln in err.splitlines() if read_header(items[1]).changeset_id in ln]
    assert why in line
    assert not [v for v in PERSON.values() if v in err]  # G2: the reason names no value


def exported_by_the_first_install(tmp_path: Path,
                                  live_centre: LiveCentre) -> tuple[Record, Path]:
    """The bus's visit to a V001 resident on the centre, and a bundle V001 exported before
    its laptop is set up again: (that visit, the bundle)."""
    bus = enrolled(tmp_path, live_centre, "BUS01", ["V001"])
    visited = bus.create("resident", {"resident.name": "周大山"}, scope="V001")
    sync(bus)
    old = enrolled(tmp_path, live_centre, "V001")
    old.create("resident", PERSON)
    stick = tmp_path / "V001.stb"
    export_bundle(old.sync, stick)
    old.close()
    return visited, stick


def the_next_trip_brings_it(capsys, tmp_path: Path, live_centre: LiveCentre, home: Path,
                            passphrase_file: Path, record_id: str) -> bool:
    """A new bundle exported at the set-up-again station, uploaded, and its reply imported:
    whether the record the bus made is then at the station."""
    again = tmp_path / "V001-again.stb"
    station_cli(capsys, home, passphrase_file, "bundle", "export", str(again))
    station_cli(capsys, home, passphrase_file, "bundle", "import",
                str(upload(capsys, tmp_path, live_centre, again)["reply"]))
    with Station.open(home, PASSPHRASE) as st:
        return st.get(record_id).name == "周大山"


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "was fetched for an earlier install of station V001"),
    ("zh", "是为站点 V001 以前的安装"),
])
def test_a_reply_fetched_before_the_station_was_set_up_again_is_said_as_such(
        tmp_path, live_centre, capsys, passphrase_file, lang, said):
    """The agent exports, the stick goes to town, and meanwhile the laptop is set up again
    (init --force after that export) and enrolled anew: the reply that comes back was
    sealed to the old keys. Importing it said 'downlink batch 0–2 from centre is correctly
    signed but does not open: InvalidTag', in English in the Chinese app too; now it says
    what happened and that nothing is lost, and the next trip brings the work down."""
    visited, stick = exported_by_the_first_install(tmp_path, live_centre)
    reply = Path(str(upload(capsys, tmp_path, live_centre, stick)["reply"]))
    fresh, _ = Station.init(tmp_path / "V001", station_id="V001", name="V001 站",
                            agent="李春梅", passphrase=PASSPHRASE, kdf=FAST_KDF, force=True)
    enroll(fresh, live_centre.code("V001"))
    fresh.close()
    home = tmp_path / "V001"
    code = run(cli, ["--lang", lang, "bundle", "import", str(reply), "--home", str(home),
                     "--passphrase-file", str(passphrase_file)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "InvalidTag" not in err
    assert said in err
    assert the_next_trip_brings_it(capsys, tmp_path, live_centre, home, passphrase_file,
                                   visited.id)


def test_a_crafted_station_name_in_an_uploaded_bundle_never_reaches_the_clerks_terminal(
        tmp_path, live_centre, capsys):
    """The uplink's header is the carrier's word too: the upload printed its station name
    raw ('Station …: the centre took …'), escape sequence and all."""
    stick = tmp_path / "V001.stb"
    escape = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J"
    stick.write_bytes(write_bundle({"kind": "uplink", "station": f"V001{escape}"}, [b"x"]))
    code = run(cli, ["bundle", "upload", str(stick), "--url", live_centre.url,
                     "--home", str(tmp_path / "town-pc")])
    err = capsys.readouterr().err
    assert code == 0 and "Station V001" in err and "refused 1" in err
    assert "\x1b" not in err and "\x07" not in err


@pytest.mark.parametrize("given", ["itself", "another station's"])
def test_a_reply_is_never_written_over_a_bundle_still_to_upload(tmp_path, live_centre, capsys,
                                                                 passphrase_file, given):
    """The bus carries V001's and V002's bundles on one stick; the clerk gives --reply the
    other bundle's name (or this one's). The reply replaced it: V002's trip was lost without
    a word until its agent found V001's reply in its place. Now nothing is sent, it says
    why, and both bundles go up whole once a free name is given."""
    sticks = {}
    for name in ("V001", "V002"):
        station = enrolled(tmp_path, live_centre, name)
        station.create("resident", PERSON)
        sticks[name] = tmp_path / f"{name}.stb"
        export_bundle(station.sync, sticks[name])
        station.close()
    before = sticks["V002"].read_bytes()
    wrong = sticks["V001"] if given == "itself" else sticks["V002"]
    code = run(cli, ["--lang", "zh", "bundle", "upload", str(sticks["V001"]), "--url",
                     live_centre.url, "--reply", str(wrong), "--home", str(tmp_path / "pc")])
    err = capsys.readouterr().err
    assert code == 1 and "回传包不能写在它上面" in err and "未上传任何内容" in err
    assert sticks["V002"].read_bytes() == before
    assert read_bundle(sticks["V001"].read_bytes())[0]["kind"] == "uplink"
    for name in ("V001", "V002"):
        assert upload(capsys, tmp_path, live_centre, sticks[name])["accepted"] == 1


@pytest.mark.parametrize(("lang", "said", "unclear"), [
    ("en", "was not signed with station V001's current keys", "not authenticated"),
    ("zh", "不是站点 V001 现在的密钥签的", "未通过身份验证"),
])
def test_a_bundle_exported_before_a_reinstall_says_why_no_reply_comes(
        tmp_path, live_centre, capsys, passphrase_file, lang, said, unclear):
    """`init --force` asks for the unsent work to be exported first; the old bundle goes up
    after the station is enrolled again. Its changes are taken, but no reply can be fetched
    for the old keys: the clerk read 'The request is not authenticated: the signature does
    not match', as if the stick were forged or the upload had failed. Now the sentence says
    what happened and what to do, and doing it brings the work down."""
    visited, stick = exported_by_the_first_install(tmp_path, live_centre)
    home = tmp_path / "V001"
    Station.init(home, station_id="V001", name="V001 站", agent="李春梅",
                 passphrase=PASSPHRASE, kdf=FAST_KDF, force=True)[0].close()
    with Station.open(home, PASSPHRASE) as fresh:
        enroll(fresh, live_centre.code("V001"))
    code = run(cli, ["--lang", lang, "bundle", "upload", str(stick), "--url", live_centre.url,
                     "--home", str(tmp_path / "town-pc")])
    err = capsys.readouterr().err
    assert code == 0 and said in err and unclear not in err
    assert the_next_trip_brings_it(capsys, tmp_path, live_centre, home, passphrase_file,
                                   visited.id)
