"""outbox_sweeper (schedule, every minute): queues work stored as pending but never queued."""

from __future__ import annotations

from datetime import timedelta

from prakerja.observability import flushes_metrics, logger
from prakerja.services.wiring import build
from prakerja.settings import OutboxSweeperSettings

w = build(OutboxSweeperSettings)


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    stranded = w.outbox.stranded(timedelta(seconds=w.settings.outbox_grace_seconds))
    for item in stranded:
        w.outbox.resend(item)
    if stranded:
        logger.warning("outbox items re-queued", extra={"count": len(stranded)})
    return {"requeued": len(stranded)}
