"""The servers the tests run for real, as subprocesses on 127.0.0.1 and a free port: started,
waited on and retried in one place, so that every such test does it the same way."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar, Self

import httpx
import pytest

from tests.conftest import stop_process


def free_port() -> int:
    """A port nothing listens on right now (another process may still take it before the
    server binds it: ``Served.start`` tries again then)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening() -> tuple[socket.socket, int]:
    """A socket already listening on 127.0.0.1 and its port, for a server in the test's own
    process: bound at once to a port the system picks, so no other test, in this process or
    a parallel worker, can take the port between choosing it and binding it."""
    server = socket.create_server(("127.0.0.1", 0))
    return server, int(server.getsockname()[1])


@contextlib.contextmanager
def answering(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server in this process on 127.0.0.1 that hands each connection to ``answer`` (in a
    daemon thread) and closes it after; yields its port. A connection the client drops, or
    a TLS handshake it refuses, ends quietly: the test looks at what the client says."""
    server, port = listening()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            with conn, contextlib.suppress(OSError):  # ssl.SSLError is an OSError too
                answer(conn)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield port
    finally:
        server.close()


class Served(ABC):
    """One server subprocess on 127.0.0.1 and a free port, its output in a log file. ``start``
    waits until it answers; when its output says the port was taken meanwhile (tests run in
    parallel), it starts it again on another port. A subclass gives the command and the probe."""

    label: ClassVar[str]  # what the failure message says did not come up
    busy: ClassVar[str]  # what the server's output says when its port was taken
    start_timeout: ClassVar[float] = 30.0
    stop_timeout: ClassVar[float] = 10.0
    cwd: ClassVar[Path | None] = None

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @abstractmethod
    def argv(self, port: int) -> list[str]:
        """The command that serves on ``port``."""

    @abstractmethod
    def answers(self) -> bool:
        """One readiness probe; an ``httpx.HTTPError`` counts as not yet."""

    def start(self) -> Self:
        for _attempt in range(3):  # a free port can be taken by someone else meanwhile
            self.port = free_port()
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(self.argv(self.port), stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             env=env, cwd=self.cwd)
            if self._up():
                return self
            self.stop()
            if self.busy not in self.output():
                break
        pytest.fail(f"`{self.label}` did not come up:\n{self.output()[-3000:]}")

    def _up(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                if self.answers():
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self) -> int | None:
        return None if self.proc is None else stop_process(self.proc, timeout=self.stop_timeout)
