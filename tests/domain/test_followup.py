"""The monthly lists and figures on a hand-built month (November 2026), rule by rule."""

from __future__ import annotations

import datetime as dt

import pytest

from station.domain.followup import (
    AlreadyRated,
    Facts,
    Month,
    NotRatable,
    check_rating,
    due_lists,
    facts_from,
    figures,
)

NOV = Month(2026, 11)
TODAY = dt.date(2026, 11, 23)


def app(rid, status="received", **kw):
    return Facts(id=rid, kind="application", status=status, receipt=f"V001-{rid}", **kw)


def test_month_parsing_and_bounds():
    assert Month.parse("2026-02").last == dt.date(2026, 2, 28)
    assert Month.parse("2028-02").last == dt.date(2028, 2, 29)
    assert str(Month.parse("2026-1")) == "2026-01"
    for bad in ("2026-13", "26-11", "November", ""):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_promised_this_month_is_to_resolve_the_rest_to_contact_until_contacted():
    records = [
        app("a", received_on="2026-11-02", next_due="2026-11-30"),  # due 30 Nov: resolve
        app("b", received_on="2026-10-20", next_due="2026-12-01"),  # due 1 Dec: contact
        app("c", received_on="2026-10-01", next_due="2026-12-15",
            contact_months=("2026-11",)),                          # contacted: off the list
        app("d", received_on="2026-09-01", next_due="2026-10-31"),  # overdue since October
        app("e", status="completed", received_on="2026-11-01", closed_on="2026-11-05"),
        app("f", status="draft", received_on="2026-11-01", next_due="2026-11-20"),
        Facts(id="v", kind="visit", status="scheduled", next_due="2026-11-25"),
    ]
    lists = due_lists(records, NOV, TODAY)
    assert [r.id for r in lists.to_resolve] == ["a"]
    assert [r.id for r in lists.to_contact] == ["d", "b"]  # overdue first
    assert [r.id for r in lists.overdue] == ["d"]


def test_a_material_promised_for_this_month_makes_it_to_resolve():
    record = facts_from("application", "x", "V001", "awaiting_materials", {
        "promised_date": "2026-12-20", "materials.received": ["M01"],
        "materials.due.M03": "2026-11-28"})
    assert record.next_due == "2026-11-28"
    assert [r.id for r in due_lists([record], NOV, TODAY).to_resolve] == ["x"]
    done = facts_from("application", "x", "V001", "awaiting_materials", {
        "promised_date": "2026-12-20", "materials.received": ["M01", "M03"],
        "materials.due.M03": "2026-11-28"})
    assert done.next_due == "2026-12-20"  # the material came in: its date no longer counts


def test_month_boundaries_decide_which_month_a_case_counts_in():
    records = [
        app("oct31", status="completed", received_on="2026-10-31", closed_on="2026-11-01",
            promised_date="2026-11-10"),
        app("nov30", received_on="2026-11-30", next_due="2026-12-20",
            promised_date="2026-12-20"),
        app("dec01", received_on="2026-12-01", next_due="2026-12-20"),
    ]
    nov = figures(records, NOV, dt.date(2026, 12, 5))["all"]
    assert (nov.received, nov.active, nov.completed) == (1, 2, 1)
    oct_ = figures(records, Month(2026, 10), dt.date(2026, 12, 5))["all"]
    assert (oct_.received, oct_.active, oct_.completed) == (1, 1, 0)


def hand_built_month() -> list[Facts]:
    return [
        # received in Nov, completed in Nov on time
        app("r1", status="completed", received_on="2026-11-02", promised_date="2026-11-20",
            closed_on="2026-11-18", rating="good", rated_on="2026-11-19", matter="HJ-001"),
        # received in Nov, completed in Nov late
        app("r2", status="completed", received_on="2026-11-03", promised_date="2026-11-10",
            closed_on="2026-11-12", rating="poor", rated_on="2026-11-13", followup_open=True,
            matter="SB-001"),
        # received in Oct, still open, promised for December, contacted in Nov
        app("r3", received_on="2026-10-15", promised_date="2026-12-10", next_due="2026-12-10",
            contact_months=("2026-10", "2026-11"), matter="HJ-001"),
        # received in Oct, still open, promised for December, not contacted in Nov
        app("r4", received_on="2026-10-20", promised_date="2026-12-15", next_due="2026-12-15",
            contact_months=("2026-10",), matter="HJ-001"),
        # received in Nov, promised in Nov, still open: to resolve, not to contact
        app("r5", received_on="2026-11-10", promised_date="2026-11-30", next_due="2026-11-30",
            matter="SB-001"),
        # closed in October: not active in November
        app("r6", status="completed", received_on="2026-09-01", closed_on="2026-10-30",
            promised_date="2026-10-31"),
        # returned in November: active, not completed
        app("r7", status="returned", received_on="2026-11-01", closed_on="2026-11-04"),
        # voided: left out of everything
        app("r8", status="voided", received_on="2026-11-01", closed_on="2026-11-02"),
        # a visit rated average in November
        Facts(id="v1", kind="visit", status="done", rating="average", rated_on="2026-11-21"),
    ]


def test_each_figure_of_a_hand_built_month():
    f = figures(hand_built_month(), NOV, TODAY)["all"]
    assert f.received == 4  # r1 r2 r5 r7
    assert f.active == 6  # r1 r2 r3 r4 r5 r7
    assert f.completed == 2 and f.completed_on_time == 1
    assert f.completion_rate == pytest.approx(2 / 6)
    assert f.on_time_rate == pytest.approx(0.5)
    assert (f.to_contact, f.contacted) == (2, 1)  # r3 r4; r3 was contacted
    assert f.contact_rate == pytest.approx(0.5)
    assert (f.ratings, f.good, f.average, f.poor) == (3, 1, 1, 1)
    assert f.satisfaction_rate == pytest.approx(2 / 3)
    assert f.good_rate == pytest.approx(1 / 3)
    assert f.open_poor == 1


def test_figures_grouped_by_matter():
    by = figures(hand_built_month(), NOV, TODAY, by=lambda r: r.matter or "-")
    assert by["HJ-001"].completed == 1 and by["SB-001"].completed == 1
    assert by["SB-001"].on_time_rate == 0.0 and by["HJ-001"].on_time_rate == 1.0


def test_a_rate_with_nothing_to_divide_by_is_none_not_zero():
    f = figures([], NOV, TODAY)["all"]  # a station with nothing yet still has its figures
    assert (f.received, f.active) == (0, 0)
    assert f.completion_rate is None and f.satisfaction_rate is None
    empty = figures([app("x", received_on="2026-11-01", next_due="2026-11-30")], NOV, TODAY)
    assert empty["all"].on_time_rate is None and empty["all"].satisfaction_rate is None


def test_one_rating_per_finished_service():
    check_rating("application", "completed", None)
    check_rating("visit", "done", None)
    with pytest.raises(NotRatable) as exc:
        check_rating("application", "submitted", None)
    assert "已报送" in exc.value.message("zh")
    with pytest.raises(AlreadyRated) as exc:
        check_rating("application", "completed", {"grade": "good", "on": "2026-11-02"})
    assert "2026-11-02" in exc.value.message("en") and "满意" in exc.value.message("zh")


def test_a_month_not_begun_counts_nothing_yet():
    """Looking ahead to December on 23 November: no case is active in it and nobody is owed a
    December contact yet; today's open cases must not read as 0% done and 0% contacted."""
    dec = figures(hand_built_month(), Month(2026, 12), TODAY)["all"]
    assert (dec.received, dec.active, dec.completed, dec.to_contact) == (0, 0, 0, 0)
    assert dec.completion_rate is None and dec.contact_rate is None
    assert dec.open_poor == 1  # still today's: r2's follow-up is open


def test_a_past_months_lists_leave_out_cases_received_after_it():
    """On 2 December, November's lists: the case received on 1 December was not one of
    November's cases to contact; the one received on 30 November was."""
    records = [app("nov30", received_on="2026-11-30", next_due="2026-12-20"),
               app("dec01", received_on="2026-12-01", next_due="2026-12-20")]
    lists = due_lists(records, NOV, dt.date(2026, 12, 2))
    assert [r.id for r in lists.to_contact] == ["nov30"]
    assert [r.id for r in due_lists(records, Month(2026, 12), dt.date(2026, 12, 2)
                                    ).to_resolve] == ["dec01", "nov30"]
