"""verify_email (SQS): drains the transactional and bulk email queues into SES, within the
shared SES send rate, transactional mail first (see :mod:`prakerja.services.sender`).

Partial batch response (Powertools BatchProcessor): a failed record goes back to its queue (a
deferred one after the visibility the sender set) and, after the queue's maxReceiveCount, to
the DLQ.

Each email is sent at most once per ``dedupe_id`` message attribute (Powertools idempotency over
the Idempotency table; the crash windows are in :mod:`prakerja.services.sender`). The
invocation's context bounds an INPROGRESS record's life, so a copy whose invocation died is
sent again after it, not lost.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.idempotency import persistence_layer
from prakerja.adapters.mailer import Mailer, MailQueues
from prakerja.adapters.outbox import DEDUPE_ATTRIBUTE
from prakerja.adapters.rate_limit import TokenBucket
from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services.sender import BUCKET_NAME, Deferred, EmailSender, QueuedEmail, SendPolicy
from prakerja.settings import EmailSenderSettings

settings = EmailSenderSettings.load()
policy = SendPolicy.from_settings(settings)
sender = EmailSender(
    Mailer(settings.sender_email, settings.ses_configuration_set),
    TokenBucket(settings.limits_table, BUCKET_NAME, rate=policy.rate, burst=policy.burst),
    MailQueues(settings.email_queue_url, settings.bulk_email_queue_url),
    policy,
    records=persistence_layer(settings.idempotency_table),
    dedupe_seconds=settings.idempotency_seconds,
)


def record_handler(record: SQSRecord) -> None:
    dedupe = (record.raw_event.get("messageAttributes") or {}).get(DEDUPE_ATTRIBUTE) or {}
    item = QueuedEmail(record.body, record.receipt_handle, record.event_source_arn,
                       int(record.attributes.approximate_receive_count or 1), dedupe.get("stringValue"))
    try:
        sender.handle(item)
    except Deferred as deferred:
        logger.info("email deferred", extra={"why": deferred.why, "seconds": deferred.seconds})
        raise


@flushes_metrics
@logger.inject_lambda_context
def handler(event: dict, context: object) -> dict:
    sender.invoked(context)
    return process_sqs(event, context, record_handler)
