"""batch_close (schedule, every minute): close due batches, draw (once the secret is revealed),
announce; score overdue tests.

Validates the schedule event (an EventBridge "Scheduled Event"); anything else is refused with a
logged error and no work. Idempotent: running twice or late is harmless.
"""

from __future__ import annotations

from prakerja.adapters.batches import BatchStore
from prakerja.observability import flushes_metrics, logger
from prakerja.services.assessment import Assessments
from prakerja.services.batches import Batches
from prakerja.services.wiring import build
from prakerja.settings import BatchTickSettings

w = build(BatchTickSettings)
batches = Batches(w, BatchStore(w.settings.batches_table, w.settings.member_shards))
tests = Assessments(w)


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    if not isinstance(event, dict) or event.get("detail-type") != "Scheduled Event":
        logger.error("not a schedule event; ignored")
        return {"ok": False, "error": "NOT_A_SCHEDULE_EVENT"}
    done = batches.tick()
    scored = tests.score_overdue()
    logger.info("tick", extra={**done, "tests_scored": scored})
    return {"ok": True, **done, "tests_scored": scored}
