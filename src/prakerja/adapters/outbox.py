"""The transactional outbox: work stored as pending in the same transaction as the state change.

A service writes its state change plus one outbox item per message in ONE transaction, then
sends the messages and deletes the outbox items. If the process dies in between, the outbox
sweeper (``functions/outbox_sweeper``) finds items older than the grace period through the
write-sharded ``OutboxIndex`` and sends them. Every step is send-then-delete, so a message can be
queued more than once: the sweeper and the original racing, a delete that failed after SQS
accepted (the next sweep sends again), SQS's own at-least-once delivery. Consumers are
idempotent: every message sent from here carries the message attribute ``dedupe_id`` (the outbox
id, :data:`DEDUPE_ATTRIBUTE`), the same on every copy of one message (the dispatch, each resend,
a redrive), and the email sender sends one email per ``dedupe_id``
(:mod:`prakerja.services.sender`); the NIK worker's writes are conditional on the version.

Item: ``pk = OUTBOX#<id>``, ``sk = OUTBOX``, ``queue`` (logical name: email, bulk_email, nik),
``body`` (dict), ``outbox_shard`` (``"0"``..``"<n-1>"``), ``outbox_at`` (ISO UTC), ``ttl``.
"""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prakerja import clock
from prakerja.adapters.aws import client, is_capacity_problem, table
from prakerja.adapters.dynamo import plain
from prakerja.observability import logger

OUTBOX_TTL_SECONDS = 7 * 24 * 3600
#: the message attribute that names one message across its copies (its outbox id)
DEDUPE_ATTRIBUTE = "dedupe_id"


@dataclass
class Message:
    """One message bound for a queue (``queue`` is the logical name). ``outbox_id`` (random
    unless given: 24 hex digits) keys its outbox item and is sent as its ``dedupe_id``."""

    queue: str
    body: dict[str, Any]
    outbox_id: str = field(default_factory=lambda: secrets.token_hex(12))
    attributes: dict[str, str] = field(default_factory=dict)


class Outbox:
    """Writes outbox items into transactions, sends them, and finds stranded ones."""

    def __init__(self, table_name: str, queue_urls: Mapping[str, str], shards: int = 8) -> None:
        self.table_name = table_name
        self.queue_urls = dict(queue_urls)
        self.shards = shards

    def put_items(self, messages: list[Message], now: datetime) -> list[dict]:
        """Transaction items (``Put``) that store ``messages`` as pending."""
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "pk": f"OUTBOX#{m.outbox_id}",
                        "sk": "OUTBOX",
                        "queue": m.queue,
                        "body": json.dumps(m.body),
                        "attrs": {**_correlation(), **m.attributes},
                        "outbox_shard": str(zlib.crc32(m.outbox_id.encode()) % self.shards),
                        "outbox_at": clock.iso(now),
                        "ttl": int(now.timestamp()) + OUTBOX_TTL_SECONDS,
                    },
                }
            }
            for m in messages
        ]

    def dispatch(self, messages: list[Message]) -> None:
        """Send each message to its queue, then delete its outbox item.

        Called after the transaction that stored the items committed, so the work is already
        durable: when SQS or DynamoDB is busy or unreachable here (``is_capacity_problem``), the
        message stays in the outbox and the sweeper sends it after the grace period. The request
        then succeeds as it should: its change was made and its email will go. Any other error
        (a bug) is raised."""
        for m in messages:
            try:
                self._send(m.queue, json.dumps(m.body), m.attributes, m.outbox_id)
                table(self.table_name).delete_item(Key={"pk": f"OUTBOX#{m.outbox_id}", "sk": "OUTBOX"})
            except Exception as exc:
                if not is_capacity_problem(exc):
                    raise
                logger.warning("outbox dispatch deferred to the sweeper",
                               extra={"queue": m.queue, "error_type": type(exc).__name__})

    def send(self, message: Message) -> None:
        """Send one message directly (for callers whose own input is already durable, such as a
        queued fan-out chunk). It carries ``message.outbox_id`` as its ``dedupe_id`` too."""
        self._send(message.queue, json.dumps(message.body), message.attributes, message.outbox_id)

    def stranded(self, older_than: timedelta, limit: int = 500) -> list[dict]:
        """Outbox items written more than ``older_than`` ago, across all shards."""
        cutoff = clock.iso(clock.now() - older_than)
        found: list[dict] = []
        for shard in range(self.shards):
            response = table(self.table_name).query(
                IndexName="OutboxIndex",
                KeyConditionExpression="outbox_shard = :s AND outbox_at < :c",
                ExpressionAttributeValues={":s": str(shard), ":c": cutoff},
                Limit=limit,
            )
            found.extend(plain(i) for i in response.get("Items", []))
        return found

    def resend(self, item: Mapping[str, Any]) -> None:
        """Send a stranded item and delete it. The message carries the item's outbox id as its
        ``dedupe_id`` (from its key, so items stored by earlier releases carry it too): when only
        the delete fails, the next sweep's copy is the same message to the consumer."""
        self._send(item["queue"], item["body"], item.get("attrs") or {}, str(item["pk"]).removeprefix("OUTBOX#"))
        table(self.table_name).delete_item(Key={"pk": item["pk"], "sk": "OUTBOX"})

    def _send(self, queue: str, body: str, attributes: Mapping[str, str], dedupe_id: str) -> None:
        attributes = {**_correlation(), **attributes, DEDUPE_ATTRIBUTE: dedupe_id}
        attrs = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        kwargs: dict[str, Any] = {"QueueUrl": self.queue_urls[queue], "MessageBody": body}
        if attrs:
            kwargs["MessageAttributes"] = attrs
        client("sqs").send_message(**kwargs)


def _correlation() -> dict[str, str]:
    """The current correlation id as a message attribute (follows a request into the queues)."""
    correlation_id = logger.get_correlation_id()
    return {"correlation_id": str(correlation_id)} if correlation_id else {}
