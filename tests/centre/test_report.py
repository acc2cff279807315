"""The centre's monthly figures across stations (issue 8), on both back ends."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator

import pytest

from station.sync.engine import pull, push
from tests.conftest import FakeNow

from .helpers import application, enrolled, link

BEIJING = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime.now(BEIJING).date()  # the centre dates decisions by China's calendar
MONTH = TODAY.strftime("%Y-%m")


def test_the_centre_reports_the_month_by_station_and_matter(centre_app, staff_headers,
                                                            tmp_path):
    _, client = centre_app
    v1 = enrolled(client, staff_headers, tmp_path, "V001")
    v2 = enrolled(client, staff_headers, tmp_path, "V002")
    done = application(v1)
    application(v1, matter="HJ-001")
    application(v2)
    for st in (v1, v2):
        push(st.sync, link(client, st))
    reply = client.post("/v1/staff/decide", headers=staff_headers,
                        json={"receipt": done.receipt, "outcome": "completed"})
    assert reply.status_code == 200, reply.text
    pull(v1.sync, link(client, v1), station=v1)
    assert v1.get(done.id).fields["closed_on"] == TODAY.isoformat()

    everyone = client.get("/v1/staff/report", params={"month": MONTH},
                          headers=staff_headers).json()["figures"]["all"]
    assert (everyone["received"], everyone["active"], everyone["completed"]) == (3, 3, 1)
    assert abs(everyone["completion_rate"] - 1 / 3) < 1e-9
    by_station = client.get("/v1/staff/report", params={"month": MONTH, "by": "station"},
                            headers=staff_headers).json()["figures"]
    assert by_station["V001"]["completed"] == 1 and by_station["V002"]["completed"] == 0
    by_department = client.get("/v1/staff/report",
                               params={"month": MONTH, "by": "department"},
                               headers=staff_headers).json()["figures"]
    assert list(by_department) == ["县公安局户政管理大队"]
    # the station computes the same figures for its own records
    mine = v1.report()["all"]
    assert (mine.received, mine.completed) == (by_station["V001"]["received"], 1)
    v1.close()
    v2.close()


def test_report_parameters_are_checked(centre_app, staff_headers):
    _, client = centre_app
    assert client.get("/v1/staff/report", params={"month": "2026-13"},
                      headers=staff_headers).status_code == 400
    assert client.get("/v1/staff/report", params={"month": "2026-11", "by": "colour"},
                      headers=staff_headers).status_code == 400
    assert client.get("/v1/staff/report", params={"month": "2026-11"}).status_code == 403


@pytest.fixture
def utc_server() -> Iterator[None]:
    """The computer's zone set to UTC, as servers and containers usually are."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_a_decision_early_on_the_first_counts_in_its_own_month_on_a_utc_server(
        utc_server, centre_app, staff_headers, tmp_path):
    """Staff who decide a case at 07:30 on 1 December in Beijing closed it in December, though
    UTC is still on 30 November: the figures of both months must say so."""
    centre, client = centre_app
    v1 = enrolled(client, staff_headers, tmp_path, "V001", now=FakeNow())
    done = application(v1)
    push(v1.sync, link(client, v1))
    early = dt.datetime(2026, 12, 1, 7, 30, tzinfo=BEIJING)
    centre.now_ms = lambda: int(early.timestamp() * 1000)
    reply = client.post("/v1/staff/decide", headers=staff_headers,
                        json={"receipt": done.receipt, "outcome": "completed"})
    assert reply.status_code == 200, reply.text
    pull(v1.sync, link(client, v1), station=v1)
    assert v1.get(done.id).fields["closed_on"] == "2026-12-01"

    def completed(month: str) -> int:
        figures = client.get("/v1/staff/report", params={"month": month},
                             headers=staff_headers).json()["figures"]
        return int(figures["all"]["completed"])

    assert (completed("2026-11"), completed("2026-12")) == (0, 1)
    v1.close()


def test_the_centres_figures_say_how_many_counted_cases_have_open_conflicts(
        centre_app, staff_headers, tmp_path):
    """Two staff decided one case at once (completed and returned): the case is counted by
    the decision shown for now, and the report says it is one whose figures may change."""
    from station.wire.codec import encode_changeset
    from tests.store.test_conflicts import racing_decisions

    centre, client = centre_app
    v1 = enrolled(client, staff_headers, tmp_path, "V001")
    case = application(v1)
    application(v1)
    push(v1.sync, link(client, v1))
    (rec,) = centre.find_receipt(case.receipt)
    racing = racing_decisions(centre.projector.state(rec), centre.now_ms())
    with centre.repo.writing(centre.now_ms()) as tx:  # as each process writes its decision
        tx.append_many([centre._entry(tx, cs, encode_changeset(cs)) for cs in racing])

    reply = client.get("/v1/staff/report", params={"month": MONTH, "by": "station"},
                       headers=staff_headers).json()
    assert reply["conflicted"] == 1 and reply["figures"]["V001"]["conflicted"] == 1
    assert reply["figures"]["V001"]["received"] == 2  # counted as before
    assert client.post("/v1/staff/decide", headers=staff_headers, json={
        "receipt": case.receipt, "outcome": "completed"}).status_code == 200
    assert client.get("/v1/staff/report", params={"month": MONTH},
                      headers=staff_headers).json()["conflicted"] == 0
    v1.close()
