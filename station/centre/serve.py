"""Running the centre: configuration, first-start set-up, JSON-lines logs, uvicorn.

Configuration comes from flags or the environment (``STATION_CENTRE_*``). On first start the
centre makes its keys (``centre.keys`` in its home, protected by a passphrase or a key file)
and the schema of its database. The staff token (for ``station centre decide`` and the other
staff commands) is derived from the centre's keys, so every process sharing the key file
accepts the same one; it is written to ``staff.token`` (mode 0600) in the centre's home.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.centre.app import create_app
from station.centre.keys import CentreKeys, KeyFileError, Protector, private_copy
from station.centre.repo import WAIT_S, open_repository
from station.centre.service import Centre
from station.wire.keys import SUITE_X25519

KEYS = "centre.keys"
STAFF_TOKEN = "staff.token"
SQLITE = "sqlite:///"


@dataclass
class CentreConfig:
    home: Path
    db: str = ""
    host: str = "127.0.0.1"
    port: int = 8700
    public_url: str = ""
    protector: Protector = field(default_factory=Protector)
    suite: int = SUITE_X25519
    workers: int = 1
    check_processes: int | None = None  # cores that check pushed changesets (None: all)
    # How worker processes open the keys again: ("key_file" | "passphrase_file", path).
    protector_file: tuple[str, Path] | None = None
    db_wait_s: float = WAIT_S  # a request's wait for the database before its 503

    def __post_init__(self) -> None:
        self.db = self.db or f"sqlite:///{self.home / 'centre.db'}"
        if self.db.startswith(SQLITE) and not Path(self.db[len(SQLITE):]).is_absolute():
            # in the home like the default, not wherever the server happened to be started:
            # started from another directory next time, it would open an empty database
            self.db = f"{SQLITE}{(self.home / self.db[len(SQLITE):]).absolute()}"
        self.public_url = self.public_url or f"http://{self.host}:{self.port}"

    def for_workers(self) -> str:
        if self.protector_file is None:
            raise KeyFileError.because("workers", self.home / KEYS)
        kind, path = self.protector_file
        return json.dumps({"home": str(self.home), "db": self.db, "host": self.host,
                           "port": self.port, "public_url": self.public_url,
                           "suite": self.suite, kind: str(path)})

    @classmethod
    def from_workers(cls, text: str) -> CentreConfig:
        data = json.loads(text)
        if "key_file" in data:
            protector = Protector(key_file=Path(data["key_file"]))
        else:
            passphrase = Path(data["passphrase_file"]).read_text(encoding="utf-8")
            protector = Protector(passphrase=(passphrase.splitlines() or [""])[0])
        return cls(Path(data["home"]), db=data["db"], host=data["host"], port=data["port"],
                   public_url=data["public_url"], protector=protector, suite=data["suite"])


def staff_token(keys: CentreKeys) -> str:
    digest = hmac.new(keys.storage, b"station/staff-token/v1", hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:32]


def build(config: CentreConfig) -> tuple[Centre, Any]:
    """The centre and its ASGI app, with keys, schema and staff token ready."""
    config.home.mkdir(parents=True, exist_ok=True)
    keys = CentreKeys.load_or_create(config.home / KEYS, config.protector, config.suite)
    repo = open_repository(config.db, wait_s=config.db_wait_s)
    centre = Centre(repo, keys, public_url=config.public_url,
                    check_processes=config.check_processes)
    token = staff_token(keys)
    _keep_token(config.home / STAFF_TOKEN, token)
    # Closed at the server's lifespan shutdown: uvicorn re-raises the SIGTERM that stopped it
    # once it has shut down, so code after ``uvicorn.run`` would never run and the
    # processes that check pushes would be left behind.
    return centre, create_app(centre, staff_token_hash=hashlib.sha256(token.encode()).digest(),
                              close_on_shutdown=True)


def _keep_token(path: Path, token: str) -> None:
    """Write the staff token unless the file already holds it. A file holding another one
    is stale (the home's centre.keys was replaced by the shared ones of the other centre
    processes, or restored from a backup): kept, every staff command was refused with
    'a valid staff token is needed' although the person used the file the centre wrote."""
    try:
        if path.read_text(encoding="utf-8").strip() == token:
            return
    except (OSError, UnicodeDecodeError):
        pass  # missing or unreadable: written below
    os.replace(private_copy(path, token + "\n"), path)


class JsonLines(logging.Formatter):
    """One JSON object per line: easy to ship, grep and parse."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname,
                               "logger": record.name, "msg": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


WORKER_CONFIG = "STATION_CENTRE_WORKER_CONFIG"


def worker_app() -> Any:
    """The app of one worker process when the centre runs several (uvicorn's factory)."""
    configure_logging()
    centre, app = build(CentreConfig.from_workers(os.environ[WORKER_CONFIG]))
    centre.opener.warm()
    return app


def serve(config: CentreConfig) -> None:
    """Run the centre. Keys, schema and staff token are made here, once, before any worker
    starts; with ``workers`` > 1 each worker process opens them again (the signature checks
    and HPKE opens of a push are CPU work that one Python process cannot spread over cores)."""
    import uvicorn

    configure_logging()
    centre, app = build(config)
    logging.getLogger("station.centre").info("starting", extra={"fields": {
        "url": config.public_url, "backend": centre.repo.backend, "workers": config.workers,
        "fingerprint": centre.keys.fingerprint}})
    options: dict[str, Any] = {"host": config.host, "port": config.port, "log_config": None,
                               "access_log": False, "server_header": False}
    if config.workers > 1:
        os.environ[WORKER_CONFIG] = config.for_workers()
        centre.close()
        uvicorn.run("station.centre.serve:worker_app", factory=True, workers=config.workers,
                    **options)
        return
    centre.opener.warm()
    try:
        uvicorn.run(app, **options)
    finally:
        centre.close()
