"""Key material shared by station and centre: Ed25519 signatures and HPKE sealing (RFC 9180).

Sealing comes from ``cryptography``; Ed25519 from PyNaCl (libsodium, kept by the same PyCA
maintainers): checking one signature per changeset is the largest part of what a push costs
the centre, and libsodium's check takes 120 µs here where OpenSSL's takes 195 µs. The keys
and signatures are the same RFC 8032 bytes either way. Sealing uses a single-shot HPKE suite:
X25519 / HKDF-SHA256 / AES-256-GCM by default, or the hybrid post-quantum KEM
MLKEM768_X25519 as an option. A public key travels as bytes prefixed by its suite number, so
whoever pins it also pins which suite to use.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from station.wire.errors import Malformed

SUITE_X25519 = 1
SUITE_HYBRID = 2
SUITES = {
    SUITE_X25519: Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM),
    SUITE_HYBRID: Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM),
}
_MLKEM_PUB = 1184
_MLKEM_SEED = 64


class OpenFailed(Exception):
    """HPKE open failed (wrong key or altered ciphertext); callers name the item."""


# --- signatures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Signer:
    """An Ed25519 signing key (a station's identity, its transport credential, the centre)."""

    key: SigningKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(SigningKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> Signer:
        """From the 32-byte RFC 8032 private key (the seed)."""
        if len(raw) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        return cls(SigningKey(raw))

    def private_bytes(self) -> bytes:
        return bytes(self.key)

    def public_bytes(self) -> bytes:
        return bytes(self.key.verify_key)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data).signature


def verify(public: bytes, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` was made by the holder of ``public``."""
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        VerifyKey(public).verify(data, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


# --- sealing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SealKey:
    """A private HPKE key of one suite; ``public_bytes`` is what the other side pins."""

    suite: int
    private: x25519.X25519PrivateKey | MLKEM768X25519PrivateKey
    _raw: bytes = field(repr=False)  # the private key: never in a log line or traceback
    _public: bytes

    @classmethod
    def generate(cls, suite: int = SUITE_X25519) -> SealKey:
        if suite == SUITE_X25519:
            return cls.from_bytes(bytes([suite]) + x25519.X25519PrivateKey.generate()
                                  .private_bytes_raw())
        if suite == SUITE_HYBRID:
            seed = mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
            xk = x25519.X25519PrivateKey.generate().private_bytes_raw()
            return cls.from_bytes(bytes([suite]) + seed + xk)
        raise ValueError(f"unknown HPKE suite {suite}")

    @classmethod
    def from_bytes(cls, raw: bytes) -> SealKey:
        suite, body = raw[0], raw[1:]
        if suite == SUITE_X25519:
            xk = x25519.X25519PrivateKey.from_private_bytes(body)
            public = bytes([suite]) + xk.public_key().public_bytes_raw()
            return cls(suite, xk, raw, public)
        if suite == SUITE_HYBRID:
            mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(body[:_MLKEM_SEED])
            xk = x25519.X25519PrivateKey.from_private_bytes(body[_MLKEM_SEED:])
            public = (bytes([suite]) + mk.public_key().public_bytes_raw()
                      + xk.public_key().public_bytes_raw())
            return cls(suite, MLKEM768X25519PrivateKey(mk, xk), raw, public)
        raise ValueError(f"unknown HPKE suite {suite}")

    def private_bytes(self) -> bytes:
        return self._raw

    def public_bytes(self) -> bytes:
        return self._public

    def open(self, sealed: bytes, info: bytes) -> bytes:
        try:
            return SUITES[self.suite].decrypt(sealed, self.private, info=info)
        except (InvalidTag, ValueError) as exc:
            raise OpenFailed(str(exc) or type(exc).__name__) from None


def _public_key(public: bytes) -> tuple[int, x25519.X25519PublicKey | MLKEM768X25519PublicKey]:
    if not public:
        raise Malformed(what="public key", detail="empty")
    suite, body = public[0], public[1:]
    try:
        if suite == SUITE_X25519:
            return suite, x25519.X25519PublicKey.from_public_bytes(body)
        if suite == SUITE_HYBRID:
            mk = mlkem.MLKEM768PublicKey.from_public_bytes(body[:_MLKEM_PUB])
            xk = x25519.X25519PublicKey.from_public_bytes(body[_MLKEM_PUB:])
            return suite, MLKEM768X25519PublicKey(mk, xk)
    except ValueError as exc:
        raise Malformed(what="public key", detail=str(exc)) from None
    raise Malformed(what="public key", detail=f"unknown HPKE suite {suite}")


def seal(plaintext: bytes, public: bytes, info: bytes) -> bytes:
    """HPKE-seal ``plaintext`` to the holder of ``public`` (suite-prefixed), bound to ``info``."""
    suite, key = _public_key(public)
    try:
        return SUITES[suite].encrypt(plaintext, key, info=info)
    except ValueError as exc:  # e.g. a low-order X25519 point: no shared secret can come of it
        raise Malformed(what="public key", detail=str(exc)) from None


def key_id(public: bytes) -> bytes:
    """8 bytes naming a public key, so a sealed item says which key it needs."""
    return hashlib.sha256(public).digest()[:8]


def fingerprint(*publics: bytes) -> str:
    """A short, typeable fingerprint of one or more public keys: 16 base32 characters."""
    digest = hashlib.sha256(b"".join(publics)).digest()
    text = base64.b32encode(digest).decode()[:16]
    return "-".join(text[i:i + 4] for i in range(0, 16, 4))
