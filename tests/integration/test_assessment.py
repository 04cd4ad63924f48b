"""The test: start, resume, answers one by one, deadline kept by the server, scoring."""

from __future__ import annotations

from prakerja.domain.assessment import load_bank
from tests.integration.support import sign_in, sign_up, verified_applicant

TICK = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def best_answers(question_ids: list[str]) -> dict[str, str]:
    """The right option for ability items and the most motivated one for Likert items."""
    bank = {q.question_id: q for q in load_bank().items}
    out = {}
    for qid in question_ids:
        q = bank[qid]
        if q.correct:
            out[qid] = q.correct
        else:
            out[qid] = q.options[0 if q.reverse else -1].option_id
    return out


def test_the_test_needs_a_verified_email(stack):
    sign_up(stack, "a@example.id")
    r = stack.call("POST", "/v1/me/assessment", token=sign_in(stack, "a@example.id")["access_token"])
    assert r.status == 403 and r.body["code"] == "EMAIL_NOT_VERIFIED"


def test_start_gives_questions_without_answers_and_a_server_deadline(stack):
    token = verified_applicant(stack, "b@example.id")
    r = stack.call("POST", "/v1/me/assessment", token=token)
    assert r.status == 200 and r.body["deadline_at"] == "2026-04-11T03:15:00Z"
    assert len(r.body["questions"]) == 15
    assert all("correct" not in q and "options" in q for q in r.body["questions"])
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["assessment"]["status"] == "IN_PROGRESS"


def test_a_resumed_test_after_a_dropped_connection_keeps_questions_and_answers(stack, clock):
    token = verified_applicant(stack, "c@example.id")
    first = stack.call("POST", "/v1/me/assessment", token=token).body
    q = first["questions"][0]
    stack.call("PUT", f"/v1/me/assessment/answers/{q['question_id']}", {"option_id": q["options"][1]["option_id"]},
               token=token)
    clock.advance(300)
    again = stack.call("POST", "/v1/me/assessment", token=token).body
    assert [x["question_id"] for x in again["questions"]] == [x["question_id"] for x in first["questions"]]
    assert again["answers"] == {q["question_id"]: q["options"][1]["option_id"]}
    assert again["seconds_left"] == 600


def test_the_best_answers_pass_and_submit_is_idempotent(stack):
    token = verified_applicant(stack, "d@example.id")
    ids = [q["question_id"] for q in stack.call("POST", "/v1/me/assessment", token=token).body["questions"]]
    r = stack.call("POST", "/v1/me/assessment/submit", {"answers": best_answers(ids)}, token=token)
    assert r.status == 200 and r.body == {"score": 100, "passed": True}
    assert stack.call("POST", "/v1/me/assessment/submit", {"answers": {}}, token=token).body == r.body
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["assessment"]["status"] == "PASSED"


def test_unknown_questions_and_options_are_refused(stack):
    token = verified_applicant(stack, "e@example.id")
    q = stack.call("POST", "/v1/me/assessment", token=token).body["questions"][0]
    r = stack.call("PUT", f"/v1/me/assessment/answers/{q['question_id']}", {"option_id": "zz"}, token=token)
    assert r.status == 422 and r.body["code"] == "OPTION_INVALID"
    r = stack.call("PUT", "/v1/me/assessment/answers/NOPE", {"option_id": "a"}, token=token)
    assert r.status == 422 and r.body["code"] == "QUESTION_INVALID"


def test_answers_after_the_deadline_are_refused_with_test_expired(stack, clock):
    token = verified_applicant(stack, "f@example.id")
    q = stack.call("POST", "/v1/me/assessment", token=token).body["questions"][0]
    clock.advance(15 * 60 + 121)
    token = sign_in(stack, "f@example.id")["access_token"]  # clients refresh their short-lived token
    r = stack.call("PUT", f"/v1/me/assessment/answers/{q['question_id']}", {"option_id": "a"}, token=token)
    assert r.status == 410 and r.body["code"] == "TEST_EXPIRED"
    late = stack.call("POST", "/v1/me/assessment/submit", {"answers": {q["question_id"]: "a"}}, token=token)
    assert late.status == 410 and late.body["code"] == "TEST_EXPIRED"


def test_the_tick_scores_a_test_that_was_never_submitted(stack, clock):
    # Given an applicant who saved the right answers but never submitted
    token = verified_applicant(stack, "g@example.id")
    ids = [q["question_id"] for q in stack.call("POST", "/v1/me/assessment", token=token).body["questions"]]
    for qid, option in best_answers(ids).items():
        stack.call("PUT", f"/v1/me/assessment/answers/{qid}", {"option_id": option}, token=token)
    # When the deadline and grace pass and the tick runs (twice)
    clock.advance(15 * 60 + 121)
    assert stack.registry.invoke("BatchTickFunction", TICK)["tests_scored"] == 1
    assert stack.registry.invoke("BatchTickFunction", TICK)["tests_scored"] == 0
    token = sign_in(stack, "g@example.id")["access_token"]
    # Then the saved answers were scored
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["assessment"]["status"] == "PASSED"
    assert stack.call("POST", "/v1/me/assessment/submit", token=token).body == {"score": 100, "passed": True}
