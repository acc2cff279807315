"""The centre's key file: its signing, sealing and storage keys, encrypted under a key file
(HKDF) or a passphrase (Argon2id), mode 0600, with nothing private readable on disk."""

from __future__ import annotations

import os
import stat

import pytest

from station.centre.keys import CentreKeys, KeyFileError, Protector
from station.wire.keys import SUITE_HYBRID, SUITE_X25519

FAST = 1024  # Argon2id memory (KiB) for tests; the default is 64 MiB


def same(a: CentreKeys, b: CentreKeys) -> bool:
    return (a.signer.private_bytes() == b.signer.private_bytes()
            and a.seal.private_bytes() == b.seal.private_bytes() and a.storage == b.storage)


def secrets_of(keys: CentreKeys) -> list[bytes]:
    """Every private value, raw and in the forms a careless file format would hold."""
    out = []
    for raw in (keys.signer.private_bytes(), keys.seal.private_bytes(), keys.storage):
        out += [raw, raw.hex().encode(), raw.hex().upper().encode(), raw[1:17],
                raw.hex()[2:34].encode()]
    import base64

    out += [base64.b64encode(keys.storage), base64.b64encode(keys.signer.private_bytes())]
    return out


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "mount" / "centre.key"
    path.parent.mkdir()
    path.write_bytes(os.urandom(32))
    return path


def test_round_trip_with_a_key_file(tmp_path, key_file):
    keys = CentreKeys.generate()
    keys.save(tmp_path / "centre.keys", Protector(key_file=key_file))
    assert same(CentreKeys.load(tmp_path / "centre.keys", Protector(key_file=key_file)), keys)


@pytest.mark.parametrize("suite", [SUITE_X25519, SUITE_HYBRID], ids=["x25519", "hybrid"])
def test_round_trip_with_a_passphrase(tmp_path, suite):
    keys = CentreKeys.generate(suite)
    protector = Protector(passphrase="镇中心 密钥 口令 2026", memory_kib=FAST)
    keys.save(tmp_path / "centre.keys", protector)
    loaded = CentreKeys.load(tmp_path / "centre.keys",
                             Protector(passphrase="镇中心 密钥 口令 2026"))
    assert same(loaded, keys) and loaded.seal.suite == suite
    assert loaded.fingerprint == keys.fingerprint


def test_load_or_create_makes_the_keys_once(tmp_path, key_file):
    path = tmp_path / "home" / "centre.keys"
    first = CentreKeys.load_or_create(path, Protector(key_file=key_file))
    again = CentreKeys.load_or_create(path, Protector(key_file=key_file))
    assert same(first, again)
    other = CentreKeys.load_or_create(tmp_path / "elsewhere" / "centre.keys",
                                      Protector(key_file=key_file))
    assert other.fingerprint != first.fingerprint


def test_the_file_is_mode_0600_and_shows_no_private_key(tmp_path, key_file):
    keys = CentreKeys.generate()
    for name, protector in (("kf.keys", Protector(key_file=key_file)),
                            ("pw.keys", Protector(passphrase="a long passphrase",
                                                  memory_kib=FAST))):
        path = tmp_path / name
        keys.save(path, protector)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        raw = path.read_bytes()
        assert [s for s in secrets_of(keys) if s in raw] == []
        assert not (tmp_path / (path.stem + ".tmp")).exists()  # written atomically
    # The grep would see a key if it were there.
    leaked = tmp_path / "leaked"
    leaked.write_bytes(keys._plain())
    assert any(s in leaked.read_bytes() for s in secrets_of(keys))


def test_saving_again_replaces_the_file_and_keeps_it_0600(tmp_path, key_file):
    path = tmp_path / "centre.keys"
    CentreKeys.generate().save(path, Protector(key_file=key_file))
    path.chmod(0o644)  # someone loosened it
    keys = CentreKeys.generate()
    keys.save(path, Protector(key_file=key_file))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert same(CentreKeys.load(path, Protector(key_file=key_file)), keys)


def test_a_wrong_passphrase_is_a_clear_error(tmp_path):
    path = tmp_path / "centre.keys"
    CentreKeys.generate().save(path, Protector(passphrase="the right one", memory_kib=FAST))
    before = path.read_bytes()
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(path, Protector(passphrase="the wrong one"))
    assert caught.value.message("en") == (
        f"Cannot open the centre key file {path}: wrong passphrase or key file: give the one "
        "these keys were made with (is this file from another centre?)")
    assert caught.value.message("zh") == (
        f"无法打开镇中心密钥文件 {path}：口令或密钥文件不对：请用生成这些密钥时的口令或密钥文件"
        "（这个文件是否来自另一个镇中心？）")
    assert path.read_bytes() == before  # nothing changed


def test_a_wrong_key_file_is_a_clear_error(tmp_path, key_file):
    path = tmp_path / "centre.keys"
    CentreKeys.generate().save(path, Protector(key_file=key_file))
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(path, Protector(key_file=other))
    assert "wrong passphrase or key file" in caught.value.message("en")



def test_a_missing_key_file_is_named_in_the_error(tmp_path, key_file):
    """The key file sits on a separate mount: when it is not mounted, say which file."""
    path = tmp_path / "centre.keys"
    CentreKeys.generate().save(path, Protector(key_file=key_file))
    missing = tmp_path / "unmounted" / "centre.key"
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(path, Protector(key_file=missing))
    message = caught.value.message("en")
    assert str(missing) in message and "does not exist" in message, message
    zh = caught.value.message("zh")
    assert str(path) in zh and str(missing) in zh and "文件不存在" in zh, zh
    assert "No such file" not in zh and "cannot be read" not in zh
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(tmp_path / "nowhere.keys", Protector(key_file=key_file))
    assert "does not exist" in caught.value.message("en")
    assert "文件不存在" in caught.value.message("zh")


def test_the_wrong_kind_of_protection_says_which_is_needed(tmp_path, key_file):
    by_file, by_pass = tmp_path / "kf.keys", tmp_path / "pw.keys"
    CentreKeys.generate().save(by_file, Protector(key_file=key_file))
    CentreKeys.generate().save(by_pass, Protector(passphrase="a passphrase", memory_kib=FAST))
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(by_file, Protector(passphrase="a passphrase"))
    assert "key file" in caught.value.message("en") and str(by_file) in caught.value.message("en")
    assert "密钥文件保护：请用 --key-file" in caught.value.message("zh")
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(by_pass, Protector(key_file=key_file))
    assert "passphrase" in caught.value.message("en") and str(by_pass) in caught.value.message(
        "en")
    assert "口令保护：请用 --key-passphrase-file" in caught.value.message("zh")


@pytest.mark.parametrize("content", [b"", b"not json", b"{}", b'{"salt": "zz"}', b"[1, 2]"])
def test_a_damaged_key_file_is_a_key_file_error(tmp_path, key_file, content):
    path = tmp_path / "centre.keys"
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(path, Protector(key_file=key_file))
    assert str(path) in caught.value.message("en")
    assert "damaged or not a centre key file" in caught.value.message("en")
    assert caught.value.message("zh") == (
        f"无法打开镇中心密钥文件 {path}：文件已损坏或不是镇中心的密钥文件：请从备份恢复它")


def test_a_tampered_key_file_is_refused(tmp_path, key_file):
    path = tmp_path / "centre.keys"
    CentreKeys.generate().save(path, Protector(key_file=key_file))
    text = path.read_text()
    blob_at = text.index('"keys": "') + len('"keys": "')
    flipped = "0" if text[blob_at + 5] != "0" else "1"
    path.write_text(text[:blob_at + 5] + flipped + text[blob_at + 6:])
    with pytest.raises(KeyFileError) as caught:
        CentreKeys.load(path, Protector(key_file=key_file))
    assert "wrong passphrase or key file" in caught.value.message("en")


def test_the_passphrase_cost_is_kept_in_the_file(tmp_path):
    """Files made with a low test cost still open; new files default to the real cost."""
    assert Protector(passphrase="x").params()["m"] == 65536
    path = tmp_path / "centre.keys"
    keys = CentreKeys.generate()
    keys.save(path, Protector(passphrase="pass phrase", memory_kib=FAST))
    assert '"m": 1024' in path.read_text()
    assert same(CentreKeys.load(path, Protector(passphrase="pass phrase")), keys)
