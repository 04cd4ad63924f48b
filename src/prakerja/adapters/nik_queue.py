"""The NIK check queue as the worker sees it: put a record back for a while, or dead-letter it.

The worker returns transient failures with its own backoff (``ChangeMessageVisibility``; the
record is then reported failed, so the event source leaves it on the queue) and moves a message
to the DLQ itself after the set number of real attempts (``SendMessage`` to the DLQ; the record
is then reported done, so the event source deletes it from the queue). Attributes name the
reason and the attempts only: never personal data.
"""

from __future__ import annotations

from collections.abc import Mapping

from prakerja.adapters.aws import client

SQS_MAX_VISIBILITY = 43200


class NikQueue:
    """The queue (``queue_url``) and its dead-letter queue (``dlq_url``)."""

    def __init__(self, queue_url: str, dlq_url: str) -> None:
        self.queue_url, self.dlq_url = queue_url, dlq_url

    def defer(self, receipt_handle: str, seconds: int) -> None:
        """Make a received message visible again in ``seconds`` (0..12 h)."""
        client("sqs").change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle,
                                                VisibilityTimeout=max(0, min(SQS_MAX_VISIBILITY, int(seconds))))

    def dead_letter(self, body: str, attributes: Mapping[str, str]) -> None:
        """Send ``body`` to the DLQ with string ``attributes`` (why, how many attempts)."""
        attrs = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        client("sqs").send_message(QueueUrl=self.dlq_url, MessageBody=body, MessageAttributes=attrs)
