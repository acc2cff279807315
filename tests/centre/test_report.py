"""The centre's monthly figures across stations (issue 8), on both back ends."""

from __future__ import annotations

import datetime as dt

from station.sync.engine import pull, push

from .helpers import application, enrolled, link

MONTH = dt.date.today().strftime("%Y-%m")


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
    assert v1.get(done.id).fields["closed_on"] == dt.date.today().isoformat()

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
