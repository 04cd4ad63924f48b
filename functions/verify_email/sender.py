"""verify_email (SQS): drains the transactional and bulk email queues into SES.

Partial batch response (Powertools BatchProcessor): a failed record goes back to its queue and,
after the queue's maxReceiveCount, to the DLQ.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.mailer import Mailer
from prakerja.handlers import process_sqs
from prakerja.observability import logger
from prakerja.services.sender import send_one
from prakerja.settings import Settings

settings = Settings.load("sender_email")
mailer = Mailer(settings.sender_email)


def record_handler(record: SQSRecord) -> None:
    send_one(mailer, record.body)


@logger.inject_lambda_context
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
