"""The vault: one data key per station, wrapped once per agent and once by a recovery key.

Like LUKS key slots: the 256-bit data key (DEK) never changes, so adding an agent or changing
a passphrase rewraps one slot and re-encrypts nothing. Each agent slot wraps the DEK with
AES-256-GCM under a key derived from the passphrase with Argon2id; the cost parameters are
stored in the slot, so a vault made with a low cost for tests or the demo (an explicit
``FAST_KDF``, never the default) still opens with the right parameters. The recovery key is
200 random bits shown once at init, in groups a person can copy by hand.

From the DEK, HKDF derives a separate key per purpose (record bodies, changesets, secrets,
drafts, the blind index, the marks of imported rows). Every body is AES-256-GCM with
associated data naming its row (table, id, version), so a ciphertext moved to another row, or
altered by one bit, fails to open and is reported as ``Tampered`` naming the row.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station.store.errors import (
    BadRecoveryKey,
    DamagedSlot,
    Tampered,
    WeakPassphrase,
    WrongPassphrase,
)

MIN_PASSPHRASE = 8
NONCE = 12
PURPOSES = ("records", "changesets", "secrets", "drafts", "labels", "held")  # AES-GCM keys
MAC_PURPOSES = ("blind-index", "import-rows", "held-marks")  # HMAC keys


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost, stored in each slot. ``DEFAULT_KDF`` takes ~0.3 s on a 2-core laptop."""

    memory_kib: int
    iterations: int
    lanes: int

    def to_json(self) -> str:
        return json.dumps({"alg": "argon2id", "m": self.memory_kib, "t": self.iterations,
                           "p": self.lanes}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KdfParams:
        """The cost a slot was made with. ``ValueError`` for one station never makes:
        cheaper than ``FAST_KDF`` (lowered so that guessing passphrases goes faster), beyond
        what a laptop can run (raised to exhaust its memory), or not Argon2id at all."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("alg") != "argon2id":
            raise ValueError("not an Argon2id slot")
        params = cls(int(data["m"]), int(data["t"]), int(data["p"]))
        if not (FAST_KDF.memory_kib <= params.memory_kib <= MAX_MEMORY_KIB
                and FAST_KDF.iterations <= params.iterations <= MAX_ITERATIONS
                and FAST_KDF.lanes <= params.lanes <= MAX_LANES):
            raise ValueError("cost outside what station makes")
        return params

    def derive(self, secret: bytes, salt: bytes) -> bytes:
        return Argon2id(salt=salt, length=32, iterations=self.iterations, lanes=self.lanes,
                        memory_cost=self.memory_kib).derive(secret)


DEFAULT_KDF = KdfParams(memory_kib=65536, iterations=3, lanes=4)
FAST_KDF = KdfParams(memory_kib=256, iterations=1, lanes=1)  # tests and the demo only
# Bounds on a stored cost: far above DEFAULT_KDF, below what would exhaust a laptop
MAX_MEMORY_KIB, MAX_ITERATIONS, MAX_LANES = 4 * 1024 * 1024, 64, 64


@dataclass(frozen=True)
class Slot:
    """One wrapping of the DEK: by an agent's passphrase (``agent``) or the recovery key."""

    label: str
    kind: str  # "agent" | "recovery"
    params: str  # KdfParams JSON for agent slots, "" for the recovery slot
    salt: bytes
    wrapped: bytes  # nonce ‖ AES-GCM(DEK)


def normalise_passphrase(passphrase: str, form: str = "NFKC") -> bytes:
    """NFKC-normalise so the same passphrase typed on another keyboard or IME still opens:
    a Chinese input method left in full-width mode types ｐａｓｓ and an ideographic
    space for the pass and space typed at set-up, which NFC keeps apart (as it is for the
    recovery key). A lone surrogate (what a paste of undecodable bytes becomes) is kept as
    its code point's bytes: such a passphrase is then simply wrong, never a crash."""
    return unicodedata.normalize(form, passphrase).encode("utf-8", "surrogatepass")


def check_passphrase(passphrase: str) -> None:
    if len(passphrase.strip()) < MIN_PASSPHRASE:
        raise WeakPassphrase(min=MIN_PASSPHRASE)


def _wrap(kek: bytes, dek: bytes, label: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(kek).encrypt(nonce, dek, b"keyslot|" + label.encode())


def _unwrap(kek: bytes, slot: Slot) -> bytes:
    return AESGCM(kek).decrypt(slot.wrapped[:NONCE], slot.wrapped[NONCE:],
                               b"keyslot|" + slot.label.encode())


def agent_slot(label: str, passphrase: str, dek: bytes, params: KdfParams) -> Slot:
    check_passphrase(passphrase)
    salt = os.urandom(16)
    kek = params.derive(normalise_passphrase(passphrase), salt)
    return Slot(label, "agent", params.to_json(), salt, _wrap(kek, dek, label))


def slot_params(slot: Slot) -> KdfParams:
    """An agent slot's cost, or ``DamagedSlot`` naming the agent: an altered cost is never
    used, and is not mistaken for a wrong passphrase."""
    try:
        return KdfParams.from_json(slot.params)
    except (ValueError, KeyError, TypeError):
        raise DamagedSlot(agent=slot.label) from None


def open_agent_slot(slot: Slot, passphrase: str) -> bytes:
    """The DEK, or ``WrongPassphrase``. Slots made before passphrases were NFKC-normalised
    hold the NFC form: a passphrase whose two forms differ is tried in that one as well,
    so no agent is locked out of a slot made by an earlier version."""
    params = slot_params(slot)
    forms = {normalise_passphrase(passphrase, form): None for form in ("NFKC", "NFC")}
    for secret in forms:
        try:
            return _unwrap(params.derive(secret, slot.salt), slot)
        except InvalidTag:
            continue
    raise WrongPassphrase()


# --- recovery key -------------------------------------------------------------------------

RECOVERY_LABEL = "recovery"
_RECOVERY_BYTES = 25  # 200 bits -> 40 base32 characters -> 8 groups of 5


def new_recovery_key() -> str:
    """A fresh recovery key as a person copies it: ``ABCDE-FGHIJ-…`` (8 groups of 5)."""
    text = base64.b32encode(os.urandom(_RECOVERY_BYTES)).decode()
    return "-".join(text[i:i + 5] for i in range(0, len(text), 5))


def parse_recovery_key(text: str) -> bytes:
    """Accept what a person typed: any case, spaces or dashes, 0/1/8 for O/I/B, and the
    full-width letters a Chinese input method in full-width mode types (ＡＢＣ)."""
    typed = unicodedata.normalize("NFKC", text).upper()
    cleaned = "".join(ch for ch in typed if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("018", "OIB"))
    if len(cleaned) != 40:
        raise BadRecoveryKey(detail=f"{len(cleaned)} of 40 characters",
                             detail_zh=f"应为 40 个字符，输入了 {len(cleaned)} 个")
    try:
        return base64.b32decode(cleaned)
    except ValueError:
        raise BadRecoveryKey(detail="characters outside A–Z and 2–7",
                             detail_zh="含有 A–Z 和 2–7 以外的字符") from None


def _recovery_kek(raw: bytes, salt: bytes) -> bytes:
    # 200 random bits need no slow KDF; HKDF separates it from every other use.
    return HKDF(hashes.SHA256(), 32, salt, b"station/v1/recovery").derive(raw)


def recovery_slot(recovery_key: str, dek: bytes) -> Slot:
    salt = os.urandom(16)
    kek = _recovery_kek(parse_recovery_key(recovery_key), salt)
    return Slot(RECOVERY_LABEL, "recovery", "", salt, _wrap(kek, dek, RECOVERY_LABEL))


def open_recovery_slot(slot: Slot, recovery_key: str) -> bytes:
    kek = _recovery_kek(parse_recovery_key(recovery_key), slot.salt)
    try:
        return _unwrap(kek, slot)
    except InvalidTag:
        raise BadRecoveryKey(detail="it belongs to another station or has a typo",
                             detail_zh="它属于别的站点，或有输错的字符") from None


# --- keys derived from the DEK -------------------------------------------------------------

def new_dek() -> bytes:
    return os.urandom(32)


class Keys:
    """Per-purpose keys derived from the DEK, and the AEAD and blind-index operations."""

    def __init__(self, dek: bytes) -> None:
        self.dek = dek
        self._aead = {p: AESGCM(self._derive(p)) for p in PURPOSES}
        self._mac = {p: self._derive(p) for p in MAC_PURPOSES}

    def _derive(self, purpose: str) -> bytes:
        return HKDF(hashes.SHA256(), 32, None, f"station/v1/{purpose}".encode()).derive(self.dek)

    def seal(self, purpose: str, plaintext: bytes, aad: str) -> bytes:
        nonce = os.urandom(NONCE)
        return nonce + self._aead[purpose].encrypt(nonce, plaintext, aad.encode())

    def open(self, purpose: str, blob: bytes, aad: str) -> bytes:
        try:
            return self._aead[purpose].decrypt(blob[:NONCE], blob[NONCE:], aad.encode())
        except (InvalidTag, ValueError):
            raise Tampered(row=aad) from None

    def blind(self, what: str, normalised: str) -> bytes:
        """HMAC-SHA256 token of a normalised ID number or phone, for exact look-up."""
        return hmac.digest(self._mac["blind-index"], f"{what}:{normalised}".encode(),
                           "sha256")[:16]

    def row_mark(self, canonical: bytes) -> bytes:
        """HMAC-SHA256 mark of an imported row's normalised content, so the same row
        imported again is known without keeping its content: under its own key, so a mark
        never equals a blind-index token, and without the data key nobody can test a guess
        of a name against it (G2)."""
        return hmac.digest(self._mac["import-rows"], canonical, "sha256")[:16]

    def held_mark(self, encoded: bytes) -> bytes:
        """HMAC-SHA256 mark of a changeset from the centre kept aside unread: the same one
        met again is kept once, and without the data key its bytes cannot be guessed at."""
        return hmac.digest(self._mac["held-marks"], encoded, "sha256")[:16]
