"""The changeset codec (station/wire/codec.py): exact round trips, canonical bytes, and refusal
of anything hostile or broken with a wire/domain error, never a crash or a memory blow-up."""

import contextlib
import json
import pickle
import struct
import tracemalloc
import uuid

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.domain.changeset import CENTRE, MAX_COUNTER, MAX_WALL, Changeset, Op
from station.domain.errors import ChangesetError
from station.domain.hlc import HLC
from station.wire import codec
from station.wire.codec import (
    MAX_PLAIN,
    decode_changeset,
    encode_changeset,
    pack_state,
    unpack_state,
)
from station.wire.errors import Malformed

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WALL = 1_795_397_400_000  # 2026-11-23 09:30 +08:00

NAME = "王桂英"
ID_NUMBER = "511322195603084329"
PHONE = "13912345678"


def uid(n):
    # UUIDv7-shaped ids, as the store makes them.
    return str(uuid.UUID(int=(0x019AB000_0000_7000_8000_000000000000 + n)))


def new_application():
    cid = uid(1)
    return Changeset(
        cid, uid(2), "application", "V001", "V001", "李春梅", HLC(WALL, 0, "V001-laptop"), (
            Op("set", "matter", "SB-ALIVE-01"),
            Op("set", "applicant.name", NAME),
            Op("set", "applicant.id_number", ID_NUMBER),
            Op("set", "applicant.phone", PHONE),
            Op("set", "applicant.address", "青石村三组 12 号"),
            Op("set", "applicant.village_group", "三组"),
            Op("set", "authorisation.relationship", "child"),
            Op("set", "authorisation.signed", True),
            Op("set", "channel", "station"),
            Op("add", "materials.received", "M01"),
            Op("set", "materials.due.M02", "2026-12-07"),
            Op("set", "promised_date", "2026-12-14"),
            Op("status", "status", {"to": "awaiting_materials", "round": 0}),
            Op("append", "notes", "容缺受理：户口簿原件下周补交，已一次告知。"),
        ))


def visit_update():
    return Changeset(
        uid(10), uid(11), "visit", "V002", "BUS01", "张建国", HLC(WALL + 5, 3, "BUS01"), (
            Op("set", "resident.phone", "13800001111", prev=(f"{uid(9)}:3",)),
            Op("add", "services", "alive_certification"),
            Op("remove", "services", "consultation", tags=(f"{uid(8)}:1", f"{uid(9)}:0")),
            Op("append", "contacts", {"via": "visit", "at": "2026-11-23T10:05+08:00",
                                      "note": "老人独居，腿脚不便，下周送药上门"}),
            Op("set", "next_visit", "2026-11-30"),
            Op("set", "rating", {"score": "good", "comment": "很满意"}),
        ))


def centre_decision():
    return Changeset(
        uid(20), uid(2), "application", "V001", CENTRE, "镇中心-刘芳", HLC(WALL + 9, 0, "centre"), (
            Op("set", "outcome", "returned"),
            Op("set", "outcome_reason", "户口簿复印件不清晰，请重新提交"),
            Op("status", "status", {"to": "returned", "round": 0}, prev=(f"{uid(1)}:12",)),
        ))


def one_field_edit():
    return Changeset(uid(30), uid(2), "application", "V001", "V001", "李春梅",
                     HLC(WALL + 60_000, 0, "V001-laptop"),
                     (Op("set", "applicant.phone", "13987654321", prev=(f"{uid(1)}:3",)),))


EXAMPLES = [new_application(), visit_update(), centre_decision(), one_field_edit()]


def _rle_frame(declared, blocks):
    """A hand-made zstd frame that declares ``declared`` bytes of content and carries
    ``blocks`` RLE blocks of 128 KiB zeros: a few bytes that claim to be enormous."""
    out = ZSTD_MAGIC + bytes([0xE0]) + struct.pack("<Q", declared)  # single segment, 8-byte FCS
    for i in range(blocks):
        header = (1 if i == blocks - 1 else 0) | (1 << 1) | (128 * 1024 << 3)  # last? RLE, size
        out += header.to_bytes(3, "little") + b"\x00"
    return out


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _refused(blob):
    """Decoding must refuse with one of our errors; anything else is a crash at the centre."""
    with pytest.raises((Malformed, ChangesetError)) as info:
        decode_changeset(blob)
    return info.value


# --- round trips and canonical bytes ---------------------------------------------------------

@pytest.mark.parametrize("cs", EXAMPLES, ids=["new-application", "visit", "centre", "edit"])
def test_changeset_round_trips_exactly(cs):
    back = decode_changeset(encode_changeset(cs))
    assert back == cs
    assert back.ops[0].value == cs.ops[0].value
    assert back.to_dict() == cs.to_dict()


def test_chinese_text_survives_unchanged():
    back = decode_changeset(encode_changeset(new_application()))
    values = {op.field: op.value for op in back.ops}
    assert values["applicant.name"] == NAME
    assert values["notes"] == "容缺受理：户口簿原件下周补交，已一次告知。"
    assert back.author == "李春梅"


def test_falsy_values_are_kept_not_dropped():
    cs = Changeset(uid(40), uid(41), "application", "V001", "V001", "甲", HLC(0, 0, "d"), (
        Op("set", "authorisation.signed", False), Op("set", "applicant.village_group", ""),
        Op("set", "rating", 0)))
    assert [op.value for op in decode_changeset(encode_changeset(cs)).ops] == [False, "", 0]


def test_encoding_is_deterministic():
    for cs in EXAMPLES:
        assert encode_changeset(cs) == encode_changeset(cs)
        # re-encoding what was decoded gives the very same bytes (canonical form)
        assert encode_changeset(decode_changeset(encode_changeset(cs))) == encode_changeset(cs)


def test_encoding_does_not_depend_on_dict_key_order():
    a = Op("status", "status", {"to": "received", "round": 0, "note": "受理"})
    b = Op("status", "status", {"note": "受理", "round": 0, "to": "received"})
    base = one_field_edit()
    assert (encode_changeset(base._replace(ops=(a,)))
            == encode_changeset(base._replace(ops=(b,))))


def test_different_changesets_encode_differently():
    blobs = {encode_changeset(cs) for cs in EXAMPLES}
    assert len(blobs) == len(EXAMPLES)


def test_first_byte_names_the_format_then_a_zstd_frame():
    blob = encode_changeset(new_application())
    expected = codec.PLAIN_ZSTD if codec._dictionary() is None else codec.DICT_V1
    assert blob[0] == expected
    assert blob[1:5] == ZSTD_MAGIC


@pytest.mark.parametrize("tag", [0x00, 0x03, 0x28, 0xFF])
def test_unknown_format_byte_is_refused(tag):
    blob = bytes([tag]) + encode_changeset(new_application())[1:]
    exc = _refused(blob)
    assert isinstance(exc, Malformed)
    assert "unknown compression" in exc.message("en")


CODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


@st.composite
def changesets(draw):
    op_id = st.builds(lambda n, i: f"{uid(n)}:{i}", st.integers(0, 2**40), st.integers(0, 9999))
    scalar = (st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=20)
              | st.floats(allow_nan=False, allow_infinity=False))
    value = (scalar | st.lists(scalar, max_size=3)
             | st.dictionaries(st.text(max_size=6), scalar, max_size=3))
    ops = draw(st.lists(st.builds(
        Op, st.sampled_from(["set", "add", "remove", "append", "status"]),
        st.text(min_size=1, max_size=64), value,
        st.lists(op_id, max_size=2).map(tuple), st.lists(op_id, max_size=2).map(tuple)),
        min_size=1, max_size=4))
    code = st.text(CODE_CHARS, min_size=1, max_size=32)
    return Changeset(
        str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        draw(st.sampled_from(["application", "visit", "resident"])),
        draw(code), draw(code), draw(st.text(min_size=1, max_size=64)),
        HLC(draw(st.integers(0, MAX_WALL - 1)), draw(st.integers(0, MAX_COUNTER - 1)),
            draw(st.text(CODE_CHARS + ":", min_size=1, max_size=64))),
        tuple(ops))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changesets())
def test_any_valid_changeset_round_trips(cs):
    assert decode_changeset(encode_changeset(cs)) == cs


@given(changesets())
def test_a_changeset_survives_pickling_between_processes(cs):
    # the centre's check processes send checked changesets back to the server by pickle
    back = pickle.loads(pickle.dumps(cs, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == cs
    assert type(back) is Changeset and type(back.hlc) is HLC
    assert all(type(op) is Op for op in back.ops)
    assert back.to_dict() == cs.to_dict()


# --- size ------------------------------------------------------------------------------------

def test_a_one_field_edit_is_small_on_the_wire():
    assert len(encode_changeset(one_field_edit())) < 250


def test_a_full_form_compresses_below_its_json():
    cs = new_application()
    assert len(encode_changeset(cs)) < len(codec.to_json_bytes(cs.to_dict()))


# --- zip bombs -------------------------------------------------------------------------------

@pytest.mark.parametrize("declared", [2**40, 2**30, MAX_PLAIN + 1],
                         ids=["1TiB", "1GiB", "just-over"])
def test_a_frame_declaring_a_huge_size_is_refused_before_allocating_it(declared):
    blob = bytes([codec.PLAIN_ZSTD]) + _rle_frame(declared, blocks=4)
    assert len(blob) < 40
    peak = _peak_bytes(lambda: _refused(blob))
    assert peak < 64 * 1024
    with pytest.raises(Malformed, match="too large"):
        decode_changeset(blob)


def test_a_streamed_bomb_without_declared_size_stops_at_the_cap():
    # 64 MiB of zeros, compressed as a stream (no content size in the frame header): ~2 KB.
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    chunk = bytes(1 << 20)
    bomb = b"".join([cobj.compress(chunk) for _ in range(64)] + [cobj.flush()])
    assert len(bomb) < 8 * 1024
    blob = bytes([codec.PLAIN_ZSTD]) + bomb
    peak = _peak_bytes(lambda: _refused(blob))
    assert peak < 2 * MAX_PLAIN
    assert isinstance(_refused(blob), Malformed)


def test_the_size_cap_is_exactly_max_plain():
    at_cap = b" " * MAX_PLAIN
    assert codec.decompress(codec.compress(at_cap)) == at_cap
    with pytest.raises(Malformed, match="too large"):
        codec.decompress(codec.compress(at_cap + b" "))


# --- garbage in, our error out ---------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_wire_or_changeset_errors(blob):
    _refused(blob)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([codec.PLAIN_ZSTD, codec.DICT_V1]), st.binary(max_size=400))
def test_random_zstd_looking_bytes_raise_only_wire_or_changeset_errors(tag, tail):
    _refused(bytes([tag]) + ZSTD_MAGIC + tail)


def test_every_truncation_is_refused():
    blob = encode_changeset(visit_update())
    for n in range(len(blob)):
        _refused(blob[:n])


def test_trailing_garbage_is_refused():
    blob = encode_changeset(visit_update())
    for tail in (b"\x00", b"garbage", encode_changeset(one_field_edit())[1:]):
        assert isinstance(_refused(blob + tail), Malformed)


def test_every_single_byte_flip_decodes_or_is_refused_cleanly():
    blob = encode_changeset(new_application())
    for i in range(len(blob)):
        for mask in (0x01, 0xFF):
            bad = bytearray(blob)
            bad[i] ^= mask
            with contextlib.suppress(Malformed, ChangesetError):
                decode_changeset(bytes(bad))  # a flip may decode; it must never crash


@pytest.mark.parametrize("raw", [
    b"\xff\xfe\xfd not utf-8",
    "变更记录".encode("gbk"),
    b"{\"id\": ",
    b"[" * 100_000 + b"]" * 100_000,  # deep nesting: json's recursion limit
    b"1" * 5000,  # an integer longer than Python converts
    b"",
], ids=["bytes", "gbk", "cut-json", "deep", "long-int", "empty"])
def test_valid_zstd_of_non_json_is_refused_clearly(raw):
    exc = _refused(codec.compress(raw))
    assert isinstance(exc, Malformed)
    assert exc.message("en") == "Truncated or malformed changeset: not JSON"
    assert "changeset" in exc.message("zh") and "not JSON" in exc.message("zh")


def _valid_dict():
    return one_field_edit().to_dict()


@pytest.mark.parametrize(("data", "reason"), [
    ([], "not an object"),
    ("changeset", "not an object"),
    (None, "not an object"),
    ({}, "malformed changeset (KeyError)"),
    ({**_valid_dict(), "id": "not-a-uuid"}, "bad changeset id"),
    ({**_valid_dict(), "k": "person"}, "unknown record kind"),
    ({**_valid_dict(), "s": "青石村"}, "bad 's' code"),
    ({**_valid_dict(), "a": ""}, "bad author"),
    ({**_valid_dict(), "h": [-1, 0, "d"]}, "bad timestamp"),
    ({**_valid_dict(), "h": [1, 0]}, "malformed changeset (ValueError)"),
    ({**_valid_dict(), "ops": []}, "ops must be 1–200 items"),
    ({**_valid_dict(), "ops": [{"op": "delete", "f": "applicant.name"}]}, "bad op kind"),
    ({**_valid_dict(), "ops": [{"op": "set", "f": ""}]}, "bad field name"),
    ({**_valid_dict(), "ops": [{"op": "set", "f": "x", "p": ["nope"]}]}, "bad op id"),
    ({**_valid_dict(), "ops": [{"op": "set", "f": "x", "p": "abc"}]}, "short list"),
])
def test_json_that_is_not_a_changeset_is_refused_with_a_reason(data, reason):
    blob = codec.compress(json.dumps(data, ensure_ascii=False).encode())
    exc = _refused(blob)
    assert isinstance(exc, ChangesetError)
    assert reason in exc.message("en")
    assert exc.message("zh").startswith("变更记录无效")


def test_encoding_from_many_threads_at_once_never_corrupts():
    """The centre decodes in a thread pool: compressors are per thread, never shared."""
    import threading

    failures: list[BaseException] = []

    def work(k: int) -> None:
        for i in range(300):
            cs = one_field_edit()._replace(hlc=one_field_edit().hlc._replace(counter=k * 1000 + i))
            try:
                assert decode_changeset(encode_changeset(cs)) == cs
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_record_states_are_stored_compressed_and_old_plain_ones_still_read():
    state = {"id": "r1", "reg": {f"resident.f{i}": {"heads": {f"cs{i}:0": ["王桂英", "1.0.d"]}}
                                 for i in range(40)}}
    raw = json.dumps(state, ensure_ascii=False, sort_keys=True).encode()
    packed = pack_state(raw)
    assert len(packed) < len(raw) / 2 and packed[:1] != b"{"
    assert unpack_state(packed) == raw
    assert unpack_state(raw) == raw  # stored before states were compressed


def test_a_big_record_state_is_not_refused_like_a_hostile_changeset():
    """A state is our own authenticated data: a record with years of contacts may pass the
    256 KiB cap that guards changesets from a hostile peer."""
    raw = json.dumps({"log": {f"c{i}": ["note " + "x" * 40] for i in range(20_000)}}).encode()
    assert len(raw) > 256 * 1024
    assert unpack_state(pack_state(raw)) == raw


def test_a_changeset_from_a_newer_version_still_tells_its_record_and_receipt():
    newer = {"id": uid(1), "r": uid(2), "k": "application", "s": "V001", "o": "V002",
             "a": "李春梅", "h": [WALL, 0, "d" * 16], "x-new": True,
             "ops": [{"op": "set", "f": "receipt", "v": "V002-20261123-0001"},
                     {"op": "merge-v2", "f": "resident.name", "v": NAME}]}
    blob = codec.compress(json.dumps(newer).encode())
    with pytest.raises(ChangesetError):
        decode_changeset(blob)
    assert codec.peek_changeset(blob) == (uid(2), "V002-20261123-0001")


@pytest.mark.parametrize("raw", [b"\xff\xfe not json", b"[1, 2]", b'{"r": "../../x"}',
                                 b"[" * 100_000])
def test_bytes_that_are_no_changeset_tell_nothing(raw):
    assert codec.peek_changeset(codec.compress(raw)) == (None, None)
    assert codec.peek_changeset(b"garbage") == (None, None)
