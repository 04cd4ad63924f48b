"""The retake policy: ``assessment_max_attempts`` (default 1) and ``assessment_retake_after_hours``."""

from __future__ import annotations

from prakerja.domain.assessment import load_bank
from tests.integration.support import sign_in, verified_applicant
from tests.integration.test_assessment import best_answers


def worst_answers(question_ids: list[str]) -> dict[str, str]:
    bank = {q.question_id: q for q in load_bank().items}
    out = {}
    for qid in question_ids:
        q = bank[qid]
        if q.correct:
            out[qid] = next(o.option_id for o in q.options if o.option_id != q.correct)
        else:
            out[qid] = q.options[-1 if q.reverse else 0].option_id
    return out


def allow_retakes(stack, attempts: int, after_hours: float) -> None:
    """Settings of the AssessmentFunction (read at its cold start, before its first call)."""
    env = stack.registry.environments["AssessmentFunction"]
    env["ASSESSMENT_MAX_ATTEMPTS"], env["ASSESSMENT_RETAKE_AFTER_HOURS"] = str(attempts), str(after_hours)


def take(stack, token: str, answers) -> dict:
    started = stack.call("POST", "/v1/me/assessment", token=token)
    assert started.status == 200, started.body
    ids = [q["question_id"] for q in started.body["questions"]]
    result = stack.call("POST", "/v1/me/assessment/submit", {"answers": answers(ids)}, token=token)
    assert result.status == 200, result.body
    return started.body | result.body


def test_by_default_a_failed_test_is_not_retaken(stack):
    token = verified_applicant(stack, "a@example.id")
    first = take(stack, token, worst_answers)
    assert first["passed"] is False and first["attempt"] == 1 and first["attempts_left"] == 0
    again = stack.call("POST", "/v1/me/assessment", token=token)
    assert again.status == 409 and again.body["code"] == "TEST_ALREADY_TAKEN"
    assert again.body["attempts_left"] == 0 and again.body["passed"] is False


def test_a_failed_test_is_retaken_after_the_wait_with_fresh_questions(stack, clock):
    # Given two attempts allowed, 24 hours apart, and a failed first attempt
    allow_retakes(stack, 2, 24)
    token = verified_applicant(stack, "b@example.id")
    first = take(stack, token, worst_answers)
    assert first["passed"] is False and first["attempts_left"] == 1
    # When the applicant starts again within the wait
    early = stack.call("POST", "/v1/me/assessment", token=token)
    # Then it is refused with the time the retake opens
    assert early.status == 409 and early.body["code"] == "TEST_RETAKE_NOT_YET"
    assert early.body["retake_at"] == "2026-04-12T03:00:00Z"
    # When the wait has passed
    clock.advance(24 * 3600)
    token = sign_in(stack, "b@example.id")["access_token"]
    second = stack.call("POST", "/v1/me/assessment", token=token)
    # Then a second attempt starts, with its own questions and deadline, and no answers yet
    assert second.status == 200 and second.body["attempt"] == 2 and second.body["attempts_left"] == 0
    assert second.body["answers"] == {} and second.body["seconds_left"] == 15 * 60
    assert [q["question_id"] for q in second.body["questions"]] != [q["question_id"] for q in first["questions"]]
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["assessment"]["status"] == "IN_PROGRESS"
    # And starting again resumes it rather than starting a third
    assert stack.call("POST", "/v1/me/assessment", token=token).body["attempt"] == 2
    ids = [q["question_id"] for q in second.body["questions"]]
    passed = stack.call("POST", "/v1/me/assessment/submit", {"answers": best_answers(ids)}, token=token)
    assert passed.body == {"score": 100, "passed": True}
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["assessment"]["status"] == "PASSED"
    # And the attempts are used up
    assert stack.call("POST", "/v1/me/assessment", token=token).body["code"] == "TEST_ALREADY_TAKEN"


def test_a_passed_test_is_never_retaken(stack, clock):
    allow_retakes(stack, 3, 0)
    token = verified_applicant(stack, "c@example.id")
    assert take(stack, token, best_answers)["passed"] is True
    again = stack.call("POST", "/v1/me/assessment", token=token)
    assert again.status == 409 and again.body["code"] == "TEST_ALREADY_TAKEN" and again.body["passed"] is True


def test_a_retake_after_an_expired_attempt_scored_by_the_tick(stack, clock):
    # Given an attempt never submitted, scored (FAILED) by the tick after the deadline
    allow_retakes(stack, 2, 0)
    token = verified_applicant(stack, "d@example.id")
    assert stack.call("POST", "/v1/me/assessment", token=token).status == 200
    clock.advance(15 * 60 + 121)
    tick = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert stack.registry.invoke("BatchTickFunction", tick)["tests_scored"] == 1
    # When the applicant comes back
    token = sign_in(stack, "d@example.id")["access_token"]
    again = stack.call("POST", "/v1/me/assessment", token=token)
    # Then the second attempt starts
    assert again.status == 200 and again.body["attempt"] == 2
