"""Sealed, signed changesets: what the outbox holds and what push and bundles carry.

Layout (all integers big-endian)::

    "SC" | version=1 | changeset id (16) | station (1-byte length + ASCII) | key id (8)
         | payload length (4) | payload = HPKE(enc ‖ ciphertext) | Ed25519 signature (64)

The header is in the clear because it holds nothing personal, and because a failure must name
the changeset and station without anyone's private key (DESIGN §7). The signature covers
header and payload; the header is also the HPKE ``info``, so a payload cannot be moved under
another header. The centre checks the signature first, then opens.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from station.wire.errors import BadSignature, CannotOpen, Malformed
from station.wire.keys import OpenFailed, SealKey, Signer, key_id, seal, verify

MAGIC = b"SC"
VERSION = 1
SIG_LEN = 64
MAX_SEALED = 512 * 1024
_INFO = b"station/changeset/v1|"


@dataclass(frozen=True)
class SealedHeader:
    changeset_id: str
    station: str
    key_id: bytes
    payload_start: int
    payload_end: int


def _header(changeset_id: str, station: str, kid: bytes) -> bytes:
    st = station.encode("ascii")
    return MAGIC + bytes([VERSION]) + uuid.UUID(changeset_id).bytes + bytes([len(st)]) + st + kid


def seal_changeset(encoded: bytes, *, changeset_id: str, station: str, signer: Signer,
                   centre_public: bytes) -> bytes:
    """Seal ``encoded`` (``codec.encode_changeset``) to the centre and sign it as ``station``."""
    head = _header(changeset_id, station, key_id(centre_public))
    payload = seal(encoded, centre_public, info=_INFO + head)
    body = head + struct.pack(">I", len(payload)) + payload
    return body + signer.sign(body)


def read_header(blob: bytes) -> SealedHeader:
    """Parse the clear header, refusing anything truncated or not ours."""
    if len(blob) > MAX_SEALED:
        raise Malformed(what="sealed changeset", detail="too large")
    if len(blob) < 3 + 16 + 1 + 8 + 4 + SIG_LEN or blob[:2] != MAGIC:
        raise Malformed(what="sealed changeset", detail="not a station changeset")
    if blob[2] != VERSION:
        raise Malformed(what="sealed changeset", detail=f"unknown version {blob[2]}")
    cid = str(uuid.UUID(bytes=blob[3:19]))
    n = blob[19]
    try:
        station = blob[20:20 + n].decode("ascii")
    except UnicodeDecodeError:
        raise Malformed(what="sealed changeset", detail="bad station id") from None
    pos = 20 + n
    if pos + 12 + SIG_LEN > len(blob):
        raise Malformed(what=f"sealed changeset {cid}", detail="truncated or padded")
    kid = blob[pos:pos + 8]
    (length,) = struct.unpack(">I", blob[pos + 8:pos + 12])
    start = pos + 12
    if start + length + SIG_LEN != len(blob):
        raise Malformed(what=f"sealed changeset {cid}", detail="truncated or padded")
    return SealedHeader(cid, station, kid, start, start + length)


def verify_changeset(blob: bytes, station_public: bytes) -> SealedHeader:
    """Check the station's signature; raise ``BadSignature`` naming changeset and station."""
    head = read_header(blob)
    if not verify(station_public, blob[-SIG_LEN:], blob[:-SIG_LEN]):
        raise BadSignature(what="changeset", item=head.changeset_id, station=head.station)
    return head


def open_changeset(blob: bytes, head: SealedHeader, key: SealKey) -> bytes:
    """Open a verified sealed changeset with the centre's key: the encoded changeset."""
    if key_id(key.public_bytes()) != head.key_id:
        raise CannotOpen(what="changeset", item=head.changeset_id, station=head.station,
                         detail="it was sealed to another centre key")
    try:
        return key.open(blob[head.payload_start:head.payload_end],
                        info=_INFO + blob[:head.payload_start - 4])
    except OpenFailed as exc:
        raise CannotOpen(what="changeset", item=head.changeset_id, station=head.station,
                         detail=str(exc)) from None
