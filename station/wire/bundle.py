"""Bundle files: sealed changesets carried to town on a USB stick, and downlink carried back.

    "STB1" | header length (u32) | header (JSON) | items (framed) | SHA-256 of all before (32)

The header says which station it is from or for, what kind (``uplink`` or ``downlink``), how
many items, and — in an uplink bundle — a pull request signed with the station's transport
key, so whoever uploads it can fetch that station's downlink to carry back. The request also
names the changesets the bundle carries (ids only, at most ``MAX_NAMED``), so the centre can
say, inside the sealed and signed downlink, which of them it holds: a station that only ever
syncs by USB stick learns that way what has arrived. The header itself is written by
whoever carries the file and proves nothing; only the signed parts are trusted. The trailing
digest catches a truncated copy or a flipped bit before anything in the file is used; each
item is also signed on its own (changesets by the station, downlink batches by the centre).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Sequence
from typing import Any

from station.wire import auth
from station.wire.errors import WireError
from station.wire.framing import pack, unpack
from station.wire.keys import Signer, verify

MAGIC = b"STB1"
ITEMS = b"BITM"
MAX_ITEMS = 1_000_000
MAX_ITEM = 64 << 20
MAX_HEADER = 64 * 1024
# The largest bundle file read: a whole file is held in memory to check its digest, so a
# crafted stick (a sparse file of gigabytes) must not reach that. Real ones are far smaller
# (a changeset seals to about 0.5 kB, at most ~5 kB), and ``export_bundle`` keeps to it.
MAX_BUNDLE = 256 << 20
MAX_BUNDLE_ITEMS = MAX_BUNDLE - 4 * MAX_HEADER  # what export puts in, leaving room for the rest
# Changesets one pull request may name. Their ids (~40 bytes each in JSON) must keep the header
# under ``MAX_HEADER``, which older uploaders still enforce; a bigger outbox is acknowledged a
# thousand at a time, oldest first, one round trip each.
MAX_NAMED = 1000


class BundleDamaged(WireError):
    """A bundle cut short or changed on the way; ``detail``/``detail_zh`` say how."""

    code = "wire.bundle_damaged"
    zh = ("数据包 {path} 不完整或已被改动（{detail_zh}），未导入任何内容；请重新制作："
          "站点的数据包在站点重新导出，回传的数据包在镇上重新上传取回")
    en = ("The bundle {path} is incomplete or altered ({detail}); nothing in it was used. "
          "Make it again: a station's bundle by exporting it again at the station, a reply "
          "bundle by uploading again in town")


class NotABundle(BundleDamaged):
    """A file that does not even start as a bundle: the wrong file picked on the stick (a
    photo, a document), not a bundle damaged on the way, so "make it again" would mislead."""

    code = "wire.not_a_bundle"
    zh = ("{path} 不是站点数据包（也许选错了文件，比如一张照片），没有使用其中任何内容；"
          "请检查 U 盘上的文件是否选对：站点用 station bundle export 导出的文件，或镇上用 "
          "station bundle upload 取回的回传包")
    en = ("{path} is not a station bundle (perhaps the wrong file was chosen, such as a "
          "photo); nothing in it was used. Check that the right file on the USB stick "
          "was chosen: the one `station bundle export` wrote, or the reply `station bundle "
          "upload` saved")


class BundleTooBig(WireError):
    """A file far bigger than any bundle station makes: not read, so it cannot exhaust
    the memory of the laptop it is carried to."""

    code = "wire.bundle_too_big"
    zh = ("{path} 有 {size_mb} MB，远大于站点数据包（最多 {limit_mb} MB），不是站点导出或镇上取回的"
          "数据包，未读取也未导入任何内容；请检查 U 盘上的文件是否选对")
    en = ("{path} is {size_mb} MB, far bigger than a station bundle (at most {limit_mb} MB), so "
          "it is not one a station exported or town sent back; nothing was read or imported. "
          "Check that the right file on the USB stick was chosen")


def _damaged(path: str, zh: str, en: str) -> BundleDamaged:
    return BundleDamaged(path=path, detail_zh=zh, detail=en)


def too_big(path: str, size: int) -> BundleTooBig:
    return BundleTooBig(path=path, size_mb=f"{size / (1 << 20):,.0f}",
                        limit_mb=f"{MAX_BUNDLE >> 20}")


def write_bundle(header: dict[str, Any], items: list[bytes]) -> bytes:
    head = json.dumps({**header, "count": len(items)}, sort_keys=True).encode()
    body = MAGIC + struct.pack(">I", len(head)) + head + pack(ITEMS, items)
    return body + hashlib.sha256(body).digest()


def read_bundle(data: bytes, path: str = "-") -> tuple[dict[str, Any], list[bytes]]:
    """The header and items of an intact bundle, or ``BundleDamaged`` saying why not."""
    if not MAGIC.startswith(data[:4]):
        raise NotABundle(path=path)
    if len(data) < 8 + 32:  # an empty or cut-off copy of one
        raise _damaged(path, "文件被截断", "cut short")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise _damaged(path, "校验和不符：文件被截断或改动",
                       "checksum mismatch: truncated or altered")
    (length,) = struct.unpack_from(">I", body, 4)
    if length > MAX_HEADER or 8 + length > len(body):
        raise _damaged(path, "文件头有误", "bad header")
    try:
        header = json.loads(body[8:8 + length])
    except ValueError:
        raise _damaged(path, "文件头有误", "bad header") from None
    items = unpack(ITEMS, body[8 + length:], what="bundle", max_items=MAX_ITEMS,
                   max_item=MAX_ITEM)
    if not isinstance(header, dict) or header.get("count") != len(items):
        raise _damaged(path, "条目数不符", "item count does not match")
    return header, items


def _named(changesets: Sequence[str]) -> bytes:
    """The part of a pull request's signed message that names changesets: empty when it names
    none, so a request made before requests could name any still checks."""
    return json.dumps(list(changesets)).encode() if changesets else b""


def _pull_message(station: str, after: int, time_ms: int, nonce: str,
                  changesets: Sequence[str]) -> bytes:
    return auth.canonical("BUNDLE-PULL", f"after={after}", _named(changesets), time_ms, nonce,
                          station)


def signed_pull(signer: Signer, *, station: str, after: int, time_ms: int,
                changesets: Sequence[str] = ()) -> dict[str, Any]:
    """A request for this station's downlink after ``after``, for someone else to carry,
    asking too which of ``changesets`` (its own, in the same bundle) the centre holds."""
    request = auth.sign_request(signer, method="BUNDLE-PULL", target=f"after={after}",
                                body=_named(changesets), time_ms=time_ms, station=station)
    return {"station": station, "after": after, "time_ms": time_ms,
            "nonce": request[auth.H_NONCE], "signature": request[auth.H_SIGNATURE],
            "changesets": list(changesets)}


def check_pull(request: dict[str, Any], transport_public: bytes) -> bool:
    """Whether a carried pull request, with the changesets it names, was signed by that
    station's transport key."""
    changesets = request.get("changesets", [])
    if not isinstance(changesets, list) or not all(isinstance(c, str) for c in changesets):
        return False
    try:
        message = _pull_message(str(request["station"]), int(request["after"]),
                                int(request["time_ms"]), str(request["nonce"]), changesets)
        signature = base64.b64decode(str(request["signature"]), validate=True)
    except (KeyError, ValueError, TypeError, OverflowError):
        return False
    return verify(transport_public, signature, message)
