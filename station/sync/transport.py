"""The HTTP link to the centre (httpx), with the errors translated at the boundary.

Timeouts are explicit for connect, read, write and pool. Requests that need a station's
identity are signed with the transport key over method, path, body digest, time and nonce;
the time is the centre's, as learned from the ``X-Centre-Time`` header of every reply (so a
laptop with a wrong clock still signs acceptable requests, and can warn its user).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from station.sync.errors import CentreUnreachable, Refused
from station.wire import auth
from station.wire.keys import Signer

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CentreClient:
    """One centre URL; optionally a station identity for signed requests."""

    def __init__(self, url: str, *, station: str | None = None, signer: Signer | None = None,
                 client: httpx.Client | None = None, offset_ms: int = 0,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.station = station
        self.signer = signer
        self.offset_ms = offset_ms  # centre time minus our time, learned from replies
        self.client = client or httpx.Client(timeout=timeout)
        self._own_client = client is None

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> CentreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, body: bytes = b"", signed: bool = True,
                params: dict[str, Any] | None = None,
                content_type: str = "application/octet-stream") -> httpx.Response:
        request = self.client.build_request(method, self.url + path, content=body,
                                            params=params,
                                            headers={"Content-Type": content_type})
        if signed:
            assert self.signer is not None and self.station is not None
            target = request.url.raw_path.decode()
            request.headers.update(auth.sign_request(
                self.signer, method=method, target=target, body=body,
                time_ms=wall_ms() + self.offset_ms, station=self.station))
        try:
            response = self.client.send(request)
        except httpx.TransportError as exc:
            raise CentreUnreachable(detail=type(exc).__name__) from exc
        self._learn_time(response)
        if response.status_code >= 500:
            raise CentreUnreachable(detail=f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response)
        return response

    def _learn_time(self, response: httpx.Response) -> None:
        stamp = response.headers.get(auth.H_CENTRE_TIME)
        if stamp and stamp.isdigit():
            self.offset_ms = int(stamp) - wall_ms()


def _refusal(response: httpx.Response) -> Refused:
    try:
        error = response.json()["error"]
        zh, en = str(error["zh"]), str(error["en"])
        code = str(error.get("code", ""))
    except (ValueError, KeyError, TypeError):
        zh = en = f"HTTP {response.status_code}"
        code = ""
    return Refused(zh_text=zh, en_text=en, status=response.status_code, centre_code=code)
