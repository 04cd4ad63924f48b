"""Glue shared by the SQS-triggered functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.observability import logger


def process_sqs(event: dict, context: Any, record_handler: Callable[[SQSRecord], Any]) -> dict:
    """Run ``record_handler`` on every record and answer with a partial batch response
    (``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``).

    Each record's logs carry its ``correlation_id`` message attribute (the API request that
    queued it) or its message id. A fresh BatchProcessor per invocation (it holds per-batch
    state). A batch whose every record
    failed is answered the same way instead of raising: the effect on SQS is identical and the
    failures stay visible in the response."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def correlated(record: SQSRecord) -> Any:
        attribute = (record.raw_event.get("messageAttributes") or {}).get("correlation_id") or {}
        logger.set_correlation_id(attribute.get("stringValue") or record.message_id)
        return record_handler(record)

    return process_partial_response(event=event, record_handler=correlated, processor=processor, context=context)
