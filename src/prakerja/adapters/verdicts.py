"""The KTP verdict queue as the photo parser sees it: one ``SendMessage`` per checked photo.

The body is a :class:`prakerja.services.ktp.KtpVerdict`'s JSON (ids, the S3 version, an outcome
code and the output key: no personal data).
"""

from __future__ import annotations

from prakerja.adapters.aws import client


class VerdictQueue:
    """The queue at ``queue_url`` (KtpVerdictQueue in template.yaml)."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, body: str) -> None:
        """Queue one verdict (``body``: JSON, well under SQS's 256 KiB)."""
        client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body)
