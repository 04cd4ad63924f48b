"""batch_close (SQS): writes one fan-out chunk of draw results, or sends its announcement emails."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from prakerja.handlers import process_sqs
from prakerja.observability import flushes_metrics
from prakerja.services.batches import Batches
from prakerja.services.wiring import build
from prakerja.settings import DrawResultsSettings

w = build(DrawResultsSettings)
batches = Batches(w)  # a chunk never reads the Batches table (nor may it: no grant)


def record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    if body.get("kind") not in {"results", "announce"} or not isinstance(body.get("rows"), list):
        raise ValueError("malformed chunk")
    batches.apply_chunk(body)


@flushes_metrics
def handler(event: dict, context: object) -> dict:
    return process_sqs(event, context, record_handler)
