"""Sealed, signed changesets (station/wire/envelope.py): what the outbox holds and what a USB
stick carries. Nothing on the way may read or alter one, and every refusal names the
changeset and the station without anyone's private key (DESIGN §5, §7)."""

import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.wire.codec import decode_changeset, encode_changeset
from station.wire.envelope import (
    MAGIC,
    MAX_SEALED,
    SIG_LEN,
    VERSION,
    open_changeset,
    read_header,
    seal_changeset,
    verify_changeset,
)
from station.wire.errors import BadSignature, CannotOpen, Malformed, WireError
from station.wire.keys import SUITE_HYBRID, SUITE_X25519, SealKey, Signer, key_id

from .test_codec import ID_NUMBER, NAME, PHONE, new_application, one_field_edit

SUITES = [SUITE_X25519, SUITE_HYBRID]
SUITE_IDS = ["x25519", "mlkem768-x25519"]
STATION = "V001"
ADDRESS = "青石村三组 12 号"


@pytest.fixture(scope="module")
def station_key():
    return Signer.generate()


@pytest.fixture(scope="module")
def centre_keys():
    return {suite: SealKey.generate(suite) for suite in SUITES}


def sealed(cs, station_key, centre_key, station=STATION):
    return seal_changeset(encode_changeset(cs), changeset_id=cs.id, station=station,
                          signer=station_key, centre_public=centre_key.public_bytes())


def header_bytes(changeset_id, station, centre_public):
    """The clear header, built from the documented layout rather than from the module."""
    st_ascii = station.encode("ascii")
    return (MAGIC + bytes([VERSION]) + uuid.UUID(changeset_id).bytes + bytes([len(st_ascii)])
            + st_ascii + key_id(centre_public))


def resign(head, payload, signer):
    body = head + struct.pack(">I", len(payload)) + payload
    return body + signer.sign(body)


def receive(blob, station_public, centre_key):
    """What the centre does with a blob: verify, then open, then decode."""
    head = verify_changeset(blob, station_public)
    return decode_changeset(open_changeset(blob, head, centre_key))


# --- the happy path --------------------------------------------------------------------------

@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_seal_verify_open_round_trips(station_key, centre_keys, suite):
    cs = new_application()
    blob = sealed(cs, station_key, centre_keys[suite])
    assert receive(blob, station_key.public_bytes(), centre_keys[suite]) == cs


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_clear_header_names_changeset_station_and_centre_key(station_key, centre_keys, suite):
    cs = new_application()
    centre = centre_keys[suite]
    blob = sealed(cs, station_key, centre)
    head = read_header(blob)  # no key of any kind needed
    assert head.changeset_id == cs.id
    assert head.station == STATION
    assert head.key_id == key_id(centre.public_bytes())
    assert blob.startswith(header_bytes(cs.id, STATION, centre.public_bytes()))
    assert head.payload_end == len(blob) - SIG_LEN


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_g2_sealed_bytes_hold_no_personal_data(station_key, centre_keys, suite):
    cs = new_application()
    blob = sealed(cs, station_key, centre_keys[suite])
    # The test can fail: the canonical form that goes in does hold all of these.
    plain = b"".join(str(op.value).encode() for op in cs.ops)
    for secret in (NAME.encode(), ID_NUMBER.encode(), PHONE.encode(), ADDRESS.encode()):
        assert secret in plain
        assert secret not in blob
    assert NAME.encode("gbk") not in blob
    assert NAME.encode("utf-16-le") not in blob
    assert ID_NUMBER[-6:].encode() not in blob


# --- tampering -------------------------------------------------------------------------------

def _every_flip_is_refused(blob, station_public, masks):
    refused = 0
    for i in range(len(blob)):
        for mask in masks:
            bad = bytearray(blob)
            bad[i] ^= mask
            with pytest.raises((BadSignature, Malformed)):
                verify_changeset(bytes(bad), station_public)
            refused += 1
    return refused


def test_flipping_any_byte_is_never_accepted(station_key, centre_keys):
    blob = sealed(one_field_edit(), station_key, centre_keys[SUITE_X25519])
    n = _every_flip_is_refused(blob, station_key.public_bytes(), masks=(0x01, 0x80, 0xFF))
    assert n == 3 * len(blob)


def test_flipping_any_byte_of_a_hybrid_blob_is_never_accepted(station_key, centre_keys):
    blob = sealed(one_field_edit(), station_key, centre_keys[SUITE_HYBRID])
    assert len(blob) > 1100
    _every_flip_is_refused(blob, station_key.public_bytes(), masks=(0x01,))


def test_flipped_payload_byte_names_changeset_and_station(station_key, centre_keys):
    cs = one_field_edit()
    blob = bytearray(sealed(cs, station_key, centre_keys[SUITE_X25519]))
    blob[len(blob) - SIG_LEN - 5] ^= 0x01
    with pytest.raises(BadSignature) as info:
        verify_changeset(bytes(blob), station_key.public_bytes())
    for lang in ("en", "zh"):
        assert cs.id in info.value.message(lang)
        assert STATION in info.value.message(lang)


def test_another_stations_key_does_not_verify(station_key, centre_keys):
    cs = one_field_edit()
    blob = sealed(cs, station_key, centre_keys[SUITE_X25519])
    with pytest.raises(BadSignature) as info:
        verify_changeset(blob, Signer.generate().public_bytes())
    assert "does not verify" in info.value.message("en")
    assert "签名不符" in info.value.message("zh")


def test_a_blob_signed_by_another_station_under_our_name_does_not_verify(station_key,
                                                                          centre_keys):
    impostor = Signer.generate()
    blob = sealed(one_field_edit(), impostor, centre_keys[SUITE_X25519], station=STATION)
    with pytest.raises(BadSignature):
        verify_changeset(blob, station_key.public_bytes())


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
@pytest.mark.parametrize("relabel", ["changeset", "station"])
def test_payload_moved_under_another_header_does_not_open(station_key, centre_keys, suite,
                                                          relabel):
    # Even the station's own key cannot move a payload under another header and have it
    # open: the header is the HPKE info, so the AEAD tag no longer matches.
    centre = centre_keys[suite]
    cs = new_application()
    blob = sealed(cs, station_key, centre)
    head = read_header(blob)
    payload = blob[head.payload_start:head.payload_end]
    other_id = one_field_edit().id if relabel == "changeset" else cs.id
    other_station = "V002" if relabel == "station" else STATION
    moved = resign(header_bytes(other_id, other_station, centre.public_bytes()), payload,
                   station_key)

    new_head = verify_changeset(moved, station_key.public_bytes())  # the signature is fine
    assert (new_head.changeset_id, new_head.station) == (other_id, other_station)
    with pytest.raises(CannotOpen) as info:
        open_changeset(moved, new_head, centre)
    assert other_id in info.value.message("en")
    assert other_station in info.value.message("en")
    assert "correctly signed but does not open" in info.value.message("en")


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_resigned_garbage_payload_does_not_open(station_key, centre_keys, suite):
    centre = centre_keys[suite]
    cid = one_field_edit().id
    for payload in (b"", b"\x00" * 16, b"\x00" * 2000):
        blob = resign(header_bytes(cid, STATION, centre.public_bytes()), payload, station_key)
        head = verify_changeset(blob, station_key.public_bytes())
        with pytest.raises(CannotOpen):
            open_changeset(blob, head, centre)


@pytest.mark.parametrize("suite", SUITES, ids=SUITE_IDS)
def test_sealed_to_another_centre_key_says_so(station_key, centre_keys, suite):
    cs = one_field_edit()
    blob = sealed(cs, station_key, SealKey.generate(suite))
    head = verify_changeset(blob, station_key.public_bytes())
    with pytest.raises(CannotOpen) as info:
        open_changeset(blob, head, centre_keys[suite])
    en = info.value.message("en")
    assert "sealed to another centre key" in en
    assert cs.id in en and STATION in en
    zh = info.value.message("zh")
    assert cs.id in zh and STATION in zh and "无法解密" in zh


def test_a_blob_for_the_other_suite_key_says_another_centre_key(station_key, centre_keys):
    blob = sealed(one_field_edit(), station_key, centre_keys[SUITE_X25519])
    head = verify_changeset(blob, station_key.public_bytes())
    with pytest.raises(CannotOpen, match="sealed to another centre key"):
        open_changeset(blob, head, centre_keys[SUITE_HYBRID])


# --- truncated, padded, not ours -------------------------------------------------------------

def test_every_truncation_is_malformed_and_names_the_changeset_when_it_can(station_key,
                                                                            centre_keys):
    cs = one_field_edit()
    blob = sealed(cs, station_key, centre_keys[SUITE_X25519])
    named = 0
    for n in range(len(blob)):
        with pytest.raises(Malformed) as info:
            verify_changeset(blob[:n], station_key.public_bytes())
        if cs.id in info.value.message("en"):
            assert "truncated or padded" in info.value.message("en")
            named += 1
    # Once the blob is long enough to be a sealed changeset at all, the refusal names it.
    assert named >= len(blob) - (3 + 16 + 1 + 8 + 4 + SIG_LEN)


@pytest.mark.parametrize("pad", [b"\x00", b"\x00" * 64, b"extra"])
def test_padded_blob_is_malformed_and_named(station_key, centre_keys, pad):
    cs = one_field_edit()
    blob = sealed(cs, station_key, centre_keys[SUITE_X25519])
    with pytest.raises(Malformed) as info:
        read_header(blob + pad)
    assert cs.id in info.value.message("en")
    assert cs.id in info.value.message("zh")


def test_oversized_blob_is_refused_before_parsing(station_key, centre_keys):
    blob = sealed(one_field_edit(), station_key, centre_keys[SUITE_X25519])
    with pytest.raises(Malformed, match="too large"):
        read_header(blob + bytes(MAX_SEALED))


@pytest.mark.parametrize(("change", "reason"), [
    (lambda b: b"PK" + b[2:], "not a station changeset"),
    (lambda b: b[:2] + bytes([VERSION + 1]) + b[3:], "unknown version 2"),
    (lambda b: b[:20] + b"\xe9" + b[21:], "bad station id"),
    (lambda b: b[:19] + b"\x00" + b[20:], "truncated or padded"),
], ids=["magic", "version", "station-not-ascii", "station-length"])
def test_not_ours_is_malformed_with_a_reason(station_key, centre_keys, change, reason):
    blob = sealed(one_field_edit(), station_key, centre_keys[SUITE_X25519])
    with pytest.raises(Malformed) as info:
        verify_changeset(change(blob), station_key.public_bytes())
    assert reason in info.value.message("en")


def test_a_station_length_pointing_past_the_end_is_malformed():
    # A hostile length byte must not make the parser read past the end (struct.error).
    cid = uuid.UUID(int=7)
    for n in (80, 200, 255):
        blob = MAGIC + bytes([VERSION]) + cid.bytes + bytes([n]) + b"A" * 100
        with pytest.raises(Malformed) as info:
            read_header(blob)
        assert str(cid) in info.value.message("en")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_wire_errors(blob):
    with pytest.raises((Malformed, BadSignature)):
        verify_changeset(blob, Signer.generate().public_bytes())


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.integers(0, 255), st.binary(max_size=400))
def test_random_bytes_behind_our_magic_raise_only_wire_errors(cid, n, tail):
    blob = MAGIC + bytes([VERSION]) + cid + bytes([n]) + tail
    with pytest.raises((Malformed, BadSignature)):
        verify_changeset(blob, Signer.generate().public_bytes())


# --- messages --------------------------------------------------------------------------------

def test_every_refusal_has_a_sentence_in_both_languages(station_key, centre_keys):
    cs = one_field_edit()
    blob = sealed(cs, station_key, centre_keys[SUITE_X25519])
    errors = []
    for bad, public, centre in [
        (blob[:-1], station_key.public_bytes(), None),
        (blob, Signer.generate().public_bytes(), None),
        (sealed(cs, station_key, SealKey.generate()), station_key.public_bytes(),
         centre_keys[SUITE_X25519]),
    ]:
        with pytest.raises(WireError) as info:
            head = verify_changeset(bad, public)
            open_changeset(bad, head, centre)
        errors.append(info.value)
    assert [type(e) for e in errors] == [Malformed, BadSignature, CannotOpen]
    for exc in errors:
        zh, en = exc.message("zh"), exc.message("en")
        assert zh != en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)
        assert en.isascii()
        assert "{" not in zh and "{" not in en  # every placeholder was filled
        assert cs.id in zh and cs.id in en
        assert exc.as_dict() == {"code": exc.code, "zh": zh, "en": en}
        assert exc.code.startswith("wire.")

