"""The status lattice: progress never goes back by accident, and refusals say why."""

import pytest

from station.domain.errors import TransitionRefused
from station.domain.status import APPLICATION, VISIT, next_status


def start(to="received", rnd=0):
    return {"to": to, "round": rnd}


def test_forward_moves_are_allowed():
    assert next_status(APPLICATION, start("draft"), "received") == start("received")
    assert next_status(APPLICATION, start(), "submitted") == start("submitted")
    assert next_status(VISIT, {"to": "scheduled", "round": 0}, "done")["to"] == "done"


def test_going_backwards_is_refused_with_a_reason_in_both_languages():
    with pytest.raises(TransitionRefused) as exc:
        next_status(APPLICATION, start("in_review"), "received")
    assert "倒退" in exc.value.message("zh")
    assert "backwards" in exc.value.message("en")


def test_reopen_starts_a_new_round_that_outranks_the_old_one():
    reopened = next_status(APPLICATION, start("completed"), "reopened", reason="新材料")
    assert reopened["round"] == 1
    assert APPLICATION.key(reopened) > APPLICATION.key(start("completed"))
    again = next_status(APPLICATION, reopened, "received")
    assert APPLICATION.key(again) > APPLICATION.key(reopened)
    assert APPLICATION.key(again) > APPLICATION.key(start("returned"))


def test_only_finished_cases_can_be_reopened():
    with pytest.raises(TransitionRefused) as exc:
        next_status(APPLICATION, start("submitted"), "reopened")
    assert "reopened" in exc.value.message("en")


def test_voiding_needs_a_reason_and_outranks_everything():
    with pytest.raises(TransitionRefused):
        next_status(APPLICATION, start(), "voided")
    voided = next_status(APPLICATION, start(), "voided", reason="重复录入")
    assert voided["reason"] == "重复录入"
    assert APPLICATION.key(voided) > APPLICATION.key(start("completed", rnd=50))
    with pytest.raises(TransitionRefused) as exc:
        next_status(APPLICATION, voided, "received")
    assert "voided" in exc.value.message("en")


def test_unknown_and_same_status_refused():
    with pytest.raises(TransitionRefused):
        next_status(APPLICATION, start(), "finished")
    with pytest.raises(TransitionRefused):
        next_status(APPLICATION, start(), "received")
