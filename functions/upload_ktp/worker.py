"""upload_ktp (SQS): S3 ObjectCreated notifications -> validate and normalise the photo, queue the verdict.

This is the photo parser (it runs Pillow / pillow-heif on attacker-supplied bytes), so it holds no
grant on the Applicants table at all (issue 16 item 11): it reads the upload, writes the normalised
JPEG, deletes the original and sends its verdict to KtpVerdictQueue, which
``functions/ktp_verdict`` records.

Partial batch response: a record whose processing fails goes back to the queue and, after the
queue's maxReceiveCount, to the DLQ. Malformed notifications fail the same way (kept, not lost).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.storage import PhotoStore
from prakerja.adapters.verdicts import VerdictQueue
from prakerja.domain import photo
from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics, logger
from prakerja.services.ktp import KtpPhotoCheck, parse_notification
from prakerja.settings import KtpProcessSettings

settings = KtpProcessSettings.load()
check = KtpPhotoCheck(PhotoStore(settings.ktp_bucket, settings.presign_region),
                      photo.Limits(min_bytes=settings.ktp_min_bytes, max_bytes=settings.ktp_max_bytes),
                      VerdictQueue(settings.ktp_verdict_queue_url).send)


def record_handler(record: SQSRecord) -> None:
    for landed in parse_notification(record.body):
        outcome = check.process(landed)
        logger.info("ktp checked", extra={"outcome": outcome})


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
