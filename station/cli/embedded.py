"""An embedded town centre: the real centre (``station.centre.serve.build``) served by uvicorn
in a daemon thread on 127.0.0.1, for ``station demo``.

It is the same code as ``station centre serve`` — same keys, same SQLite storage, same HTTP
API — only hosted in this process: the socket is bound before the app is built (so the
enrollment codes carry the port really listened on, and no other process can take it in
between), the keys are protected by a random key file (mode 0600) in the centre's home, and
its logs go to ``centre.log`` there, never to the terminal the app draws on. ``stop`` asks
uvicorn to finish, waits for the thread, and closes the centre; it is safe to call twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from station.centre.keys import Protector
from station.centre.serve import STAFF_TOKEN, CentreConfig, JsonLines, build
from station.centre.service import Centre
from station.domain.errors import StationError

KEY_FILE = "centre.keyfile"
LOG_FILE = "centre.log"
_LOGGERS = ("station.centre", "uvicorn", "uvicorn.error", "uvicorn.access")


class EmbeddedCentreFailed(StationError):
    code = "cli.demo.centre"
    zh = "演示用的镇中心无法启动：{detail_zh}"
    en = "The demo's town centre could not start: {detail}"


class EmbeddedCentre:
    """A running centre on loopback; ``url`` is where stations reach it."""

    def __init__(self, home: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.home = home
        self.host = host
        self.port = port
        self.centre: Centre | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._log: logging.Handler | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.home / KEY_FILE

    @property
    def log_file(self) -> Path:
        return self.home / LOG_FILE

    @property
    def staff_token(self) -> str:
        return (self.home / STAFF_TOKEN).read_text(encoding="utf-8").strip()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout_s: float = 20.0) -> EmbeddedCentre:
        import uvicorn

        self.home.mkdir(parents=True, exist_ok=True)
        if not self.key_file.exists():
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
        self._quiet_logs()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            self.port = sock.getsockname()[1]
            config = CentreConfig(self.home, host=self.host, port=self.port,
                                  protector=Protector(key_file=self.key_file),
                                  check_processes=1)  # a demo: no pool of checker processes
            self.centre, app = build(config)
            server_config = uvicorn.Config(app, log_config=None, access_log=False,
                                           server_header=False, lifespan="on")
            self._server = uvicorn.Server(server_config)
        except BaseException as exc:
            sock.close()
            self._close_centre()
            if isinstance(exc, StationError):
                raise
            said = f"{type(exc).__name__}: {exc}"
            raise EmbeddedCentreFailed(detail=said, detail_zh=f"程序报告（{said}）") from exc
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name="embedded-centre")
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedCentreFailed(detail=f"see {self.log_file}",
                                           detail_zh=f"详见 {self.log_file}")
            time.sleep(0.02)
        return self

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except BaseException:  # logged to the file; start() or stop() reports it
            logging.getLogger("station.centre").exception("embedded centre stopped")
        finally:
            sock.close()

    def _quiet_logs(self) -> None:
        """Everything the centre and uvicorn log goes to ``centre.log``, not the terminal."""
        handler = logging.FileHandler(self.log_file, encoding="utf-8")
        handler.setFormatter(JsonLines())
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.propagate = False
            logger.setLevel(logging.INFO)
        self._log = handler

    def enroll_code(self, station: str, scope: Sequence[str] = (),
                    expires_s: int = 3600) -> str:
        """A one-time enrollment code, as the centre's staff would issue it."""
        assert self.centre is not None, "start() first"
        return self.centre.enroll_code(station, scope, expires_s)

    def decide(self, receipt: str, outcome: str, *, reason: str = "",
               staff: str = "镇便民服务中心 张丽") -> dict[str, Any]:
        """A staff decision (办结 / 退回) that flows down to the station on its next pull."""
        assert self.centre is not None, "start() first"
        return self.centre.decide(receipt, outcome, reason=reason, staff=staff)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, wait for the thread, close the centre. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self._close_centre()
        if self._log is not None:
            for name in _LOGGERS:
                logger = logging.getLogger(name)
                if self._log in logger.handlers:
                    logger.removeHandler(self._log)
            self._log.close()
            self._log = None

    def _close_centre(self) -> None:
        if self.centre is not None:
            try:
                self.centre.close()
            finally:
                self.centre = None

    def __enter__(self) -> EmbeddedCentre:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
