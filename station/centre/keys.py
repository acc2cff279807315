"""The centre's keys, kept in one file protected by a passphrase or by a key file.

On first start the centre makes its Ed25519 signing key (it signs every downlink batch), its
HPKE key (stations seal changesets to it; X25519, or the hybrid MLKEM768_X25519 as an option)
and a storage key (AES-256-GCM for op bodies at rest). The file holds them encrypted:
AES-256-GCM under a key derived from a passphrase with Argon2id, or from a random key file
with HKDF (for unattended servers, where the key file sits on a separate mount). Several
centre processes behind a load balancer share the same file.

The fingerprint of the two public keys is what enrollment codes carry, so a station pins
the real centre even when the code is typed from paper.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from station.domain.errors import StationError, os_reason
from station.wire.keys import SUITE_X25519, SealKey, Signer, fingerprint

NONCE = 12


class KeyFileError(StationError):
    """The centre's keys cannot be opened at start: said in both languages with what the
    technician does about it (``because`` one of ``WHY``)."""

    code = "centre.key_file"
    zh = "无法打开镇中心密钥文件 {path}：{detail_zh}"
    en = "Cannot open the centre key file {path}: {detail}"
    WHY: ClassVar[dict[str, tuple[str, str]]] = {
        "wrong_key": ("口令或密钥文件不对：请用生成这些密钥时的口令或密钥文件"
                      "（这个文件是否来自另一个镇中心？）",
                      "wrong passphrase or key file: give the one these keys were made with "
                      "(is this file from another centre?)"),
        "needs_key_file": ("它由密钥文件保护：请用 --key-file 指定那个密钥文件",
                           "it is protected by a key file: give that file with --key-file"),
        "needs_passphrase": ("它由口令保护：请用 --key-passphrase-file 指定口令文件，"
                             "或在终端中运行以输入口令",
                             "it is protected by a passphrase: give --key-passphrase-file, or "
                             "run in a terminal to type it"),
        "damaged": ("文件已损坏或不是镇中心的密钥文件：请从备份恢复它",
                    "it is damaged or not a centre key file: restore it from a backup"),
        "workers": ("多个工作进程（--workers）需要用 --key-file 或 --key-passphrase-file "
                    "打开密钥，不能在终端输入口令",
                    "several workers (--workers) need --key-file or --key-passphrase-file to "
                    "open the keys, not a passphrase typed in a terminal"),
    }

    @classmethod
    def because(cls, why: str, path: Path | str) -> KeyFileError:
        """The error for one of the known reasons (``WHY``)."""
        zh, en = cls.WHY[why]
        return cls(path=str(path), why=why, detail=en, detail_zh=zh)

    @classmethod
    def unreadable_key_file(cls, key_file: Path, error: OSError) -> KeyFileError:
        """The key file itself (on its separate mount) cannot be read: named, with why."""
        zh, en = os_reason(error, reading=True)
        return cls(path="-", why="key_file", detail=f"the key file {key_file} cannot be read "
                   f"({en})", detail_zh=f"密钥文件 {key_file} 无法读取（{zh}）")

    def at(self, path: Path) -> KeyFileError:
        """This error, naming the centre's key file it was met opening."""
        return type(self)(**{**self.params, "path": str(path)})


def private_copy(path: Path, text: str) -> Path:
    """``text`` written and synced to a file beside ``path`` that only its owner can read,
    under a name no other process uses: the caller renames (or links) it into place, so a
    reader never meets a half-written key or token file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


@dataclass(frozen=True)
class Protector:
    """How the key file is protected: a passphrase (Argon2id) or a key file (HKDF)."""

    passphrase: str | None = None
    key_file: Path | None = None
    memory_kib: int = 65536  # the Argon2id cost for new files; tests pass a small one

    def key(self, params: dict[str, int | str], salt: bytes) -> bytes:
        if params["kdf"] == "keyfile":
            if self.key_file is None:
                raise KeyFileError.because("needs_key_file", "-")
            try:
                secret = self.key_file.read_bytes()
            except OSError as exc:  # e.g. the separate mount it lives on is not mounted
                raise KeyFileError.unreadable_key_file(self.key_file, exc) from None
            return HKDF(hashes.SHA256(), 32, salt, b"station/centre-keys").derive(secret)
        if self.passphrase is None:
            raise KeyFileError.because("needs_passphrase", "-")
        return Argon2id(salt=salt, length=32, iterations=int(params["t"]),
                        lanes=int(params["p"]), memory_cost=int(params["m"])
                        ).derive(self.passphrase.encode())

    def params(self) -> dict[str, int | str]:
        if self.key_file is not None:
            return {"kdf": "keyfile"}
        return {"kdf": "argon2id", "m": self.memory_kib, "t": 3, "p": 4}


@dataclass(frozen=True)
class CentreKeys:
    signer: Signer
    seal: SealKey
    storage: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signer.public_bytes(), self.seal.public_bytes())

    @classmethod
    def generate(cls, suite: int = SUITE_X25519) -> CentreKeys:
        return cls(Signer.generate(), SealKey.generate(suite), os.urandom(32))

    def _plain(self) -> bytes:
        return json.dumps({"sign": self.signer.private_bytes().hex(),
                           "seal": self.seal.private_bytes().hex(),
                           "storage": self.storage.hex()}).encode()

    def save(self, path: Path, protector: Protector, *, exclusive: bool = False) -> None:
        """Write the key file; with ``exclusive``, fail (FileExistsError) if one appeared
        meanwhile, so two processes starting at once cannot end up with different keys."""
        salt, nonce = os.urandom(16), os.urandom(NONCE)
        params = protector.params()
        key = protector.key(params, salt)
        blob = AESGCM(key).encrypt(nonce, self._plain(), b"station-centre-keys-v1")
        doc = {"version": 1, "params": params, "salt": salt.hex(), "nonce": nonce.hex(),
               "keys": blob.hex()}
        tmp = private_copy(path, json.dumps(doc))
        if exclusive:
            try:
                os.link(tmp, path)  # atomic, and refuses to replace a file already there
            finally:
                tmp.unlink()
        else:
            os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, protector: Protector) -> CentreKeys:
        try:
            doc = json.loads(path.read_text())
            salt, nonce = bytes.fromhex(doc["salt"]), bytes.fromhex(doc["nonce"])
            key = protector.key(doc["params"], salt)
            plain = json.loads(AESGCM(key).decrypt(nonce, bytes.fromhex(doc["keys"]),
                                                   b"station-centre-keys-v1"))
        except KeyFileError as exc:
            raise exc.at(path) from None
        except InvalidTag:
            raise KeyFileError.because("wrong_key", path) from None
        except OSError as exc:
            raise KeyFileError.reading(exc, path=str(path)) from None
        except (ValueError, KeyError, TypeError):
            raise KeyFileError.because("damaged", path) from None
        return cls(Signer.from_bytes(bytes.fromhex(plain["sign"])),
                   SealKey.from_bytes(bytes.fromhex(plain["seal"])),
                   bytes.fromhex(plain["storage"]))

    @classmethod
    def load_or_create(cls, path: Path, protector: Protector,
                       suite: int = SUITE_X25519) -> CentreKeys:
        if path.exists():
            return cls.load(path, protector)
        keys = cls.generate(suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            keys.save(path, protector, exclusive=True)
        except FileExistsError:  # another process made them first: use those
            return cls.load(path, protector)
        return keys
