"""ktp_verdict (SQS): the photo parser's verdicts -> the KTP step's conditional, idempotent writes.

The recorder half of the KTP worker (issue 16 item 11): it holds the fine-grained Applicants grant
and parses no photo. Each message is validated (:class:`prakerja.services.ktp.KtpVerdict`);
partial batch response: a malformed verdict or a failed write goes back to the queue and, after
the queue's maxReceiveCount, to the DLQ.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.storage import PhotoStore
from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services.ktp import KtpVerdict, KtpVerdicts
from prakerja.services.wiring import build
from prakerja.settings import KtpVerdictSettings

w = build(KtpVerdictSettings)
verdicts = KtpVerdicts(w, PhotoStore(w.settings.ktp_bucket, w.settings.presign_region))


def record_handler(record: SQSRecord) -> None:
    outcome = verdicts.record(KtpVerdict.parse(record.body))
    logger.info("ktp recorded", extra={"outcome": outcome})


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
