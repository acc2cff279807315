"""The real centre process under clients that misbehave on the wire: what its log shows and
that it keeps serving. No mocked server here."""

from __future__ import annotations

import json
import socket
import time

import httpx

from tests.e2e.conftest import LiveCentre


def log_lines(centre_log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in centre_log.splitlines() if line.startswith("{")]


def test_a_client_that_hangs_up_mid_upload_is_one_quiet_log_line(tmp_path,
                                                                  live_centre: LiveCentre):
    """A cut link mid-push used to log "Exception in ASGI application" with a traceback
    (RuntimeError: No response returned) for every such request: noise that hides real
    errors from whoever reads the centre's log."""
    log = tmp_path / "centre.log"
    paths = ("/v1/bundle", "/v1/push", "/v1/enroll")
    for path in paths:
        with socket.create_connection(("127.0.0.1", int(live_centre.url.rsplit(":", 1)[1])),
                                      timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                         .encode() + b"x" * 10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8")
        went = [line for line in log_lines(text) if line["msg"] == "client went away"]
        if len(went) == len(paths) or "Exception in ASGI application" in text:
            break
        time.sleep(0.1)
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text
    assert sorted(line["path"] for line in went) == sorted(paths)
    assert all(line["level"] == "INFO" for line in went)
    assert httpx.get(live_centre.url + "/v1/health", timeout=10).status_code == 200
