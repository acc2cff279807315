"""Bad input at the centre's door (issue 5, DESIGN §7): a bounded fuzz run in `make test`.

Each surface on SQLite and on the real PostgreSQL server:

- every operation of the OpenAPI document (``app.openapi()``), with bodies, query parameters
  and headers generated from its schemas — valid and invalid ones — the staff calls with and
  without the staff token, ``/v1/enroll`` with random tokens and keys and with real codes;
- ``/v1/push`` and ``/v1/bundle`` with random bytes, frames of random blobs and mutations of
  real sealed changesets from enrolled stations (bit flips, truncations, swapped headers,
  lengths that lie, duplicated and reordered frames, huge counts); a push also carries a valid
  request signature over the mutated body, so the fuzz reaches ingest, not just auth;
- changesets with hostile content, correctly sealed and signed by an enrolled station's own
  keys, so the fuzz reaches decoding, the domain rules, the merge and the store;
- ``/v1/pull`` with random ``after``/``limit`` and random or mutated signature headers;
- ``/v1/bundle/pull`` with carried pull requests, odd, unsigned or re-signed;
- and, as a plain list, every input that ever answered 500 here.

What must hold: no 5xx (the test client re-raises any exception a handler lets escape),
every 4xx is ``{"error": {"code", "zh", "en"}}``, and nothing is stored that should not be —
only the pristine changesets, and only what a valid code or staff token legitimately creates.

Hypothesis rather than schemathesis: the OpenAPI document has a dozen small operations and the
properties that matter (nothing stored, only pristine items, signatures over mutated bodies)
need our own checks around every call anyway; schemathesis would add a dozen packages and a
pytest plugin loaded into every run for little more than the schema walk done below.

Bounded: derandomized (the same examples on every CI run), ``deadline=None``, example counts
sized so the whole file takes a few seconds per back end; ``STATION_SOAK=1`` (``make soak``)
runs twenty times as many.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from station.centre.app import MAX_BODY, MAX_JSON, MAX_PUSH_ITEMS, MAX_SEALED
from station.centre.service import Centre
from station.domain.catalogue import shipped_catalogue
from station.domain.changeset import Changeset
from station.domain.rules import check_changeset
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.transport import CentreClient
from station.wire import auth
from station.wire.bundle import signed_pull
from station.wire.codec import compress, decode_changeset, to_json_bytes
from station.wire.envelope import open_changeset, read_header, seal_changeset
from station.wire.framing import pack
from station.wire.keys import SUITE_X25519, SealKey, Signer

pytestmark = pytest.mark.soak

SOAK = 20 if os.environ.get("STATION_SOAK") else 1
URL = "http://127.0.0.1:8700"
SCB1 = b"SCB1"
PASS = "correct horse battery"


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples * SOAK, deadline=None, derandomize=True,
                    database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.large_base_example])


# --- what every answer must look like -------------------------------------------------------

def check(response: httpx.Response) -> httpx.Response:
    """No 5xx; a 4xx is the JSON refusal every client can show (code, zh, en)."""
    status = response.status_code
    assert status < 500, f"HTTP {status}: {response.text[:500]}"
    if status >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert list(body) == ["error"], body
        error = body["error"]
        assert {"code", "zh", "en"} <= set(error), body
        assert all(isinstance(error[k], str) and error[k] for k in ("code", "zh", "en")), body
    return response


def log_ids(centre: Centre) -> dict[str, bytes]:
    """Every entry in the centre's log: id → the plaintext it stores."""
    scopes = [s.id for s in centre.repo.stations()] + ["V001", "V002"]
    out = {}
    for e in centre.repo.read_log(0, sorted(set(scopes)), exclude_own=None, limit=100_000):
        out[e.id] = centre.storage.open("log", e.body, f"log|{e.id}")
    return out


# --- stations with real sealed changesets ---------------------------------------------------

def enrolled(client: TestClient, staff: dict[str, str], home: Path, station_id: str,
             scope: list[str] | None = None) -> Station:
    code = check(client.post("/v1/staff/enroll-code", headers=staff,
                             json={"station": station_id, "scope": scope or []})).json()["code"]
    st_, _ = Station.init(home / station_id, station_id=station_id, name="青石村便民服务站",
                          agent="李春梅", passphrase=PASS, kdf=FAST_KDF)
    enroll(st_, code, client=CentreClient(URL, client=client))
    return st_


def applications(station: Station, n: int) -> list[str]:
    out = []
    for i in range(n):
        rec = station.create("application", {
            "matter": "HJ-001", "applicant.name": f"王桂英{i}",
            "materials.received": ["M01", "M02", "M03", "M04"]})
        out.append(rec.id)
    return out


def sealed(station: Station) -> list[bytes]:
    return [item.sealed for item in station.sync.outbox(1000, 1 << 30)]


def signed_headers(station: Station, method: str, target: str, body: bytes,
                   centre: Centre) -> dict[str, str]:
    return auth.sign_request(station.sync.transport(), method=method, target=target, body=body,
                             time_ms=centre.now_ms(), station=station.station_id)


@pytest.fixture
def stations(centre_app, staff_headers, tmp_path) -> Iterator[dict[str, Station]]:
    """V001 with three applications and BUS01 (V001 and V002), enrolled, nothing pushed."""
    _, client = centre_app
    made = {"V001": enrolled(client, staff_headers, tmp_path, "V001"),
            "BUS01": enrolled(client, staff_headers, tmp_path, "BUS01", ["V001", "V002"])}
    applications(made["V001"], 3)
    applications(made["BUS01"], 1)
    yield made
    for s in made.values():
        s.close()


# --- strategies: hostile text and JSON ------------------------------------------------------

HOSTILE = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\udfff", "x\udc80y", "\u202e\u0645", "😀" * 3,
    "中文站点", "V001", "v001", "V001 ", "../../etc/passwd", "' OR '1'='1", "{detail}", "%s%n",
    "\r\nX-Injected: 1", "\t", "Ⅻ", "ß", "ﬀ", "\ufeff", "A" * 65, "B" * 300, "C" * 5000])
TEXT = st.one_of(st.text(max_size=40), HOSTILE,
                 st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(),
                    st.sampled_from([2**31, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 0]),
                    st.floats(allow_nan=False, allow_infinity=False), TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


def resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def valid(schema: dict[str, Any], doc: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema accepts (a small subset of JSON Schema: what FastAPI emits here)."""
    schema = resolve(schema, doc)
    if "anyOf" in schema:
        return st.one_of([valid(s, doc) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        if not props:
            return st.dictionaries(TEXT, JSON_VALUES, max_size=5)
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: valid(v, doc) for k, v in props.items() if k in required},
            optional={k: valid(v, doc) for k, v in props.items() if k not in required})
    if kind == "string":
        lo, hi = schema.get("minLength", 0), schema.get("maxLength", 60)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: lo <= len(s) <= hi)
        return st.one_of(st.text(min_size=lo, max_size=min(hi, 60)),
                         HOSTILE.filter(lambda s: lo <= len(s) <= hi))
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum")
                           ).map(int)
    if kind == "array":
        return st.lists(valid(schema.get("items", {}), doc),
                        max_size=min(schema.get("maxItems", 5), 5))
    if kind == "boolean":
        return st.booleans()
    return JSON_VALUES


def wrong(schema: dict[str, Any], doc: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values the schema refuses, or that sit right on its edges."""
    schema = resolve(schema, doc)
    kind = schema.get("type")
    others = st.one_of(st.none(), st.booleans(), st.lists(SCALARS, max_size=3),
                       st.dictionaries(TEXT, SCALARS, max_size=2))
    if kind == "string":
        hi = schema.get("maxLength", 60)
        return st.one_of(others, st.integers(), st.floats(), HOSTILE,
                         st.text(min_size=hi + 1, max_size=hi + 3), TEXT)
    if kind == "integer":
        lo, hi = schema.get("minimum", -(2**70)), schema.get("maximum", 2**70)
        return st.one_of(others, TEXT, st.floats(),
                         st.sampled_from([int(lo) - 1, int(hi) + 1, -(2**64), 2**64, 10**30,
                                          0, -1, True]))
    if kind == "array":
        return st.one_of(others.filter(lambda v: not isinstance(v, list)), TEXT,
                         st.lists(JSON_VALUES, max_size=4),
                         st.lists(st.just("V001"), min_size=schema.get("maxItems", 5) + 1,
                                  max_size=schema.get("maxItems", 5) + 1))
    return st.one_of(others, SCALARS)


def invalid(schema: dict[str, Any], doc: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A body the schema refuses: wrong shape, a required key gone, a key of the wrong kind,
    unknown keys."""
    schema = resolve(schema, doc)
    props = schema.get("properties", {})
    not_object = st.one_of(SCALARS, st.lists(JSON_VALUES, max_size=3))
    if not props:
        return not_object
    base = valid(schema, doc)
    options = [not_object,
               st.tuples(base, st.dictionaries(TEXT, JSON_VALUES, min_size=1, max_size=3))
               .map(lambda t: {**t[1], **t[0]})]
    for name, sub in props.items():
        options.append(st.tuples(base, wrong(sub, doc)).map(
            lambda t, name=name: {**t[0], name: t[1]}))
        if name in schema.get("required", []):
            options.append(base.map(lambda b, name=name: {k: v for k, v in b.items()
                                                          if k != name}))
    return st.one_of(options)


def urlencode(query: dict[str, str] | list[tuple[str, str]]) -> str:
    """A query string of any text, lone surrogates too (as the invalid UTF-8 they would be)."""
    pairs = query.items() if isinstance(query, dict) else query
    return "&".join(f"{quote(k.encode('utf-8', 'surrogatepass'), safe='')}="
                    f"{quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in pairs)


def as_json(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \\udxxx escapes: the server's parser meets them
    return json.dumps(value).encode()


RAW_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"{", b"}", b"null", b"[]", b'"x"', b"{}", b"\xef\xbb\xbf{}",
                     b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}', b'{"a":1,"a":2}',
                     b'{"a": "\\ud800"}', b'{"a": "\\u0000"}', '{"站":"点"}'.encode("utf-16"),
                     b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 30_000 + b"1" + b"}" * 30_000,
                     b'{"a": ' + b"9" * 5000 + b"}", b'{"a": 1' + b"0" * 400 + b"}"]),
    st.text(max_size=200).map(str.encode))


# --- 1. every operation of the OpenAPI document -------------------------------------------

BINARY = "application/octet-stream"
PRINTABLE_HEADER = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c == 9 or 32 <= c < 127 or c >= 128))


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method.upper(), op) for path, methods in sorted(doc["paths"].items())
            for method, op in sorted(methods.items())]


def test_every_operation_of_the_openapi_document(centre_app, staff_headers, tmp_path,
                                                 centre_config):
    centre, client = centre_app
    doc = client.app.openapi()
    ops = operations(doc)
    assert {p for p, _, _ in ops} >= {"/v1/enroll", "/v1/push", "/v1/bundle", "/v1/pull",
                                      "/v1/staff/enroll-code", "/v1/staff/revoke",
                                      "/v1/staff/decide", "/v1/staff/catalogue",
                                      "/v1/staff/stations", "/v1/health"}
    token = (centre_config.home / "staff.token").read_text().strip()

    # One record at the centre, so a decision can be valid; every change after it is counted.
    v001 = enrolled(client, staff_headers, tmp_path, "V001")
    receipt = v001.get(applications(v001, 1)[0]).receipt
    body = pack(SCB1, sealed(v001))
    check(client.post("/v1/push", content=body,
                      headers=signed_headers(v001, "POST", "/v1/push", body, centre)))
    assert centre.repo.count() >= 1
    expected = {"changesets": centre.repo.count(), "catalogue": 0, "stations": {"V001"}}
    catalogue = shipped_catalogue().to_dict()

    def auth_headers() -> st.SearchStrategy[dict[str, Any]]:
        wrong_bearer = st.one_of(
            st.just(f"bearer {token}"), st.just(f"Bearer {token} "),
            st.just(f"Bearer {token.lower()}"), st.just(f"Bearer {token[:-1]}"),
            st.just(f"Basic {token}"), st.just("Bearer "), st.just(token),
            PRINTABLE_HEADER.map(lambda b: b"Bearer " + b))
        # the real token half the time: most of what is worth fuzzing sits behind it
        return st.one_of(st.just({"Authorization": f"Bearer {token}"}), st.just({}),
                         wrong_bearer.map(lambda v: {"Authorization": v}))

    def extra_headers() -> st.SearchStrategy[dict[str, Any]]:
        names = st.sampled_from(["Content-Type", auth.H_STATION, auth.H_TIME, auth.H_NONCE,
                                 auth.H_SIGNATURE, "X-Forwarded-For", "Accept",
                                 "Content-Encoding", "Transfer-Encoding-Junk"])
        values = st.one_of(PRINTABLE_HEADER, st.sampled_from(
            [b"application/json", b"text/plain", BINARY.encode(), b"multipart/form-data",
             b"application/json; charset=latin-1", b"gzip", b"V001", b"0", b"-1"]))
        return st.dictionaries(names, values, max_size=3)

    def bodies(op: dict[str, Any]) -> st.SearchStrategy[tuple[bytes | None, str | None]]:
        content = op.get("requestBody", {}).get("content", {})
        if not content:
            return st.one_of(st.just((None, None)), RAW_BODIES.map(lambda b: (b, None)))
        media, spec = next(iter(content.items()))
        schema = spec.get("schema", {})
        if media == BINARY:
            return st.binary(max_size=500).map(lambda b: (b, media))
        encoded = [valid(schema, doc).map(as_json), invalid(schema, doc).map(as_json),
                   RAW_BODIES]
        if "catalogue" in op.get("operationId", ""):
            encoded.append(catalogues())
        if "decide" in op.get("operationId", ""):  # the one receipt the centre has
            encoded.append(valid(schema, doc).map(lambda b: as_json({**b, "receipt": receipt})))
        return st.tuples(st.one_of(encoded), st.sampled_from([media, media, None, "text/plain"]))

    def catalogues() -> st.SearchStrategy[bytes]:
        version = st.one_of(st.text(max_size=12), st.just(catalogue["version"]),
                            st.sampled_from(["2027.1.1", "2026.11.2"]), SCALARS)
        field = st.sampled_from(sorted(catalogue))
        return st.tuples(version, field, JSON_VALUES, st.booleans()).map(
            lambda t: as_json({**catalogue, "version": t[0],
                               **({t[1]: t[2]} if t[3] else {})}))

    def params(op: dict[str, Any]) -> st.SearchStrategy[dict[str, str]]:
        fixed = {}
        for p in op.get("parameters", []):
            if p["in"] != "query":
                continue
            fixed[p["name"]] = st.one_of(
                valid(p["schema"], doc).map(str), wrong(p["schema"], doc).map(str), TEXT)
        return st.fixed_dictionaries({}, optional={**fixed, "junk": TEXT})

    calls = []
    for path, method, op in ops:
        calls.append(st.tuples(st.just(path), st.just(method), bodies(op), params(op),
                               auth_headers(), extra_headers()))
    enrollments = st.tuples(
        st.from_regex(r"^[A-Z0-9]{1,6}$", fullmatch=True),  # the code is for this station
        st.one_of(st.just(None), TEXT),                       # the station named, None = same
        st.sampled_from(["good", "random", "junk", "short"]),  # the keys
        st.one_of(st.none(), TEXT),                           # the device
        st.binary(min_size=65, max_size=65))                  # random keys' bytes

    @fuzz(120)
    @given(st.one_of(st.one_of(calls).map(lambda c: ("call", c)),
                     st.one_of(calls).map(lambda c: ("call", c)),
                     enrollments.map(lambda e: ("enroll", e))))
    def run(case):
        kind, args = case
        if kind == "enroll":
            enroll_with_a_real_code(*args)
            return
        path, method, (body, media), query, auth_h, extra = args
        headers = {**extra, **auth_h}
        if media is not None:
            headers["Content-Type"] = media
        target = path + (f"?{urlencode(query)}" if query else "")
        r = check(client.request(method, target, content=body, headers=headers))
        ok = r.status_code == 200
        if ok and path == "/v1/staff/decide":
            expected["changesets"] += 1
        if ok and path == "/v1/staff/catalogue":
            expected["catalogue"] += 1
        if ok and path in ("/v1/enroll",):
            raise AssertionError(f"enrolled without a real code: {body!r}")
        if ok and path.startswith("/v1/staff/"):
            assert auth_h.get("Authorization", "").strip() in (f"Bearer {token}",
                                                               f"bearer {token}"), auth_h
        assert_nothing_else_stored()

    def enroll_with_a_real_code(station, named, keys, device, noise):
        code = check(client.post("/v1/staff/enroll-code", headers=staff_headers,
                                 json={"station": station})).json()["code"]
        transport = Signer.generate()
        if keys == "good":
            pub = {"sign_public": Signer.generate().public_bytes().hex(),
                   "seal_public": SealKey.generate(SUITE_X25519).public_bytes().hex(),
                   "transport_public": transport.public_bytes().hex()}
        elif keys == "random":  # a seal key of a random suite byte and random point
            pub = {"sign_public": noise[:32].hex(), "seal_public": noise[32:].hex(),
                   "transport_public": transport.public_bytes().hex()}
        elif keys == "short":
            pub = {"sign_public": "00", "seal_public": "", "transport_public": "ab" * 31}
        else:
            pub = {"sign_public": "zz" * 32, "seal_public": "\x00", "transport_public": "é"}
        body = {"token": code.split("#")[1].split("/")[0], "station": named or station, **pub}
        if device is not None:
            body["device"] = device
        r = check(client.post("/v1/enroll", content=as_json(body),
                              headers={"Content-Type": "application/json"}))
        if r.status_code == 200:
            assert (named or station).upper() == station.upper() and keys in ("good", "random")
            expected["stations"].add(station.upper())
            # the station it made must be able to pull, or be told why not: never a 500
            target = "/v1/pull?after=0"
            check(client.get(target, headers=auth.sign_request(
                transport, method="GET", target=target, body=b"", time_ms=centre.now_ms(),
                station=station.upper())))
        assert_nothing_else_stored()

    def assert_nothing_else_stored():
        assert centre.repo.count() == expected["changesets"]
        assert centre.repo.count("catalogue") == expected["catalogue"]
        assert {s.id for s in centre.repo.stations()} == expected["stations"]

    try:
        run()
    finally:
        v001.close()


# --- 2. binary bodies on push and bundle ---------------------------------------------------

def header_end(blob: bytes) -> int:
    """Where the payload-length field of a sealed changeset starts (station id, key id)."""
    return 20 + blob[19] + 8 if len(blob) > 20 else len(blob)


@st.composite
def mutated(draw: st.DrawFn, pristine: list[bytes]) -> bytes:
    """A real sealed changeset, changed in one to four places."""
    blob = bytearray(draw(st.sampled_from(pristine)))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["flip", "byte", "truncate", "append", "cut", "insert",
                                    "length", "station_len", "version", "magic", "swap_header",
                                    "swap_station", "swap_payload", "signature", "id"]))
        n = len(blob)
        at = draw(st.integers(0, max(n - 1, 0))) if n else 0
        if how == "flip" and n:
            blob[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "byte" and n:
            blob[at] = draw(st.integers(0, 255))
        elif how == "truncate":
            del blob[at:]
        elif how == "append":
            blob += draw(st.binary(min_size=1, max_size=64))
        elif how == "cut" and n:
            del blob[at:at + draw(st.integers(1, 64))]
        elif how == "insert":
            blob[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "length" and n > 40:
            pos = header_end(blob)
            lie = draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, MAX_SEALED, MAX_SEALED + 1])
                       | st.integers(0, 2**32 - 1))
            blob[pos:pos + 4] = struct.pack(">I", lie)
        elif how == "station_len" and n > 20:
            blob[19] = draw(st.integers(0, 255))
        elif how == "version" and n > 3:
            blob[2] = draw(st.integers(0, 255))
        elif how == "magic" and n > 2:
            blob[:2] = draw(st.binary(min_size=2, max_size=2))
        elif how in ("swap_header", "swap_payload", "swap_station") and n > 40:
            other = draw(st.sampled_from(pristine))
            if how == "swap_header":  # another item's header, this one's payload + signature
                blob = bytearray(other[:header_end(other)] + blob[header_end(blob):])
            elif how == "swap_payload":  # this header, another's payload and signature
                blob = bytearray(blob[:header_end(blob)] + other[header_end(other):])
            else:  # another station's id in this header
                blob = bytearray(blob[:19] + other[19:20 + other[19]] + blob[20 + blob[19]:])
        elif how == "signature" and n > 64:
            blob[-64:] = draw(st.binary(min_size=64, max_size=64))
        elif how == "id" and n > 19:
            blob[3:19] = draw(st.binary(min_size=16, max_size=16))
    return bytes(blob)


@st.composite
def batches(draw: st.DrawFn, pristine: list[bytes]) -> bytes:
    """A push body: random bytes, frames of random blobs, or frames of real and mutated
    items, duplicated and reordered, perhaps with a lying count or length."""
    kind = draw(st.sampled_from(["random", "magic", "frames", "items", "items", "items"]))
    if kind == "random":
        return draw(st.binary(max_size=2000))
    if kind == "magic":
        return SCB1 + draw(st.binary(max_size=200))
    if kind == "frames":
        items = draw(st.lists(st.binary(max_size=300), max_size=6))
    else:
        one = st.one_of(mutated(pristine), mutated(pristine), st.sampled_from(pristine),
                        st.binary(max_size=200))
        items = draw(st.lists(one, min_size=1, max_size=6))
        if draw(st.booleans()):  # duplicated frames
            items += draw(st.lists(st.sampled_from(items), max_size=3))
        items = draw(st.permutations(items))
    body = bytearray(pack(SCB1, items))
    lie = draw(st.sampled_from(["none", "none", "count", "length", "truncate", "trailing",
                                "magic"]))
    if lie == "count":
        body[4:8] = struct.pack(">I", draw(st.sampled_from(
            [0, len(items) + 1, max(len(items) - 1, 0), MAX_PUSH_ITEMS, MAX_PUSH_ITEMS + 1,
             2**31, 2**32 - 1])))
    elif lie == "length" and items:
        pos = 8
        for item in items[:draw(st.integers(0, len(items) - 1))]:
            pos += 4 + len(item)
        body[pos:pos + 4] = struct.pack(">I", draw(st.sampled_from(
            [0, 1, MAX_SEALED, MAX_SEALED + 1, 2**32 - 1]) | st.integers(0, 4000)))
    elif lie == "truncate":
        del body[draw(st.integers(0, len(body))):]
    elif lie == "trailing":
        body += draw(st.binary(min_size=1, max_size=16))
    elif lie == "magic":
        body[:4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(body)


CONTENT_LENGTH_LIES = st.one_of(st.none(), st.sampled_from(
    ["-1", "0", "1", "+5", " 7 ", "1_0", "abc", "", "1e3", "0x10", str(MAX_BODY),
     str(MAX_BODY + 1), str(2**64), "9" * 400]))


def test_binary_bodies_on_push_and_bundle(centre_app, stations):
    centre, client = centre_app
    v001, bus = stations["V001"], stations["BUS01"]
    pristine = sealed(v001) + sealed(bus)
    assert len(pristine) >= 4
    originals = {}
    for blob in pristine:
        head = read_header(blob)
        originals[head.changeset_id] = open_changeset(blob, head, centre.keys.seal)

    @fuzz(120)
    @given(body=batches(pristine), push=st.booleans(), signer=st.sampled_from(["V001", "BUS01"]),
           length=CONTENT_LENGTH_LIES)
    def run(body, push, signer, length):
        headers = {"Content-Type": BINARY}
        if push:
            headers.update(signed_headers(stations[signer], "POST", "/v1/push", body, centre))
        if length is not None:
            headers["Content-Length"] = length
        r = check(client.post("/v1/push" if push else "/v1/bundle", content=body,
                              headers=headers))
        if r.status_code == 200:
            reply = r.json()
            assert set(reply["accepted"]) | set(reply["duplicates"]) <= set(originals), reply
            for refusal in reply["refused"]:
                assert refusal["code"] and refusal["zh"] and refusal["en"], refusal
        stored = log_ids(centre)
        assert set(stored) <= set(originals)
        for cid, plain in stored.items():  # only the pristine item, never a mutation of it
            assert plain == originals[cid]

    run()


# --- 3. hostile content, correctly sealed and signed ---------------------------------------

def _mutate_json(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """One change somewhere inside a JSON value: a key dropped or added, a value replaced."""
    if isinstance(value, dict) and value and depth < 4 and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        how = draw(st.sampled_from(["into", "into", "drop", "add"]))
        if how == "drop":
            return {k: v for k, v in value.items() if k != key}
        if how == "add":
            return {**value, draw(TEXT): draw(JSON_VALUES)}
        return {**value, key: _mutate_json(draw, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 4 and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        how = draw(st.sampled_from(["into", "into", "drop", "dup"]))
        if how == "drop":
            return value[:i] + value[i + 1:]
        if how == "dup":
            return [*value, value[i]]
        return [*value[:i], _mutate_json(draw, value[i], depth + 1), *value[i + 1:]]
    return draw(st.one_of(JSON_VALUES, st.sampled_from(
        ["V002", "V001", "BUS01", "centre", "application", "resident", "status", "outcome",
         "set", "add", "remove", "append", 2**63, 2**64, -1, 10**20])))


def test_hostile_changesets_signed_by_an_enrolled_station(centre_app, stations, staff_headers):
    """Garbage inside a genuine envelope: decoding, the rules, the merge and the store must
    refuse it with a reason (or accept it only when it is a valid changeset of that station),
    and whatever was accepted must not break a later pull or a staff decision: never a 500."""
    centre, client = centre_app
    v001 = stations["V001"]
    centre_public = centre.keys.seal.public_bytes()
    dicts = []
    for blob in sealed(v001):
        head = read_header(blob)
        dicts.append(decode_changeset(open_changeset(blob, head, centre.keys.seal)).to_dict())
    body = pack(SCB1, sealed(v001))  # the pristine ones first: hostile ones then land on them
    check(client.post("/v1/bundle", content=body))
    records = [d["r"] for d in dicts]
    receipts = sorted({v001.get(r).receipt for r in records})
    now = centre.now_ms()
    walls = st.sampled_from([now + 3_600_000, now - 1, 0, 2**53, 2**63 - 1, 2**64 - 1])
    counters = st.sampled_from([0, 99_999, 100_000, 2**32, 2**63, 2**64 - 1])

    @st.composite
    def hostile(draw):
        data = draw(st.sampled_from(dicts))
        how = draw(st.sampled_from(["clock", "json", "json", "raw"]))
        if how == "clock":  # a valid changeset but for a clock at its edges
            data = {**data, "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)),
                                                version=4)),
                    "h": [draw(walls), draw(counters), data["h"][2]]}
            return data, None
        for _ in range(draw(st.integers(1, 3))):
            data = _mutate_json(draw, data)
        if isinstance(data, dict) and draw(st.booleans()):
            data = {**data, "r": draw(st.sampled_from(records))}  # onto a record at the centre
        if isinstance(data, dict) and draw(st.booleans()):
            data = {**data, "id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)),
                                                version=4))}
        raw = None
        if how == "raw":
            raw = draw(st.sampled_from(
                [b"", b"not json", b"[" * 100_000 + b"]" * 100_000,
                 b'{"id":' + b"7" * 5000 + b"}", b'{"h": [1' + b"0" * 30 + b', 0, "V001-x"]}']))
        return data, raw

    @fuzz(60)
    @given(case=hostile(), via_bundle=st.booleans(), outcome=st.sampled_from(
        ["completed", "returned"]))
    def run(case, via_bundle, outcome):
        data, raw = case
        try:
            plain = to_json_bytes(data) if raw is None else raw
        except TypeError:  # an integer past 64 bits: orjson will not write it (raw ones do)
            assume(False)
        cid = data.get("id") if isinstance(data, dict) else None
        if not (isinstance(cid, str) and re.fullmatch(r"[0-9a-f-]{36}", cid)):
            cid = dicts[0]["id"]
        blob = seal_changeset(compress(plain), changeset_id=cid, station="V001",
                              signer=v001.signer, centre_public=centre_public)
        body = pack(SCB1, [blob])
        before = centre.repo.count()
        if via_bundle:
            r = check(client.post("/v1/bundle", content=body))
        else:
            r = check(client.post("/v1/push", content=body, headers=signed_headers(
                v001, "POST", "/v1/push", body, centre)))
        reply = r.json()
        if not reply["accepted"]:
            assert centre.repo.count() == before
            return
        # then it must really be a valid changeset of this station
        cs = Changeset.from_dict(data)
        assert cs.origin == "V001" and cs.scope == "V001"
        check_changeset(cs, today=dt.datetime.fromtimestamp(centre.now_ms() / 1000).date())
        assert centre.repo.count() == before + 1
        # and what it did to its record must not break what comes next
        for receipt in receipts:
            r = check(client.post("/v1/staff/decide", headers=staff_headers, json={
                "receipt": receipt, "outcome": outcome, "reason": "材料齐全"}))
        for name in ("V001", "BUS01"):
            target = "/v1/pull?after=0"
            check(client.get(target, headers=signed_headers(stations[name], "GET", target, b"",
                                                            centre)))

    run()


# --- 4. pull: random cursors and signatures --------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-5, 5), st.integers(), st.integers(min_value=2**62, max_value=2**66),
    st.sampled_from([2**31 - 1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30,
                     100_000, 100_001, 2_000, 2_001]))
PARAM = st.one_of(NUMBERS.map(str), TEXT, st.sampled_from(
    ["", " 1", "1 ", "+1", "-0", "1.0", "1e3", "0x10", "1_000", "٣", "１", "nan", "inf", "true",
     "9" * 5000]))


def test_pull_with_random_cursors_and_signatures(centre_app, stations):
    centre, client = centre_app
    v001 = stations["V001"]
    body = pack(SCB1, sealed(v001))
    check(client.post("/v1/push", content=body,
                      headers=signed_headers(v001, "POST", "/v1/push", body, centre)))
    stored = centre.repo.count()
    seen = signed_headers(v001, "GET", "/v1/pull", b"", centre)
    check(client.get("/v1/pull", headers=seen))  # its nonce is now used up

    def mutate_headers(draw: st.DrawFn, headers: dict[str, str]) -> dict[str, Any]:
        how = draw(st.sampled_from(["none", "none", "none", "drop", "random", "sigflip",
                                    "sigshort", "time", "replay", "station", "target"]))
        out: dict[str, Any] = dict(headers)
        name = draw(st.sampled_from(sorted(headers)))
        if how == "drop":
            del out[name]
        elif how == "random":
            out[name] = draw(PRINTABLE_HEADER)
        elif how == "sigflip":
            sig = bytearray(base64.b64decode(headers[auth.H_SIGNATURE]))
            sig[draw(st.integers(0, 63))] ^= 1 << draw(st.integers(0, 7))
            out[auth.H_SIGNATURE] = base64.b64encode(bytes(sig)).decode()
        elif how == "sigshort":
            out[auth.H_SIGNATURE] = headers[auth.H_SIGNATURE][:draw(st.integers(0, 87))]
        elif how == "time":
            out[auth.H_TIME] = str(int(headers[auth.H_TIME]) + draw(st.sampled_from(
                [auth.WINDOW_MS + 1, -auth.WINDOW_MS - 1, 10**20, -(10**20)])))
        elif how == "replay":
            out = dict(seen)
        elif how == "station":
            out[auth.H_STATION] = draw(st.sampled_from(["BUS01", "V002", "v001", "V001 "]))
        elif how == "target":
            out = signed_headers(v001, "GET", "/v1/pull?after=0", b"", centre)
        return out

    @fuzz(100)
    @given(data=st.data(), after=st.one_of(st.none(), PARAM), limit=st.one_of(st.none(), PARAM),
           who=st.sampled_from(["V001", "BUS01"]))
    def run(data, after, limit, who):
        query = [(k, v) for k, v in (("after", after), ("limit", limit)) if v is not None]
        url = "/v1/pull" + (f"?{urlencode(query)}" if query else "")
        target = client.build_request("GET", url).url.raw_path.decode()
        headers = mutate_headers(data.draw, signed_headers(stations[who], "GET", target, b"",
                                                           centre))
        r = check(client.get(url, headers=headers))
        assert r.status_code in (200, 400, 401, 403), r.status_code
        if r.status_code == 200:
            assert r.headers["content-type"] == BINARY and r.content[:2] == b"DL"
        assert centre.repo.count() == stored

    run()


# --- 5. lying lengths and oversized bodies, one by one -------------------------------------

def test_content_length_lies_and_oversized_bodies(centre_app, stations):
    centre, client = centre_app
    v001 = stations["V001"]
    good = pack(SCB1, sealed(v001))
    big = SCB1 + b"\0" * MAX_BODY  # one frame header past the cap
    for path in ("/v1/push", "/v1/bundle"):
        headers = signed_headers(v001, "POST", path, big, centre) if path == "/v1/push" else {}
        assert check(client.post(path, content=big, headers=headers)).status_code == 413
        for declared, status in ((str(MAX_BODY + 1), 413), (str(2**64), 413), ("-5", None),
                                 ("abc", 400), ("", 400), ("3", None), ("999999", None)):
            headers = {"Content-Length": declared}
            if path == "/v1/push":
                headers.update(signed_headers(v001, "POST", path, good, centre))
            r = check(client.post(path, content=good, headers=headers))
            assert status is None or r.status_code == status, (path, declared, r.text)
    for path in ("/v1/enroll", "/v1/staff/revoke", "/v1/staff/catalogue"):
        r = check(client.post(path, content=b'{"token": "' + b"a" * (MAX_JSON * 40) + b'"}',
                              headers={"Content-Type": "application/json"}))
        assert r.status_code in (400, 403, 413), r.status_code
    assert centre.repo.count() == len(set(log_ids(centre)))
    assert set(log_ids(centre)) <= {read_header(b).changeset_id for b in sealed(v001)}



# --- 6. carried pull requests (a USB stick's signed request for a station's downlink) -------

def test_carried_pull_requests(centre_app, stations):
    centre, client = centre_app
    if "/v1/bundle/pull" not in client.app.openapi()["paths"]:
        pytest.skip("this centre has no /v1/bundle/pull")
    v001 = stations["V001"]
    transport = v001.sync.transport()
    good = signed_pull(transport, station="V001", after=0, time_ms=centre.now_ms())
    r = check(client.post("/v1/bundle/pull", content=as_json(good)))
    assert r.status_code == 200, r.text  # so the fuzz below is not all refused at the door
    odd = st.one_of(st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308,
                                     2**63, 2**64, -1, "0", "1e3", [], {}]), SCALARS)

    @st.composite
    def carried(draw):
        how = draw(st.sampled_from(["field", "field", "drop", "resign", "raw", "extra"]))
        request: dict[str, Any] = dict(good)
        name = draw(st.sampled_from(sorted(good)))
        if how == "field":
            request[name] = draw(odd)
        elif how == "drop":
            del request[name]
        elif how == "resign":  # the station's own signature over a strange cursor
            after = draw(st.one_of(st.integers(), st.sampled_from([-1, 2**62, 2**63, 2**64])))
            request = signed_pull(transport, station="V001", after=after,
                                  time_ms=draw(st.integers()))
        elif how == "extra":
            request[draw(TEXT)] = draw(JSON_VALUES)
        else:
            return draw(RAW_BODIES)
        return json.dumps(request).encode()  # NaN and Infinity as Python writes them

    @fuzz(60)
    @given(body=carried())
    def run(body):
        before = centre.repo.count()
        r = check(client.post("/v1/bundle/pull", content=body))
        if r.status_code == 200:
            assert r.content[:4] == b"DLB1"
        assert centre.repo.count() == before

    run()


# --- 7. every 5xx this fuzz has found, as a plain regression list ---------------------------

def _with_clock(centre: Centre, station: Station, wall: int, counter: int) -> bytes:
    """A valid changeset of ``station``, properly sealed and signed, with this HLC."""
    blob = sealed(station)[0]
    data = decode_changeset(open_changeset(blob, read_header(blob), centre.keys.seal)).to_dict()
    data = {**data, "id": str(uuid.uuid4()), "h": [wall, counter, data["h"][2]]}
    return seal_changeset(compress(to_json_bytes(data)), changeset_id=data["id"],
                          station=station.station_id, signer=station.signer,
                          centre_public=centre.keys.seal.public_bytes())


def test_known_bad_inputs(centre_app, stations, staff_headers):
    """Each of these once answered 500 (or stored what it should not have)."""
    centre, client = centre_app
    v001 = stations["V001"]
    staff = {**staff_headers, "Content-Type": "application/json"}
    carried = signed_pull(v001.sync.transport(), station="V001", after=0,
                          time_ms=centre.now_ms())
    refused = {
        # app.py: json.loads let RecursionError, and NaN/Infinity/1e999 (which then overflow
        # int() in check_pull), escape
        "deep JSON on /v1/bundle/pull": lambda: client.post(
            "/v1/bundle/pull", content=b"[" * 100_000 + b"]" * 100_000),
        "Infinity as the cursor of a carried pull": lambda: client.post(
            "/v1/bundle/pull", content=json.dumps({**carried, "after": float("inf")}).encode()),
        "1e999 as the time of a carried pull": lambda: client.post(
            "/v1/bundle/pull", content=json.dumps({**carried, "time_ms": 0}).replace(
                '"time_ms": 0', '"time_ms": 1e999').encode()),
        # app.py: scope items were any text: a lone surrogate reached the database (500 on
        # both back ends), a NUL was stored on SQLite
        "a lone surrogate in an enroll-code scope": lambda: client.post(
            "/v1/staff/enroll-code", headers=staff,
            content=b'{"station": "V009", "scope": ["\\udc00"]}'),
        "a NUL in an enroll-code scope": lambda: client.post(
            "/v1/staff/enroll-code", headers=staff,
            content=b'{"station": "V009", "scope": ["V\\u0000"]}'),
        # catalogue.py: RecursionError and the 4300-digit ValueError escaped
        "deep JSON as a catalogue": lambda: client.post(
            "/v1/staff/catalogue", headers=staff, content=b"[" * 100_000 + b"]" * 100_000),
        "a 5000-digit number in a catalogue": lambda: client.post(
            "/v1/staff/catalogue", headers=staff, content=b'{"version": ' + b"9" * 5000 + b"}"),
        # service.py / repo: a cursor past 2^63 overflowed SQLite and the downlink header
        "a cursor of 2^64": lambda: client.get(
            f"/v1/pull?after={2**64}", headers=signed_headers(
                v001, "GET", f"/v1/pull?after={2**64}", b"", centre)),
    }
    for name, call in refused.items():
        r = check(call())
        assert r.status_code == 400, (name, r.text)
    assert centre.repo.count() == 0
    assert {s.id for s in centre.repo.stations()} == {"V001", "BUS01"}

    # changeset.py: an HLC out of range was taken in. A wall past 2^63 overflowed clock_flags
    # (500 on SQLite; on PostgreSQL a 400 that refused the whole batch); a counter of 2^64-1
    # within the skew window was adopted by the centre's clock, and every staff decision
    # after it was a 500.
    good = sealed(v001)[1]
    far = _with_clock(centre, v001, 2**64 - 1, 0)
    poison = _with_clock(centre, v001, centre.now_ms() + 3_600_000, 2**64 - 1)
    reply = check(client.post("/v1/bundle", content=pack(SCB1, [far, poison, good]))).json()
    assert reply["accepted"] == [read_header(good).changeset_id], reply
    assert [r["id"] for r in reply["refused"]] == [read_header(b).changeset_id
                                                   for b in (far, poison)]
    record = decode_changeset(open_changeset(good, read_header(good), centre.keys.seal)).record
    r = check(client.post("/v1/staff/decide", headers=staff, json={
        "receipt": v001.get(record).receipt, "outcome": "completed", "reason": "材料齐全"}))
    assert r.status_code == 200, r.text
