"""The funnel as the steps happen: a metric for every step event, and live counters of people.

Services call :meth:`Funnel.reached` right after the write that records a step has succeeded
(email verified, KTP valid, NIK verified, test passed, batch joined, selected),
:meth:`Funnel.registered` after an account is created, and :meth:`Funnel.outcome` for the other
outcomes (KTP or NIK rejected, test failed, not selected). Each call emits its metric (one per
event, see :data:`STEP_METRICS`) and, for :meth:`reached`, adds the applicant to the step's
counter only the first time they reach it (:class:`prakerja.adapters.funnel.FunnelCounters`),
so the counters count distinct people as the April 2020 statement did.

The step is already recorded when these run: a failure to count (DynamoDB throttling, say) is
logged and swallowed, never turned into an error for a request or a queued record whose work is
done (a retried email confirmation would meet a spent token; a redelivered NIK record finds its
outcome recorded and is not counted again). Such a failure loses at most that one count.
"""

from __future__ import annotations

from collections.abc import Callable

from prakerja import clock
from prakerja.adapters.funnel import STEPS, FunnelCounters
from prakerja.observability import count, logger

#: funnel step -> the metric emitted when an applicant reaches it
STEP_METRICS = {
    "registered": "AccountCreated", "email_verified": "EmailVerified", "ktp_valid": "KtpValid",
    "nik_verified": "NikVerified", "assessment_passed": "AssessmentPassed", "joined_batch": "BatchJoined",
    "selected": "Selected",
}
#: outcomes that end (or pause) an applicant's way, by metric name
OUTCOME_METRICS = ("KtpRejected", "NikRejected", "AssessmentFailed", "NotSelected")
#: the steps ``prakerja-ops funnel`` and the demo report, in the statement's order
REPORTED = ("registered", "email_verified", "nik_verified", "assessment_passed", "joined_batch", "selected")


class Funnel:
    """Funnel metrics and counters for one function (``counters`` on the Applicants table)."""

    def __init__(self, counters: FunnelCounters) -> None:
        self.counters = counters

    def registered(self) -> None:
        """A new account was created (counted once by nature: an account is created once)."""
        count(STEP_METRICS["registered"])
        self._safely("registered", lambda: self.counters.add("registered"))

    def reached(self, applicant_id: str, step: str) -> None:
        """The applicant's ``step`` was just recorded (``email_verified``, ``ktp_valid``,
        ``nik_verified``, ``assessment_passed``, ``joined_batch`` or ``selected``): emit its
        metric and count the applicant if it is their first time. Raises ValueError for an
        unknown step."""
        if step not in STEPS or step == "registered":
            raise ValueError(f"not a step reached later: {step!r}")
        count(STEP_METRICS[step])
        at = clock.iso(clock.now())
        self._safely(step, lambda: self.counters.reached(applicant_id, step, at))

    def reached_many(self, step: str, events: int, first_times: int) -> None:
        """``events`` applicants reached ``step`` (metric), ``first_times`` of them for the first
        time, already marked by the caller in the write that recorded the step (one counter write
        for them all: the NIK worker counts a whole batch at once)."""
        if step not in STEPS or step == "registered":
            raise ValueError(f"not a step reached later: {step!r}")
        if events:
            count(STEP_METRICS[step], events)
        if first_times:
            self._safely(step, lambda: self.counters.add(step, first_times))

    @staticmethod
    def outcome(metric: str, value: int = 1) -> None:
        """``value`` applicants met an outcome of :data:`OUTCOME_METRICS` (metric only)."""
        if metric not in OUTCOME_METRICS:
            raise ValueError(f"not an outcome metric: {metric!r}")
        count(metric, value)

    def totals(self) -> dict[str, int]:
        """People who reached each step so far, every step in funnel order (``registered`` first,
        ``ktp_valid`` included). Raises what DynamoDB raises."""
        return self.counters.totals()

    @staticmethod
    def _safely(step: str, write: Callable[[], object]) -> None:
        try:
            write()
        except Exception as exc:  # the step is recorded; a lost count must not undo the request
            logger.warning("funnel count failed", extra={"step": step, "error": type(exc).__name__})


def percentages(totals: dict[str, int]) -> dict[str, float]:
    """Each step's share of ``registered`` in percent (0.0 for every step when none registered)."""
    base = totals.get("registered", 0)
    return {step: (100.0 * n / base if base else 0.0) for step, n in totals.items()}
