"""verify_nik (SQS): calls the ministry for each queued check, within its capacity, and records
the outcome (``prakerja.services.nik_check`` explains the rules).

The batch is run first (its calls go out concurrently, each at its token's time); the partial
batch response then reports failed every record that was put back on the queue (no token yet,
circuit open, or a transient ministry failure with its backoff already set as the record's
visibility) or that hit an unexpected error. A record the worker dead-lettered after its last
real attempt is reported done, so the event source deletes it from the queue.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.crypto import Envelopes
from prakerja.adapters.ministry import Ministry
from prakerja.adapters.nik_queue import NikQueue
from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services import nik_check
from prakerja.services.wiring import build
from prakerja.settings import NikWorkerSettings

# secrets_name: the HMAC keys of the NIK sentinel written on a VERIFIED answer (issue 16)
w = build(NikWorkerSettings)
s = w.settings
checks = nik_check.NikChecks(w, Ministry(s.ministry_url, s.ministry_timeout), NikQueue(s.nik_queue_url, s.nik_dlq_url),
                             Envelopes(s.pii_key_id), nik_check.NikPolicy.from_settings(s))


class NotDone(RuntimeError):
    """The record was put back on the queue (or failed); its message must stay."""


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    records = [nik_check.QueuedCheck(r["body"], r["receiptHandle"], r["messageId"]) for r in event.get("Records", [])]
    outcomes = checks.run(records, (lambda: remaining() / 1000) if remaining else None)

    def record_handler(record: SQSRecord) -> None:
        outcome = outcomes.get(record.message_id) or nik_check.CheckOutcome(nik_check.OutcomeKind.ERROR, "not_run")
        logger.info("nik check", extra={"outcome": str(outcome)})
        if not outcome.finished:
            raise NotDone(str(outcome))

    return process_sqs(event, context, record_handler)
