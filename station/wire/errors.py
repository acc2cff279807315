"""Errors of the wire layer: what can be wrong with bytes that arrive from elsewhere.

Each names what it can (the changeset, the station) without needing anyone's private key, so
a refusal at the centre or at a station says which item failed and why (DESIGN §7).

    WireError
     ├── Malformed        not our format, truncated, or an unknown version
     ├── BadSignature     the signature does not verify: altered, or not from that key
     └── CannotOpen       the signature is fine but the sealed content does not open
"""

from __future__ import annotations

from station.domain.errors import StationError


class WireError(StationError):
    code = "wire.error"
    zh = "数据格式有误：{detail_zh}"
    en = "Bad data: {detail}"


class Malformed(WireError):
    code = "wire.malformed"
    zh = "数据不完整或格式不对（{what}）：{detail_zh}"
    en = "Truncated or malformed {what}: {detail}"


class BadSignature(WireError):
    code = "wire.bad_signature"
    zh = "{what} {item}（来自 {station}）的签名不符：内容被改动过，或不是该站点签发的"
    en = ("The signature of {what} {item} from {station} does not verify: it was altered "
          "or not signed by that station")


class CannotOpen(WireError):
    code = "wire.cannot_open"
    zh = "{what} {item}（来自 {station}）签名正确但无法解密：{detail_zh}"
    en = "{what} {item} from {station} is correctly signed but does not open: {detail}"
