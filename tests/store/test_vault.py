"""Key slots, the recovery key, and ciphertexts bound to their rows."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import unicodedata

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from station.store.db import db_path
from station.store.errors import (
    AgentExists,
    BadRecoveryKey,
    DamagedSlot,
    LastSlot,
    ReservedAgent,
    Tampered,
    UnknownAgent,
    WeakPassphrase,
    WrongPassphrase,
)
from station.store.service import Station
from station.store.vault import (
    DEFAULT_KDF,
    FAST_KDF,
    KdfParams,
    Keys,
    agent_slot,
    new_dek,
    new_recovery_key,
    open_agent_slot,
    parse_recovery_key,
)
from tests.conftest import PASSPHRASE


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_cost_is_stored_in_the_slot_and_used_to_open_it():
    dek = new_dek()
    slot = agent_slot("甲", "a long passphrase", dek, FAST_KDF)
    assert KdfParams.from_json(slot.params) == FAST_KDF
    assert open_agent_slot(slot, "a long passphrase") == dek
    assert DEFAULT_KDF.memory_kib >= 65536  # ~0.3 s here; never the fast one by default


def test_wrong_passphrase_is_refused_and_leaves_the_file_byte_identical(station, home, now):
    station.create("resident", {"resident.name": "王桂英"})
    station.close()
    before = digest(db_path(home))
    with pytest.raises(WrongPassphrase) as exc:
        Station.open(home, "not the passphrase", now=now)
    assert "Nothing was changed" in exc.value.message("en")
    assert "口令不正确" in exc.value.message("zh")
    assert digest(db_path(home)) == before


def test_a_second_agent_opens_with_their_own_passphrase_and_can_be_removed(station, home, now):
    station.add_agent("张建国", "another passphrase", FAST_KDF)
    with pytest.raises(AgentExists):
        station.add_agent("张建国", "and another one", FAST_KDF)
    station.close()
    other = Station.open(home, "another passphrase", now=now)
    assert other.agent == "张建国"  # found by trying every slot
    record = other.create("resident", {"resident.name": "赵秀兰"})
    assert other.history(record.id)[0]["author"] == "张建国"
    other.close()
    with Station.open(home, PASSPHRASE, now=now) as first:
        first.remove_agent("张建国")
    with pytest.raises(WrongPassphrase):
        Station.open(home, "another passphrase", now=now)


def test_the_last_agent_cannot_be_removed(station):
    with pytest.raises(LastSlot):
        station.remove_agent("李春梅")
    with pytest.raises(UnknownAgent):
        station.remove_agent("nobody")


@pytest.mark.parametrize("params", [
    '{"alg": "argon2id", "m": 8, "t": 1, "p": 1}',  # lowered: guessing goes faster
    '{"alg": "argon2id", "m": 256, "t": 1, "p": 0}',
    '{"alg": "argon2id", "m": 4294967295, "t": 1, "p": 1}',  # raised: exhausts memory
    '{"alg": "scrypt", "m": 65536, "t": 3, "p": 4}',
    '{"m": "lots"}',
    "not json",
])
def test_a_slot_whose_cost_was_altered_is_named_and_never_used(station, home, now, params):
    station.add_agent("张建国", "another passphrase", FAST_KDF)
    station.close()
    with sqlite3.connect(db_path(home)) as conn:
        conn.execute("UPDATE keyslots SET params=? WHERE label='李春梅'", [params])
    conn.close()
    before = digest(db_path(home))
    for agent in ("李春梅", None):  # asked for by name, or found by trying every slot
        with pytest.raises(DamagedSlot) as exc:
            Station.open(home, PASSPHRASE, agent=agent, now=now)
        assert "李春梅" in exc.value.message("en") and "station recover" in exc.value.message("en")
        assert "口令槽已损坏" in exc.value.message("zh")
    assert digest(db_path(home)) == before
    with Station.open(home, "another passphrase", now=now) as other:  # the others still can
        assert other.agent == "张建国"
        # and can give the damaged slot's agent a new one, as `station recover` would
        other.change_passphrase("a brand new passphrase", agent="李春梅", kdf=FAST_KDF)
    with Station.open(home, "a brand new passphrase", now=now) as again:
        assert again.agent == "李春梅"


def test_changing_a_passphrase_rewraps_one_slot_only(station, home, now):
    record = station.create("resident", {"resident.name": "王桂英"})
    station.change_passphrase("a brand new passphrase", kdf=FAST_KDF)
    station.close()
    with pytest.raises(WrongPassphrase):
        Station.open(home, PASSPHRASE, now=now)
    with Station.open(home, "a brand new passphrase", now=now) as again:
        assert again.get(record.id).name == "王桂英"


def test_a_changed_passphrase_gets_todays_cost_not_the_old_slots(station, home):
    """The station was made with cheap Argon2id parameters (a demo, an older version): the
    changed passphrase must not stay as cheap to guess."""
    station.change_passphrase("a brand new passphrase")
    station.close()
    with sqlite3.connect(db_path(home)) as conn:
        (params,) = conn.execute("SELECT params FROM keyslots WHERE label='李春梅'").fetchone()
    conn.close()
    assert json.loads(params) == json.loads(DEFAULT_KDF.to_json())
    assert json.loads(params) != json.loads(FAST_KDF.to_json())


def test_weak_passphrase_refused(home, now):
    with pytest.raises(WeakPassphrase):
        Station.init(home, station_id="V001", name="站", agent="甲", passphrase="short",
                     kdf=FAST_KDF, now=now)
    assert not db_path(home).exists()


def test_recovery_key_opens_and_sets_a_new_passphrase(home, now):
    station, recovery = Station.init(home, station_id="V001", name="站", agent="甲",
                                     passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    record = station.create("resident", {"resident.name": "王桂英"})
    station.close()
    assert len(recovery.split("-")) == 8
    typed = recovery.lower().replace("-", " ")  # as a person copies it back from paper
    with Station.recover(home, typed, agent="甲", new_passphrase="new passphrase!",
                         kdf=FAST_KDF, now=now) as st:
        assert st.get(record.id).name == "王桂英"
    with Station.open(home, "new passphrase!", now=now) as st:
        assert st.agent == "甲"


def test_a_mistyped_recovery_key_is_refused(home, now):
    station, recovery = Station.init(home, station_id="V001", name="站", agent="甲",
                                     passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    station.close()
    with pytest.raises(BadRecoveryKey):
        Station.recover(home, new_recovery_key(), agent="甲", new_passphrase="xxxxxxxxxx",
                        kdf=FAST_KDF, now=now)
    with pytest.raises(BadRecoveryKey) as exc:
        parse_recovery_key(recovery[:-3])
    assert "37 of 40" in exc.value.message("en")


def test_an_agent_named_like_the_recovery_slot_never_takes_its_place(home, now):
    """Slots are rows keyed by name: an agent called "recovery" would overwrite the
    recovery key's slot (or, at init, be overwritten by it and lock everyone out)."""
    with pytest.raises(ReservedAgent) as exc:
        Station.init(home, station_id="V001", name="站", agent="recovery",
                     passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    assert "recovery key" in exc.value.message("en")
    assert not db_path(home).exists()
    station, recovery = Station.init(home, station_id="V001", name="站", agent="甲",
                                     passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    with pytest.raises(ReservedAgent):
        station.add_agent("recovery", "another passphrase", FAST_KDF)
    station.close()
    with pytest.raises(ReservedAgent):
        Station.recover(home, recovery, agent="recovery", new_passphrase="new passphrase!",
                        kdf=FAST_KDF, now=now)
    # the recovery key still opens the station afterwards
    with Station.recover(home, recovery, agent="甲", new_passphrase="new passphrase!",
                         kdf=FAST_KDF, now=now) as st:
        assert st.agents() == ["甲"]


def test_recovery_key_tolerates_look_alike_digits():
    key = "OIBAA-" * 7 + "OIBAA"
    assert parse_recovery_key(key.replace("O", "0").replace("I", "1").replace("B", "8")) == \
        parse_recovery_key(key)


def test_recovery_key_typed_in_full_width_mode_opens(home, now):
    """A Chinese input method left in full-width mode types ＡＢＣ２３ and －: the same key."""
    station, recovery = Station.init(home, station_id="V001", name="站", agent="甲",
                                     passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    station.close()
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in recovery.lower())  # ａｂ２－…
    with Station.recover(home, full_width, agent="甲", new_passphrase="new passphrase!",
                         kdf=FAST_KDF, now=now) as st:
        assert st.agent == "甲"


def test_ciphertext_moved_to_another_row_or_flipped_fails_to_open():
    keys = Keys(new_dek())
    blob = keys.seal("records", b"secret body", "records|A|1")
    assert keys.open("records", blob, "records|A|1") == b"secret body"
    with pytest.raises(Tampered) as exc:
        keys.open("records", blob, "records|B|1")
    assert "records|B|1" in exc.value.message("en")
    with pytest.raises(Tampered):
        keys.open("records", blob, "records|A|2")
    flipped = bytearray(blob)
    flipped[20] ^= 1
    with pytest.raises(Tampered):
        keys.open("records", bytes(flipped), "records|A|1")
    with pytest.raises(Tampered):
        keys.open("changesets", blob, "records|A|1")  # another purpose, another key


def test_a_changeset_re_pointed_at_another_record_is_reported_not_merged(station, home, now):
    """The changesets' ``record`` column is plaintext: pointing B's changesets at A must not
    show B's changes in A's history, nor merge B's name into A when A is rebuilt."""
    a = station.create("resident", {"resident.name": "王桂英"})
    b = station.create("resident", {"resident.name": "李秀兰"})
    station.close()
    with sqlite3.connect(db_path(home)) as conn:
        conn.execute("UPDATE changesets SET record=? WHERE record=?", [a.id, b.id])
        conn.execute("UPDATE records SET state=x'00' WHERE id=?", [a.id])  # forces a rebuild
    conn.close()
    with Station.open(home, PASSPHRASE, now=now) as st:
        with pytest.raises(Tampered) as exc:
            st.history(a.id)
        assert "changesets|" in exc.value.message("en")
        with pytest.raises(Tampered) as exc:
            st.get(a.id)
        assert a.receipt in exc.value.message("en")


def test_blind_index_is_keyed_per_station_and_per_kind_of_value():
    a, b = Keys(new_dek()), Keys(new_dek())
    assert a.blind("id", "11010519491231002X") == a.blind("id", "11010519491231002X")
    assert a.blind("id", "11010519491231002X") != b.blind("id", "11010519491231002X")
    assert a.blind("id", "13912345678") != a.blind("phone", "13912345678")


def test_a_passphrase_typed_in_full_width_mode_opens(home, now):
    """A Chinese input method left in full-width mode types ｃｏｒｒｅｃｔ and an
    ideographic space for the passphrase set up in half-width: the same passphrase."""
    Station.init(home, station_id="V001", name="站", agent="甲", passphrase=PASSPHRASE,
                 kdf=FAST_KDF, now=now)[0].close()
    full_width = "".join("\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) for ch in PASSPHRASE)
    with Station.open(home, full_width, now=now) as st:
        assert st.agent == "甲"
    with pytest.raises(WrongPassphrase):
        Station.open(home, full_width.replace("ｃ", "ｘ"), now=now)


def test_a_slot_made_from_the_nfc_form_still_opens_with_it(home, now):
    """An agent whose passphrase has full-width characters, with a slot made before
    passphrases were NFKC-normalised (from the NFC form), is not locked out."""
    station, _ = Station.init(home, station_id="V001", name="站", agent="甲",
                              passphrase=PASSPHRASE, kdf=FAST_KDF, now=now)
    passphrase = "口令：ＡＢＣ１２３　好"
    salt = b"s" * 16
    kek = FAST_KDF.derive(unicodedata.normalize("NFC", passphrase).encode(), salt)
    nonce = b"n" * 12
    wrapped = nonce + AESGCM(kek).encrypt(nonce, station.keys.dek, "keyslot|乙".encode())
    station.db.execute("INSERT INTO keyslots VALUES (?,?,?,?,?,?)",
                       ["乙", "agent", FAST_KDF.to_json(), salt, wrapped, "2026-01-01"])
    station.db.conn.commit()
    station.close()
    with Station.open(home, passphrase, now=now) as st:
        assert st.agent == "乙"
