"""The service around the endpoints: health with the centre's time, Prometheus metrics, the
OpenAPI document, JSON errors for unknown routes, request bodies that never finish arriving,
and the whole loop a town centre runs."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from station.centre import app as centre_app_module
from station.domain.changeset import Op
from station.sync.client import enroll, parse_code
from station.sync.engine import pull, push
from station.sync.transport import CentreClient
from station.wire import auth
from tests.served import free_port

from .helpers import (
    URL,
    application,
    changeset,
    enrolled,
    error_of,
    issue_code,
    link,
    new_station,
    outbox_blobs,
    push_body,
    seal,
)


def test_health_tells_the_centre_time_backend_and_fingerprint(centre_app, db_url):
    centre, client = centre_app
    reply = client.get("/v1/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["ok"] is True
    assert abs(body["time"] - centre.now_ms()) < 5_000
    assert body["backend"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert body["fingerprint"] == centre.keys.fingerprint
    assert abs(int(reply.headers[auth.H_CENTRE_TIME]) - centre.now_ms()) < 5_000


def test_every_reply_carries_the_centre_time_even_a_refusal(centre_app):
    _, client = centre_app
    for reply in (client.get("/v1/nowhere"), client.post("/v1/push", content=b""),
                  client.get("/v1/pull")):
        assert 400 <= reply.status_code < 500
        assert reply.headers[auth.H_CENTRE_TIME].isdigit()


def test_unknown_routes_and_methods_are_json_errors_in_both_languages(centre_app):
    """The framework refuses these before any handler runs: they used to come back with the
    English text as the Chinese sentence too."""
    _, client = centre_app
    error = error_of(client.get("/v1/nowhere"), 404)
    assert error == {"code": "http.404", "zh": "找不到这个地址", "en": "Not Found"}
    reply = client.get("/v1/push")
    error = error_of(reply, 405)
    assert error["code"] == "http.405" and error["en"] == "Method Not Allowed"
    assert reply.headers["allow"] == "POST"
    as_json = {"Content-Type": "application/json"}
    for body in (b"\xff", b"[" * 100_000 + b"]" * 100_000):  # not UTF-8; nested too deep
        error = error_of(client.post("/v1/enroll", content=body, headers=as_json), 400)
        assert error["code"] == "http.400" and "请求格式不对" in error["zh"]
        assert error["en"] == "There was an error parsing the body"


def test_the_openapi_document_lists_the_json_and_binary_endpoints(centre_app):
    _, client = centre_app
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/v1/health", "/v1/enroll", "/v1/push", "/v1/pull", "/v1/bundle",
            "/v1/staff/enroll-code", "/v1/staff/revoke", "/v1/staff/decide",
            "/v1/staff/catalogue", "/v1/staff/stations"} <= paths
    push_body_schema = doc["paths"]["/v1/push"]["post"]["requestBody"]["content"]
    assert "application/octet-stream" in push_body_schema
    enroll_schema = doc["paths"]["/v1/enroll"]["post"]["requestBody"]["content"]
    assert "application/json" in enroll_schema


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_requests_pushes_stored_changesets_and_refusals(centre_app,
                                                                       staff_headers, tmp_path):
    centre, client = centre_app
    v1 = enrolled(client, staff_headers, tmp_path, "V001")
    application(v1)
    application(v1, name="张建国")
    forged = changeset(v1, [Op("set", "outcome", "completed")])
    blobs = [*outbox_blobs(v1), seal(forged, signer=v1.signer,
                                     centre_public=centre.keys.seal.public_bytes(),
                                     station="V001")]
    link(client, v1).request("POST", "/v1/push", body=push_body(blobs))
    pull(v1.sync, link(client, v1), station=v1)
    client.post("/v1/push", content=b"")  # unauthenticated

    text = client.get("/metrics").text
    assert metric(text, "station_pushes_total") == 1
    assert metric(text, "station_changesets_stored_total") == 2
    assert metric(text, "station_pulls_total") == 1
    assert metric(text, "station_refusals_total", '{reason="domain.centre_authority"}') == 1
    assert metric(text, "station_refusals_total", '{reason="centre.unauthenticated"}') == 1
    assert metric(text, "station_requests_total",
                  '{endpoint="/v1/push",status="200"}') == 1
    assert metric(text, "station_requests_total",
                  '{endpoint="/v1/push",status="401"}') == 1
    v1.close()


def test_an_enrollment_with_a_nul_byte_is_never_a_500(centre_app, staff_headers, tmp_path):
    """PostgreSQL text cannot hold a NUL (SQLite can): either way the client gets a 4xx or
    its enrollment, never a server error."""
    _, client = centre_app
    station = new_station(tmp_path, "V001")
    token = parse_code(issue_code(client, staff_headers, "V001"))[1]
    reply = client.post("/v1/enroll", json={
        "token": token, "station": "V001", "device": "V001-\x00",
        "sign_public": station.signer.public_bytes().hex(),
        "seal_public": station.seal_key.public_bytes().hex(),
        "transport_public": station.sync.transport().public_bytes().hex()})
    assert reply.status_code in (200, 400), reply.text
    if reply.status_code == 400:
        assert reply.json()["error"]["code"] == "centre.bad_request"
    for body in ({"station": "V\x00", "scope": []}, {"station": "V001", "scope": ["V\x001"]}):
        reply = client.post("/v1/staff/enroll-code", json=body, headers=staff_headers)
        assert 200 <= reply.status_code < 500
    for path, body in (("/v1/staff/revoke", {"station": "V\x001"}),
                       ("/v1/staff/decide", {"receipt": "V\x001", "outcome": "completed"})):
        reply = client.post(path, json=body, headers=staff_headers)
        assert reply.status_code < 500
        assert reply.status_code != 200 or reply.json()["revoked"] is False
    station.close()


@contextmanager
def served_here(app: Any) -> Iterator[int]:
    """The app under a real uvicorn on 127.0.0.1, in a thread of this process so a test can
    change the app module's settings; yields the port and stops the server on exit."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           lifespan="off", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield server.config.port
    finally:
        server.should_exit = True
        thread.join(10)


def read_reply(sock: socket.socket) -> httpx.Response:
    """One HTTP/1.1 reply with a Content-Length body, read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed without a reply: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    while len(body) < int(headers.get("content-length", "0")):
        body += sock.recv(65536)
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)


def test_a_body_that_stops_arriving_is_answered_408_instead_of_held_forever(centre_app,
                                                                           monkeypatch):
    """A client that announces 100 bytes and sends 3 (a cut link, a lying client) was waited
    on forever, one connection held per such request."""
    _, client = centre_app
    monkeypatch.setattr(centre_app_module, "BODY_TIMEOUT_S", 0.5)
    with served_here(client.app) as port, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /v1/bundle HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        reply = read_reply(sock)
    assert time.monotonic() - started < 5
    error = error_of(reply, 408)
    assert error["code"] == "centre.timeout" and "0.5 s" in error["en"]
    assert reply.headers[auth.H_CENTRE_TIME].isdigit()


def test_the_whole_loop(centre_app, staff_headers, tmp_path):
    """Enroll a village and a bus, push, the bus pulls the village's work, the centre decides,
    the village pulls the decision — what /tmp/smoke.py showed by hand."""
    _, client = centre_app
    village = new_station(tmp_path, "V001")
    record = application(village)  # before enrolling
    enroll(village, issue_code(client, staff_headers, "V001"), client=CentreClient(
        URL, client=client))
    bus = enrolled(client, staff_headers, tmp_path, "BUS01", ("V001", "V002"))
    assert push(village.sync, link(client, village)).pushed == 1
    pull(bus.sync, link(client, bus), station=bus)
    assert bus.get(record.id).fields["applicant.name"] == "王桂英"
    decided = client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": record.receipt, "outcome": "completed", "reason": "准予办理"})
    assert decided.status_code == 200
    pull(village.sync, link(client, village), station=village)
    pull(bus.sync, link(client, bus), station=bus)
    for station in (village, bus):
        got = station.get(record.id)
        assert got.status["to"] == "completed" and got.fields["outcome_reason"] == "准予办理"
    error = error_of(client.post("/v1/push", content=b"junk"), 401)
    assert error["code"] == "centre.unauthenticated"
    village.close()
    bus.close()
