"""verify_email (SQS): SES hard bounces and complaints (SES -> SNS -> BounceQueue) mark the
applicant's email step UNDELIVERABLE (see :mod:`prakerja.services.bounces`).

Partial batch response: a malformed notification goes back to the queue and, after its
maxReceiveCount, to the BounceDLQ; notifications of other kinds are accepted and ignored.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services.bounces import Bounces
from prakerja.services.wiring import build
from prakerja.settings import EmailBounceSettings

w = build(EmailBounceSettings)
bounces = Bounces(w)


def record_handler(record: SQSRecord) -> None:
    marked = bounces.handle(record.body)
    logger.info("ses notification", extra={"marked": marked})


@flushes_metrics
@logger.inject_lambda_context
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
