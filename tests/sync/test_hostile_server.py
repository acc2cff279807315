"""The station's HTTP link against a server that is not our centre (a Wi-Fi login page, a
proxy, a look-alike): every odd reply is one clear sentence and exit 3, never an
"Internal error", a crash or memory without end."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator

import pytest

from station.domain.errors import StationError
from station.store.service import Station
from station.store.vault import FAST_KDF
from station.sync.client import enroll
from station.sync.errors import BadReply, Refused
from station.sync.transport import CentreClient, patient
from tests.served import answering

Answer = Callable[[socket.socket], None]


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], str]]:
    """A server on 127.0.0.1 that answers every request with ``answer``; yields its URL."""
    with contextlib.ExitStack() as servers:

        def start(answer: Answer) -> str:
            def read_then_answer(conn: socket.socket) -> None:
                conn.recv(65536)
                answer(conn)

            return f"http://127.0.0.1:{servers.enter_context(answering(read_then_answer))}"

        yield start


def client(url: str) -> CentreClient:
    return CentreClient(url, retry=patient(attempts=1, within_s=5), max_reply=1 << 20)


def reply(head: str, body: bytes = b"") -> Answer:
    return lambda conn: conn.sendall(head.encode() + b"\r\n\r\n" + body)


def test_a_reply_without_end_is_cut_off_at_the_cap(hostile):
    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 17179869184\r\n\r\n")
        zeros = bytes(65536)
        while True:
            conn.sendall(zeros)

    with client(hostile(endless)) as link, pytest.raises(BadReply) as exc:
        link.request("GET", "/v1/health", signed=False)
    assert exc.value.exit_code == 3 and "larger than 1 MB" in exc.value.message("en")


def test_a_compressed_reply_is_refused_before_it_is_unpacked(hostile):
    url = hostile(reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4",
                        b"\x1f\x8b\x08\x00"))
    with client(url) as link, pytest.raises(BadReply) as exc:
        link.request("GET", "/v1/health", signed=False)
    assert "compressed" in exc.value.message("en")


@pytest.mark.parametrize("stamp", ["²³", "9" * 5000, "-5", "1e9"])
def test_an_absurd_centre_time_is_ignored(hostile, stamp):
    url = hostile(reply(f"HTTP/1.1 200 OK\r\nX-Centre-Time: {stamp}\r\nContent-Length: 2",
                        b"{}"))
    with client(url) as link:
        assert link.request("GET", "/v1/health", signed=False).content == b"{}"
        assert link.offset_ms == 0


@pytest.mark.parametrize("status", [403, 503])
def test_a_refusals_words_cannot_drive_the_terminal_or_run_on(hostile, status):
    """Anyone on a plain-HTTP path can word a refusal: an escape sequence in it (set the
    clipboard, rewrite the screen), a bidirectional override (reverse what is read) or a
    page of text must not reach the terminal the error is printed on."""
    evil = "拒收\x1b]52;c;cm0gLXJmIH4=\x07\u202eTXE\x1b[2J" + "很长" * 2000
    body = json.dumps({"error": {"code": "x", "zh": evil, "en": evil}}).encode()
    url = hostile(reply(f"HTTP/1.1 {status} No\r\nContent-Length: {len(body)}", body))
    with client(url) as link, pytest.raises(StationError) as exc:
        link.request("GET", "/v1/health", signed=False)
    words = [str(v) for v in exc.value.params.values()]
    assert any(w.startswith("拒收") for w in words)
    for text in words:
        assert not any(c in text for c in "\x1b\x07\u202e") and len(text) <= 500


@pytest.mark.parametrize("body", [b"<html>login</html>", b"[" * 100_000, b'{"error": 5}'])
def test_a_refusal_in_an_unknown_shape_still_reads_as_a_sentence(hostile, body):
    url = hostile(reply(f"HTTP/1.1 403 Forbidden\r\nContent-Length: {len(body)}", body))
    with client(url) as link, pytest.raises(Refused) as exc:
        link.request("GET", "/v1/health", signed=False)
    assert exc.value.message("en") == "The town centre refused: HTTP 403"


@pytest.mark.parametrize("body", [b"\xff\xfe\x00garbage", b"<html>Wi-Fi login</html>",
                                  b"[1, 2, 3]", b'{"centre": 5, "scope": []}',
                                  b'{"centre": {"sign_public": "zz", "seal_public": ""}}'])
def test_enrolling_with_a_server_that_is_not_a_centre_says_so(hostile, tmp_path, body):
    url = hostile(reply(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}", body))
    station, _ = Station.init(tmp_path / "s", station_id="V001", name="青石村", agent="李春梅",
                              passphrase="correct horse", kdf=FAST_KDF)
    with station:
        with pytest.raises(StationError) as exc:
            enroll(station, f"{url}#AAAA-BBBB-CCCC-DDDD/AAAA-BBBB-CCCC-DDDD")
        assert not station.sync.enrolled()
    assert isinstance(exc.value, BadReply) and "not understood" in exc.value.message("en")
