"""The NIK worker's outcomes (issue 14, item 4): an Enum and a dataclass, logged as before."""

from __future__ import annotations

import pytest

from prakerja.services.nik_check import CheckOutcome, OutcomeKind, error_outcome, finished


@pytest.mark.parametrize(("outcome", "logged", "done"), [
    (CheckOutcome(OutcomeKind.VERIFIED), "VERIFIED", True),
    (CheckOutcome(OutcomeKind.REJECTED), "REJECTED", True),
    (CheckOutcome(OutcomeKind.STALE), "stale", True),
    (CheckOutcome(OutcomeKind.DONE), "done", True),
    (CheckOutcome(OutcomeKind.DEAD_LETTERED), "dead_lettered", True),
    (CheckOutcome(OutcomeKind.DEFERRED, "no_token"), "deferred:no_token", False),
    (CheckOutcome(OutcomeKind.DEFERRED, "ministry_http_503"), "deferred:ministry_http_503", False),
    (CheckOutcome(OutcomeKind.ERROR, "not_run"), "error:not_run", False),
])
def test_an_outcome_logs_as_the_old_string_and_says_whether_the_record_is_finished(outcome, logged, done):
    assert str(outcome) == logged
    assert outcome.finished is done and finished(outcome) is done


def test_an_error_outcome_carries_the_exception_type_never_its_message():
    outcome = error_outcome(KeyError("3201010101010001"))
    assert outcome == CheckOutcome(OutcomeKind.ERROR, "KeyError")
    assert "3201" not in str(outcome)


def test_a_ministry_answer_maps_onto_its_kind():
    assert OutcomeKind("VERIFIED") is OutcomeKind.VERIFIED and OutcomeKind("REJECTED") is OutcomeKind.REJECTED
