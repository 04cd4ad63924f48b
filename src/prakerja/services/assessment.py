"""The test step: start or resume, save answers one by one, submit, and score overdue tests.

The server keeps the deadline (``assessment_minutes``, 15 by default) and scores; correct answers
never leave it. Answers are accepted until the deadline plus ``assessment_grace_seconds``; after
that they are refused with TEST_EXPIRED and the tick scores the saved answers (no test stays
open forever). Submit is idempotent: a scored test returns its stored result.

Retakes: ``assessment_max_attempts`` attempts in all (default 1: no retake). After a FAILED
attempt, ``POST /v1/me/assessment`` starts the next one once ``assessment_retake_after_hours``
have passed since it was scored (before that: 409 TEST_RETAKE_NOT_YET with ``retake_at``); each
attempt draws its own questions (seed ``<applicant_id>:<attempt>``). A PASSED test, or the last
allowed attempt, answers 409 TEST_ALREADY_TAKEN.

Item ``APP#<id>`` / ``ASSESSMENT``: ``attempt`` (1, 2, ..), ``question_ids``, ``answers`` (map),
``started_at``, ``deadline_at``, ``status`` (IN_PROGRESS, PASSED, FAILED), ``score``,
``scored_at``, ``history`` (earlier attempts: attempt, score, status, started_at, scored_at);
while in progress the sparse ``due_shard``/``due_at`` attributes put it in ``DueIndex`` for the
tick.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

from prakerja import clock
from prakerja.adapters.assessment import AssessmentItems
from prakerja.domain import applicant as states
from prakerja.domain import assessment as rules
from prakerja.domain.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from prakerja.services.consent import require_active
from prakerja.services.wiring import Wiring

DUE_SHARDS = 8


class Assessments:
    """Use cases of the test step."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.bank = rules.load_bank()
        self.s = w.settings
        self.items = AssessmentItems(w.store)

    def start(self, applicant_id: str, lang: str = "id") -> dict[str, Any]:
        """Start the test, resume it, or start a retake when allowed: ``{questions, answers,
        deadline_at, seconds_left, status, attempt, attempts_left}``.

        Raises Forbidden(EMAIL_NOT_VERIFIED), Conflict(TEST_ALREADY_TAKEN | TEST_RETAKE_NOT_YET)."""
        store = self.w.store
        require_active(store.get_profile(applicant_id))
        item = store.assessment(applicant_id)
        now = clock.now()
        if item is None:
            profile = store.get_profile(applicant_id)
            if not profile or not states.email_verified(profile["steps"]):
                raise Forbidden("EMAIL_NOT_VERIFIED")
            item = self._create(applicant_id, now)
        if item["status"] != "IN_PROGRESS":
            item = self._retake(applicant_id, item, now)
        deadline = clock.parse_iso(item["deadline_at"])
        attempt = int(item.get("attempt", 1))
        return {"questions": rules.public_questions(self.bank, item["question_ids"], lang),
                "answers": item.get("answers") or {}, "deadline_at": item["deadline_at"],
                "seconds_left": max(0, int((deadline - now).total_seconds())), "status": item["status"],
                "attempt": attempt, "attempts_left": max(0, self.s.assessment_max_attempts - attempt)}

    def _attempt_item(self, applicant_id: str, attempt: int, now: datetime) -> dict:
        ids = rules.draw_questions(self.bank, seed=f"{applicant_id}:{attempt}")
        deadline = rules.deadline(now, self.s.assessment_minutes)
        due = deadline + timedelta(seconds=self.s.assessment_grace_seconds)
        return {"attempt": attempt, "question_ids": ids, "answers": {}, "started_at": clock.iso(now),
                "deadline_at": clock.iso(deadline), "status": "IN_PROGRESS",
                "due_shard": str(zlib.crc32(applicant_id.encode()) % DUE_SHARDS), "due_at": clock.iso(due)}

    def _create(self, applicant_id: str, now: datetime) -> dict:
        store = self.w.store
        item = self._attempt_item(applicant_id, 1, now)
        at = clock.iso(now)
        created = store.transact([
            self.items.first_attempt_item(applicant_id, item),
            store.step_update(applicant_id, "assessment", "IN_PROGRESS", None, at, {"NOT_STARTED"}),
        ])
        return item if created else (store.assessment(applicant_id) or item)

    def _retake(self, applicant_id: str, done: dict, now: datetime) -> dict:
        """The next attempt after a FAILED one, when the policy allows it now; else raises."""
        attempt = int(done.get("attempt", 1))
        attempts_left = max(0, self.s.assessment_max_attempts - attempt)
        result = {"score": done.get("score"), "passed": done["status"] == "PASSED", "attempt": attempt,
                  "attempts_left": attempts_left if done["status"] == "FAILED" else 0}
        if done["status"] != "FAILED" or not attempts_left:
            raise Conflict("TEST_ALREADY_TAKEN", detail=result)
        scored = clock.parse_iso(done.get("scored_at") or done["deadline_at"])
        retake_at = scored + timedelta(hours=self.s.assessment_retake_after_hours)
        if now < retake_at:
            raise Conflict("TEST_RETAKE_NOT_YET", detail=result | {"retake_at": clock.iso(retake_at)})
        store = self.w.store
        past = {k: done.get(k) for k in ("attempt", "score", "status", "started_at", "scored_at")}
        item = self._attempt_item(applicant_id, attempt + 1, now) | {"history": [*(done.get("history") or []), past]}
        started = store.transact([
            self.items.retake_item(applicant_id, item, attempt),
            store.step_update(applicant_id, "assessment", "IN_PROGRESS", None, clock.iso(now), {"FAILED"}),
        ])
        if started:
            return item
        again = store.assessment(applicant_id) or {}
        if again.get("status") == "IN_PROGRESS":  # a concurrent start won: resume it
            return again
        raise Conflict("TEST_ALREADY_TAKEN", detail=result)

    def _open_item(self, applicant_id: str) -> dict:
        item = self.w.store.assessment(applicant_id)
        if not item:
            raise NotFound("TEST_NOT_STARTED")
        if item["status"] != "IN_PROGRESS":
            raise Conflict("TEST_ALREADY_TAKEN")
        if not rules.is_open_for_answers(clock.now(), clock.parse_iso(item["deadline_at"]),
                                         self.s.assessment_grace_seconds):
            raise Gone("TEST_EXPIRED")
        return item

    def answer(self, applicant_id: str, question_id: str, option_id: str) -> dict:
        """Save one answer. Raises NotFound(TEST_NOT_STARTED), Gone(TEST_EXPIRED),
        InvalidInput(QUESTION_INVALID | OPTION_INVALID), Conflict(TEST_ALREADY_TAKEN)."""
        item = self._open_item(applicant_id)
        self._validate(item, {question_id: option_id})
        saved = self.w.store.transact([self.items.answer_item(applicant_id, question_id, option_id)])
        if not saved:
            raise Conflict("TEST_ALREADY_TAKEN")
        return {"question_id": question_id, "option_id": option_id, "saved_at": clock.iso(clock.now())}

    def _validate(self, item: dict, answers: dict[str, str]) -> None:
        try:
            rules.score(self.bank, item["question_ids"], answers, pass_mark=self.s.assessment_pass_mark)
        except rules.AssessmentError as exc:
            raise InvalidInput(exc.code, []) from exc

    def submit(self, applicant_id: str, answers: dict[str, str] | None = None) -> dict:
        """Score the test once: ``{score, passed}``. Answers in the body are merged first while
        the test is open. A scored test returns its stored result (idempotent)."""
        item = self.w.store.assessment(applicant_id)
        if not item:
            raise NotFound("TEST_NOT_STARTED")
        if item["status"] != "IN_PROGRESS":
            return {"score": item["score"], "passed": item["status"] == "PASSED"}
        merged = dict(item.get("answers") or {})
        if answers:
            if not rules.is_open_for_answers(clock.now(), clock.parse_iso(item["deadline_at"]),
                                             self.s.assessment_grace_seconds):
                raise Gone("TEST_EXPIRED")
            self._validate(item, answers)
            merged.update(answers)
        return self._score(applicant_id, item, merged)

    def _score(self, applicant_id: str, item: dict, answers: dict[str, str]) -> dict:
        store = self.w.store
        result = rules.score(self.bank, item["question_ids"], answers, pass_mark=self.s.assessment_pass_mark)
        status = "PASSED" if result.passed else "FAILED"
        at = clock.iso(clock.now())
        done = store.transact([
            self.items.scored_item(applicant_id, status, result.score, answers, at),
            store.step_update(applicant_id, "assessment", status, None if result.passed else "SCORE_BELOW_PASS_MARK",
                              at, {"IN_PROGRESS"}),
        ])
        if not done:
            again = store.assessment(applicant_id) or {}
            return {"score": again.get("score"), "passed": again.get("status") == "PASSED"}
        if result.passed:
            self.w.funnel.reached(applicant_id, "assessment_passed")
        else:
            self.w.funnel.outcome("AssessmentFailed")
        return {"score": result.score, "passed": result.passed}

    def score_overdue(self, limit: int = 500) -> int:
        """Score every open test whose deadline plus grace has passed (called by the tick).
        Returns how many were scored."""
        cutoff = clock.iso(clock.now())
        scored = 0
        for shard in range(DUE_SHARDS):
            for applicant_id in self.items.overdue(shard, cutoff, limit):
                item = self.w.store.assessment(applicant_id)
                if item and item["status"] == "IN_PROGRESS":
                    self._score(applicant_id, item, dict(item.get("answers") or {}))
                    scored += 1
        return scored
