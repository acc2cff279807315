"""Where a station's files live: ``--home``, else ``STATION_HOME``, else the platform data dir.

Several stations can live on one machine (the bus laptop carrying a colleague's bundle, a
trainer's demo) by giving each its own home. The transport credential — the key that signs
sync requests so unattended sync works while the vault is locked — is a separate file with
mode 0600, revocable at the centre; it protects no personal data.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import platformdirs

from station.store.errors import TransportKeyDamaged
from station.wire.keys import Signer

TRANSPORT_KEY = "transport.key"
CALENDAR_OVERRIDES = "calendar_overrides.json"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    if home:
        return Path(home).expanduser()
    env = os.environ.get("STATION_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("station", appauthor=False))


def write_atomic(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Write a file atomically: whole or not at all (a crash, a pulled-out USB stick), with
    at most ``mode`` (the umask may narrow it). A copy left by a crash is removed first:
    opening it again would keep its old, perhaps wider, mode. A write that fails leaves no
    partial copy."""
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a file just renamed into ``folder`` stay there: the new name is in the folder,
    and until the folder itself is synced it may be only in memory, so a USB stick pulled
    out after "exported" (or a power cut) could come back without the file. Windows cannot
    open a folder to sync it, and a few file systems refuse to (EINVAL): there the rename is
    as durable as the system makes it."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, whatever the umask, atomically (never a
    half-written key or export)."""
    write_atomic(path, data, 0o600)


def make_transport_key(home: Path) -> Signer:
    return put_transport_key(home, Signer.generate())


def put_transport_key(home: Path, signer: Signer) -> Signer:
    """Make ``signer`` the key this station's sync requests are signed with."""
    write_private(home / TRANSPORT_KEY, signer.private_bytes().hex().encode() + b"\n")
    return signer


def load_transport_key(home: Path) -> Signer:
    """The key that signs sync requests; a missing or garbled file is said as that, with
    where to get it back, rather than as an internal error."""
    path = home / TRANSPORT_KEY
    try:
        return Signer.from_bytes(bytes.fromhex(path.read_text(encoding="ascii").strip()))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        raise TransportKeyDamaged(path=str(path), home=str(home)) from None
