"""upload_ktp (SQS): S3 ObjectCreated notifications -> validate, normalise and record the photo.

Partial batch response: a record whose processing fails goes back to the queue and, after the
queue's maxReceiveCount, to the DLQ. Malformed notifications fail the same way (kept, not lost).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.storage import PhotoStore
from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services.ktp import KtpPhotos, parse_notification
from prakerja.services.wiring import build
from prakerja.settings import KtpProcessSettings

w = build(KtpProcessSettings)
ktp = KtpPhotos(w, PhotoStore(w.settings.ktp_bucket, w.settings.presign_region))


def record_handler(record: SQSRecord) -> None:
    for landed in parse_notification(record.body):
        outcome = ktp.process(landed)
        logger.info("ktp processed", extra={"outcome": outcome})


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
