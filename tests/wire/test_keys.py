"""Keys (station/wire/keys.py): Ed25519 signatures that say False instead of crashing, HPKE
sealing for both suites, and fingerprints a person can read over the phone."""

import re

import pytest

from station.wire.errors import Malformed
from station.wire.keys import (
    SUITE_HYBRID,
    SUITE_X25519,
    OpenFailed,
    SealKey,
    Signer,
    fingerprint,
    key_id,
    seal,
    verify,
)

SUITES = [SUITE_X25519, SUITE_HYBRID]
SUITE_IDS = ["x25519", "mlkem768-x25519"]
DATA = "王桂英 申请高龄津贴".encode()
INFO = b"station/changeset/v1|header"


@pytest.fixture(scope="module")
def seal_keys():
    return {suite: (SealKey.generate(suite), SealKey.generate(suite)) for suite in SUITES}


# --- signatures ------------------------------------------------------------------------------

def test_signature_verifies_for_the_signer():
    signer = Signer.generate()
    assert verify(signer.public_bytes(), signer.sign(DATA), DATA)
    assert len(signer.public_bytes()) == 32


def test_altered_data_does_not_verify():
    signer = Signer.generate()
    sig = signer.sign(DATA)
    for i in range(len(DATA)):
        altered = bytearray(DATA)
        altered[i] ^= 0x01
        assert not verify(signer.public_bytes(), sig, bytes(altered))
    assert not verify(signer.public_bytes(), sig, DATA + b"\x00")
    assert not verify(signer.public_bytes(), sig, DATA[:-1])


def test_altered_or_cut_signature_does_not_verify():
    signer = Signer.generate()
    sig = signer.sign(DATA)
    for i in (0, 31, 63):
        bad = bytearray(sig)
        bad[i] ^= 0x80
        assert not verify(signer.public_bytes(), bytes(bad), DATA)
    assert not verify(signer.public_bytes(), sig[:-1], DATA)
    assert not verify(signer.public_bytes(), b"", DATA)


def test_signature_from_another_key_does_not_verify():
    mine, theirs = Signer.generate(), Signer.generate()
    assert not verify(mine.public_bytes(), theirs.sign(DATA), DATA)


@pytest.mark.parametrize("public", [b"", b"short", bytes(31), bytes(33), b"\xff" * 32,
                                    b"\x01" + bytes(32)],
                         ids=["empty", "short", "31", "33", "ff", "suite-prefixed"])
def test_garbage_public_key_says_false_without_raising(public):
    signer = Signer.generate()
    assert verify(public, signer.sign(DATA), DATA) is False


def test_signer_survives_a_round_trip_through_its_private_bytes():
    signer = Signer.generate()
    again = Signer.from_bytes(signer.private_bytes())
    assert again.public_bytes() == signer.public_bytes()
    assert verify(signer.public_bytes(), again.sign(DATA), DATA)
    assert Signer.generate().public_bytes() != signer.public_bytes()


# --- sealing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_seal_then_open_round_trips(seal_keys, suite):
    key, _ = seal_keys[suite]
    sealed = seal(DATA, key.public_bytes(), INFO)
    assert key.open(sealed, INFO) == DATA
    assert DATA not in sealed


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_public_key_names_its_suite(seal_keys, suite):
    key, _ = seal_keys[suite]
    public = key.public_bytes()
    assert public[0] == suite
    assert len(public) == (1 + 32 if suite == SUITE_X25519 else 1 + 1184 + 32)


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_key_restored_from_private_bytes_is_the_same_key(seal_keys, suite):
    key, _ = seal_keys[suite]
    again = SealKey.from_bytes(key.private_bytes())
    assert again.suite == suite
    assert again.public_bytes() == key.public_bytes()
    assert again.open(seal(DATA, key.public_bytes(), INFO), INFO) == DATA


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_sealing_twice_gives_different_bytes(seal_keys, suite):
    key, _ = seal_keys[suite]
    assert seal(DATA, key.public_bytes(), INFO) != seal(DATA, key.public_bytes(), INFO)


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_opening_with_another_key_fails(seal_keys, suite):
    key, other = seal_keys[suite]
    sealed = seal(DATA, key.public_bytes(), INFO)
    with pytest.raises(OpenFailed):
        other.open(sealed, INFO)


def test_opening_with_a_key_of_the_other_suite_fails(seal_keys):
    x25519_key, _ = seal_keys[SUITE_X25519]
    hybrid_key, _ = seal_keys[SUITE_HYBRID]
    with pytest.raises(OpenFailed):
        hybrid_key.open(seal(DATA, x25519_key.public_bytes(), INFO), INFO)
    with pytest.raises(OpenFailed):
        x25519_key.open(seal(DATA, hybrid_key.public_bytes(), INFO), INFO)


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
@pytest.mark.parametrize("info", [b"", INFO + b"x", INFO[:-1], b"station/changeset/v1|other"])
def test_opening_with_another_info_fails(seal_keys, suite, info):
    key, _ = seal_keys[suite]
    with pytest.raises(OpenFailed):
        key.open(seal(DATA, key.public_bytes(), INFO), info)


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_altered_or_cut_ciphertext_fails_to_open(seal_keys, suite):
    key, _ = seal_keys[suite]
    sealed = seal(DATA, key.public_bytes(), INFO)
    for i in (0, len(sealed) // 2, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        with pytest.raises(OpenFailed):
            key.open(bytes(bad), INFO)
    for cut in (b"", sealed[:16], sealed[:-1]):
        with pytest.raises(OpenFailed):
            key.open(cut, INFO)


def _hybrid_public():
    return SealKey.generate(SUITE_HYBRID).public_bytes()


@pytest.mark.parametrize("public", [
    b"",
    b"\x01",
    b"\x01" + bytes(range(31)),
    b"\x01" + bytes(range(33)),
    b"\x03" + bytes(range(32)),
    b"\x00" + bytes(range(32)),
    b"\x01" + bytes(32),  # the all-zero X25519 point: no shared secret comes of it
    b"\x02" + bytes(range(32)),  # an X25519 body under the hybrid suite
    _hybrid_public()[:-1],
    _hybrid_public() + b"\x00",
    _hybrid_public()[:1185],
    b"\x02" + b"\xff" * 1216,
], ids=["empty", "suite-only", "short", "long", "suite-3", "suite-0", "low-order",
        "x25519-as-hybrid", "hybrid-short", "hybrid-long", "hybrid-no-x25519", "hybrid-ff"])
def test_sealing_to_malformed_public_bytes_is_refused(public):
    with pytest.raises(Malformed) as info:
        seal(DATA, public, INFO)
    assert "public key" in info.value.message("en")
    assert info.value.message("zh").startswith("数据不完整或格式不对")


def test_private_key_bytes_never_appear_in_repr(seal_keys):
    for key, _ in seal_keys.values():
        text = repr(key)
        assert repr(key.private_bytes()) not in text
        assert key.private_bytes().hex() not in text


# --- fingerprints and key ids ----------------------------------------------------------------

FINGERPRINT = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")


def test_fingerprint_is_four_groups_of_four_base32_characters(seal_keys):
    for key, _ in seal_keys.values():
        assert FINGERPRINT.match(fingerprint(key.public_bytes()))
    assert FINGERPRINT.match(fingerprint(Signer.generate().public_bytes(),
                                         seal_keys[SUITE_X25519][0].public_bytes()))


def test_fingerprint_is_stable():
    # What an enrollment code printed on paper last year says must still match today.
    public = b"\x01" + bytes(range(32))
    assert fingerprint(public) == "JEIX-NMHU-IPDF-U7D5"
    key = SealKey.generate()
    assert fingerprint(key.public_bytes()) == fingerprint(key.public_bytes())
    restored = SealKey.from_bytes(key.private_bytes())
    assert fingerprint(restored.public_bytes()) == fingerprint(key.public_bytes())


def test_fingerprint_differs_for_different_keys(seal_keys):
    publics = [k.public_bytes() for pair in seal_keys.values() for k in pair]
    publics += [Signer.generate().public_bytes() for _ in range(3)]
    prints = {fingerprint(p) for p in publics}
    assert len(prints) == len(publics)
    signing, sealing = publics[-1], publics[0]
    assert fingerprint(signing, sealing) not in prints
    assert fingerprint(signing, sealing) != fingerprint(signing, publics[1])


def test_key_id_is_eight_bytes_and_names_one_key(seal_keys):
    (a, b), (c, d) = seal_keys.values()
    ids = {key_id(k.public_bytes()) for k in (a, b, c, d)}
    assert len(ids) == 4
    assert all(len(i) == 8 for i in ids)
    assert key_id(SealKey.from_bytes(a.private_bytes()).public_bytes()) == key_id(a.public_bytes())
