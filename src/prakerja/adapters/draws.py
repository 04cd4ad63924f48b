"""The draw's I/O: the audit records in the audit bucket and the fan-out of results to the DrawQueue.

The key format of an audit record (``draws/<batch_id>.json``) lives here and nowhere else.
"""

from __future__ import annotations

import json
from typing import IO, Any

from prakerja.adapters.aws import client


def audit_key(batch_id: str) -> str:
    """The S3 key of a batch's audit record."""
    return f"draws/{batch_id}.json"


class AuditArchive:
    """The audit records of the draws in the audit bucket ``bucket``."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def upload(self, batch_id: str, body: IO[bytes]) -> str:
        """Store the record read from ``body`` (streamed, multipart beyond the threshold); returns its key."""
        key = audit_key(batch_id)
        client("s3").upload_fileobj(body, self.bucket, key, ExtraArgs={"ContentType": "application/json"})
        return key

    def open(self, batch_id: str) -> Any | None:
        """The record's streaming body (``read()``, ``iter_lines()``), or None when there is none."""
        s3 = client("s3")
        try:
            return s3.get_object(Bucket=self.bucket, Key=audit_key(batch_id))["Body"]
        except s3.exceptions.NoSuchKey:
            return None


class DrawFanOut:
    """Sends ``[applicant_id, outcome, rank]`` rows to the DrawQueue in chunks of ``size`` rows,
    up to ten chunks per SendMessageBatch call (and under its 256 KB limit)."""

    MAX_BATCH_BYTES = 200_000

    def __init__(self, queue_url: str, kind: str, batch_id: str, size: int) -> None:
        self.queue_url, self.kind, self.batch_id, self.size = queue_url, kind, batch_id, size
        self.rows: list[list] = []
        self.pending: list[str] = []
        self.sent = 0

    def add(self, row: list) -> None:
        self.rows.append(row[:3])
        if len(self.rows) >= self.size:
            self._chunk()

    def _chunk(self) -> None:
        body = json.dumps({"kind": self.kind, "batch_id": self.batch_id, "rows": self.rows})
        self.rows = []
        if self.pending and (len(self.pending) == 10 or
                             sum(map(len, self.pending)) + len(body) > self.MAX_BATCH_BYTES):
            self._send()
        self.pending.append(body)

    def _send(self) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(self.pending)]
        reply = client("sqs").send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if reply.get("Failed"):  # the tick fails and runs again; chunks are idempotent
            raise RuntimeError(f"{len(reply['Failed'])} fan-out chunks not queued")
        self.sent += len(entries)
        self.pending = []

    def flush(self) -> None:
        if self.rows:
            self._chunk()
        if self.pending:
            self._send()
