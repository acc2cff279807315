"""The HTTP link to the centre (httpx), with the errors translated at the boundary.

Timeouts are explicit for connect, read, write and pool. Transient failures (no connection,
timeouts, 5xx, 429/503) are retried with exponential back-off and jitter (tenacity),
honouring the centre's Retry-After; refusals (4xx) are final and carry the centre's own
sentence. Every retry re-signs the request (fresh time and nonce). Requests that need a station's
identity are signed with the transport key over method, path, body digest, time and nonce;
the time is the centre's, as learned from the ``X-Centre-Time`` header of every reply (so a
laptop with a wrong clock still signs acceptable requests, and can warn its user). A request
refused because the clock put it outside the centre's window is signed again once, in the
centre's time that refusal carried, so even the first request of a sync gets through.
"""

from __future__ import annotations

import re
import ssl
import time
import unicodedata
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from station.domain.errors import StationError
from station.sync.errors import (
    BadReply,
    CentreUnreachable,
    NoSuchPath,
    NotHttps,
    Refused,
    SyncError,
    Throttled,
    UntrustedCertificate,
)
from station.wire import auth
from station.wire.keys import Signer

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
# a reply larger than any batch the centre sends (a pull of 2 000 entries is a few MB)
MAX_REPLY = 64 << 20
MAX_SAID = 500  # characters of the centre's own sentence kept for a person to read
_MS = re.compile(r"[0-9]{1,16}")  # an X-Centre-Time in ms: ASCII digits, and not absurd
_API_PATH = re.compile(r"/v1(?:/[^?#]*)?/*$")


def centre_base(url: str) -> str:
    """The centre's address as requests are built on it: without a trailing slash, and
    without an API path pasted after it (``http://host:8700/v1/``, ``…/v1/health`` copied
    from a browser), which would otherwise be doubled into ``/v1/v1/push``. Any other path
    stays: a centre behind a reverse proxy may well live at ``http://host/centre``."""
    base = url.strip().rstrip("/")
    return _API_PATH.sub("", base) if _API_PATH.search(base) else base


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class CentreClient:
    """One centre URL; optionally a station identity for signed requests."""

    def __init__(self, url: str, *, station: str | None = None, signer: Signer | None = None,
                 client: httpx.Client | None = None, offset_ms: int = 0,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT,
                 retry: Retrying | None = None, max_reply: int = MAX_REPLY) -> None:
        self.url = centre_base(url)
        self.station = station
        self.signer = signer
        self.offset_ms = offset_ms  # centre time minus our time, learned from replies
        self.client = client or httpx.Client(timeout=timeout,
                                             headers={"Accept-Encoding": "identity"})
        self.max_reply = max_reply
        self._own_client = client is None
        self.retry = retry or patient(attempts=4, within_s=60)

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
        """One request, retried while the failure is transient (``retry`` decides how long)."""
        for attempt in self.retry:
            with attempt:
                return self._once(method, path, body=body, signed=signed, params=params,
                                  content_type=content_type)
        raise AssertionError("unreachable")  # pragma: no cover - Retrying re-raises

    def _once(self, method: str, path: str, *, body: bytes, signed: bool,
              params: dict[str, Any] | None, content_type: str) -> httpx.Response:
        """One exchange. A signed request the centre refused because our clock put it outside
        its time window is signed again, once, in the centre's time just learned from that
        refusal: a laptop whose clock is years off (a flat CMOS battery) still syncs on its
        first request of the day, instead of being refused until a second sync."""
        response, stamp = self._send(method, path, body=body, signed=signed, params=params,
                                     content_type=content_type)
        if stamp is not None and _clock_refused(response, stamp):
            response, _ = self._send(method, path, body=body, signed=signed, params=params,
                                     content_type=content_type)
        if response.status_code in (429, 503):
            raise Throttled(retry_after=_retry_after(response), **_reason(response))
        if response.status_code >= 500:
            raise CentreUnreachable(detail=f"HTTP {response.status_code}",
                                    detail_zh=f"镇中心出错，HTTP {response.status_code}")
        if response.status_code >= 400:
            raise _refusal(response, self.url, path)
        return response

    def _send(self, method: str, path: str, *, body: bytes, signed: bool,
              params: dict[str, Any] | None,
              content_type: str) -> tuple[httpx.Response, int | None]:
        """The reply (the centre's time learned from it), and the time the request was
        signed with, if it was signed."""
        request = self.client.build_request(method, self.url + path, content=body,
                                            params=params,
                                            headers={"Content-Type": content_type})
        stamp = None
        if signed:
            assert self.signer is not None and self.station is not None
            target = request.url.raw_path.decode()
            stamp = wall_ms() + self.offset_ms
            request.headers.update(auth.sign_request(
                self.signer, method=method, target=target, body=body, time_ms=stamp,
                station=self.station))
        try:
            response = _read_capped(self.client.send(request, stream=True), self.max_reply)
        except httpx.TransportError as exc:
            raise _tls_problem(exc, self.url) or _unreachable(exc) from exc
        self._learn_time(response)
        return response, stamp

    def _learn_time(self, response: httpx.Response) -> None:
        stamp = response.headers.get(auth.H_CENTRE_TIME, "")
        if _MS.fullmatch(stamp):
            self.offset_ms = int(stamp) - wall_ms()


def _clock_refused(response: httpx.Response, stamp: int) -> bool:
    """Whether the centre refused a request signed at ``stamp`` because that time was outside
    its window: a 401, and the reply's own centre time says the stamp was that far off."""
    centre = response.headers.get(auth.H_CENTRE_TIME, "")
    return (response.status_code == 401 and bool(_MS.fullmatch(centre))
            and abs(int(centre) - stamp) > auth.WINDOW_MS)


def _read_capped(response: httpx.Response, limit: int) -> httpx.Response:
    """The whole reply, read up to ``limit`` bytes: a hostile server streaming without end
    (or a compression bomb) is cut off with a ``BadReply``, not read until memory runs out.
    We ask for no compression, so a compressed reply is not our centre's either."""
    try:
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            raise BadReply(detail="it is compressed, which the centre never does",
                           detail_zh="回复经过压缩，而镇中心从不压缩")
        chunks, size = [], 0
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > limit:
                raise BadReply(detail=f"it is larger than {limit >> 20} MB",
                               detail_zh=f"回复超过 {limit >> 20} MB")
            chunks.append(chunk)
    finally:
        response.close()
    return httpx.Response(response.status_code, headers=response.headers,
                          content=b"".join(chunks), request=response.request,
                          extensions=response.extensions)


# what a person can do something about, for the ways a link fails (zh, en)
_WHY = ((httpx.ConnectTimeout, ("连接超时：网络很慢或镇中心地址不对",
                                "connecting timed out: a slow network or a wrong centre address")),
        (httpx.ConnectError, ("没有网络，或镇中心没有运行",
                              "no connection, or the town centre is not running")),
        # a slow link stalls either way: sending the request, or waiting for the answer
        (httpx.WriteTimeout, ("发送超时：网络很慢",
                              "sending timed out: the network is very slow")),
        (httpx.ReadTimeout, ("等待镇中心应答超时：网络很慢，或镇中心太忙",
                             "no answer in time: a very slow network, or the centre is "
                             "overloaded")),
        (httpx.TimeoutException, ("等待应答超时", "no answer in time")),
        (httpx.TransportError, ("连接中途断开", "the connection was cut")))


def _unreachable(exc: httpx.TransportError) -> CentreUnreachable:
    """The failure in words (not the exception's class name), with its name for support."""
    zh, en = next(words for kind, words in _WHY if isinstance(exc, kind))
    name = type(exc).__name__
    return CentreUnreachable(detail=f"{en}, {name}", detail_zh=f"{zh}，{name}")


# what a certificate check's verdict (OpenSSL's words) means, for the common ones (zh, en)
_CERT_WHY = (("self-signed", "自签证书，不是受信任的机构签发的"),
             ("expired", "证书已过期（也请看本机日期是否正确）"),
             ("not yet valid", "证书尚未生效（请看本机日期是否正确）"),
             ("hostname mismatch", "证书上的名字与地址不符"),
             ("local issuer", "签发证书的机构不受本机信任"))


def _tls_problem(exc: httpx.TransportError, url: str) -> StationError | None:
    """A failed TLS handshake in words, or None for any other failure. A certificate the
    computer does not trust, or an https address where the server speaks plain http, is
    no passing outage: saying "cannot reach" would send the agent to check the cable."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        en = str(cause.verify_message or cause.reason or "certificate verify failed")
        zh = next((words for key, words in _CERT_WHY if key in en.lower()), en)
        return UntrustedCertificate(url=url, detail=en, detail_zh=zh)
    if isinstance(cause, ssl.SSLError):
        reason = str(cause.reason or cause)
        return NotHttps(url=url, detail=reason, detail_zh=reason)
    return None


def _retry_after(response: httpx.Response) -> float:
    """Seconds the centre asked us to wait (a number; HTTP dates are not sent by our centre)."""
    try:
        return max(0.0, min(float(response.headers.get("retry-after", "1")), 600.0))
    except ValueError:
        return 1.0


class _BackOff(wait_base):
    """Exponential back-off with jitter, but never sooner than the centre's Retry-After."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.jitter = wait_exponential_jitter(multiplier=initial, max=maximum)

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.jitter(retry_state)
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), Throttled):
            delay = max(delay, float(outcome.exception().params["retry_after"]))
        return delay


def patient(*, attempts: int, within_s: float, initial_s: float = 0.5,
            max_wait_s: float = 30.0) -> Retrying:
    """Retry transient failures (never refusals) up to ``attempts`` times or ``within_s``."""
    return Retrying(retry=retry_if_exception_type(CentreUnreachable),
                    wait=_BackOff(initial_s, max_wait_s),
                    stop=stop_after_attempt(attempts) | stop_after_delay(within_s),
                    reraise=True)


def said(value: Any) -> str:
    """A sentence from a reply no signature vouches for (anyone on a plain-HTTP path can
    write it), as it may be printed on a terminal: control and format characters become
    spaces (an escape sequence could rewrite the screen or the clipboard, a bidirectional
    override reverse what is read), and it is cut to a sentence's length."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(value))
    return text[:MAX_SAID]


def _reason(response: httpx.Response) -> dict[str, str]:
    """The centre's own sentence for why it cannot serve now (``said_zh``, ``said_en``),
    if the reply carries one: the staff's commands show it ("all 10 connections busy" is
    not "the database may be down"). A sync only waits and tries again, so its words
    stay its own."""
    try:
        error = response.json()["error"]
        return {"said_zh": said(error["zh"]), "said_en": said(error["en"])}
    except (ValueError, KeyError, TypeError, RecursionError):
        return {}


def _refusal(response: httpx.Response, url: str, path: str) -> SyncError:
    """The centre's 4xx as its own sentence. A 404 the centre did not word itself (its
    framework's "Not Found" for a path it has no route for, or another server's page) means
    the address is wrong, which "the centre refused: Not Found" would not tell anyone."""
    try:
        error = response.json()["error"]
        zh, en = said(error["zh"]), said(error["en"])
        code = str(error.get("code", ""))
    except (ValueError, KeyError, TypeError, RecursionError):
        zh = en = f"HTTP {response.status_code}"
        code = ""
    if response.status_code == 404 and code in ("", "http.404"):
        return NoSuchPath(url=url, path=path)
    return Refused(zh_text=zh, en_text=en, status=response.status_code, centre_code=code)
