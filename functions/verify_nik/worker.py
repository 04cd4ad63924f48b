"""verify_nik (SQS): calls the ministry for each queued check and records the outcome.

Partial batch response: a transient ministry failure returns the record to the queue (the
queue's visibility timeout spaces the retries; the DLQ takes it after maxReceiveCount).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.adapters.ministry import Ministry
from prakerja.handlers import process_sqs
from prakerja.observability import logger
from prakerja.services import nik_check
from prakerja.services.wiring import build

w = build("applicants_table", "ministry_url")
checks = nik_check.NikChecks(w, Ministry(w.settings.ministry_url, w.settings.ministry_timeout))


def record_handler(record: SQSRecord) -> None:
    applicant_id, version = nik_check.parse(record.body)
    outcome = checks.run(applicant_id, version)
    logger.info("nik check", extra={"outcome": outcome, "version": version})


def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
