"""A link too slow for the station's timeouts says so in words a person can act on: which
way it stalled (sending, or waiting for the answer) and that the network is slow, in both
languages, as a ``CentreUnreachable`` (exit 3, the work kept for the next sync)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from station.sync.errors import CentreUnreachable
from station.sync.transport import CentreClient, patient
from tests.served import answering

QUICK = httpx.Timeout(connect=2.0, read=0.3, write=0.3, pool=2.0)


def impatient(port: int) -> CentreClient:
    return CentreClient(f"http://127.0.0.1:{port}", timeout=QUICK,
                        retry=patient(attempts=1, within_s=5))


def test_an_answer_that_does_not_come_in_time_says_the_network_is_slow():
    def silent(conn: socket.socket) -> None:  # takes the request, and answers nothing
        conn.recv(65536)
        time.sleep(2)

    with answering(silent) as port, impatient(port) as link, \
            pytest.raises(CentreUnreachable) as exc:
        link.request("GET", "/v1/health", signed=False)
    assert exc.value.exit_code == 3
    assert "no answer in time: a very slow network, or the centre is overloaded" in \
        exc.value.message("en")
    assert "等待镇中心应答超时：网络很慢，或镇中心太忙" in exc.value.message("zh")


def test_a_request_that_cannot_be_sent_in_time_says_sending_timed_out():
    def deaf(conn: socket.socket) -> None:  # takes the connection, and reads nothing
        time.sleep(2)

    body = bytes(64 << 20)  # more than the socket buffers hold: the writes must wait
    with answering(deaf) as port, impatient(port) as link, \
            pytest.raises(CentreUnreachable) as exc:
        link.request("POST", "/v1/push", body=body, signed=False)
    assert "sending timed out: the network is very slow" in exc.value.message("en")
    assert "发送超时：网络很慢" in exc.value.message("zh")
    assert "no answer" not in exc.value.message("en")
