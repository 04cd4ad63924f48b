"""SQS queues as operators see them: depths, the oldest message's age, moving a DLQ back.

Depths are SQS's approximate counts (``GetQueueAttributes``). The oldest message's age comes from
CloudWatch (``AWS/SQS`` ``ApproximateAgeOfOldestMessage``, the maximum over the last minutes):
SQS itself does not report it. A DLQ goes back to its source queue with SQS's message-move task
(``StartMessageMoveTask``) on AWS, or, where the emulator lacks that API, by receiving, sending
(body and message attributes kept) and deleting in batches of ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prakerja.adapters.aws import client, error_code

_DEPTH_ATTRIBUTES = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"]
#: how long a message received for copying stays invisible (seconds)
COPY_VISIBILITY = 60


class MoveUnavailable(RuntimeError):
    """The endpoint does not implement SQS's message-move API (an emulator)."""


class MoveRefused(RuntimeError):
    """SQS refused to start a move task (``code``: the AWS error code, e.g. a task already running)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Depth:
    """Approximate message counts: ``visible`` (waiting), ``in_flight`` (received, not deleted),
    ``delayed`` (not yet visible)."""

    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_name(url: str) -> str:
    """The queue's name (the last part of its URL)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def depth(url: str) -> Depth:
    """The queue's approximate counts."""
    attrs = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=_DEPTH_ATTRIBUTES)["Attributes"]
    return Depth(int(attrs.get("ApproximateNumberOfMessages", 0)),
                 int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                 int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)))


def arn(url: str) -> str:
    """The queue's ARN."""
    return client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def oldest_age(url: str, now: datetime, minutes: int = 5) -> float | None:
    """The largest ``ApproximateAgeOfOldestMessage`` (seconds) CloudWatch has for the queue in
    the last ``minutes``, or None when it has no data point (an idle or new queue)."""
    reply = client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
        Dimensions=[{"Name": "QueueName", "Value": queue_name(url)}],
        StartTime=now - timedelta(minutes=minutes), EndTime=now, Period=60, Statistics=["Maximum"])
    points = [p["Maximum"] for p in reply.get("Datapoints", [])]
    return max(points) if points else None


def start_move(source_arn: str, destination_arn: str) -> str:
    """Start SQS's message-move task from a DLQ back to ``destination_arn``; its task handle.
    Raises MoveUnavailable (the emulator lacks the API) or MoveRefused."""
    try:
        reply = client("sqs").start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)
    except NotImplementedError as exc:  # moto in-process
        raise MoveUnavailable(str(exc)) from None
    except Exception as exc:
        code = error_code(exc)
        if not code:
            raise
        raise MoveRefused(code) from None
    return str(reply["TaskHandle"])


def move_task(source_arn: str) -> dict[str, Any] | None:
    """The latest move task of the DLQ ``source_arn`` (``Status``, ``ApproximateNumberOfMessagesMoved``,
    ``ApproximateNumberOfMessagesToMove``, ...), or None."""
    found = client("sqs").list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
    return found[0] if found else None


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in attributes.items():
        kept = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                kept[key] = value[key]
        out[name] = kept
    return out


def copy_messages(source_url: str, destination_url: str, limit: int | None = None) -> tuple[int, int]:
    """Move messages by receive, send (body and message attributes kept) and delete, ten at a
    time, until the source is empty (or ``limit`` moved). Returns ``(moved, failed)``: a message
    whose send failed stays on the source (visible again at once)."""
    sqs = client("sqs")
    moved = failed = 0
    while limit is None or moved < limit:
        want = 10 if limit is None else min(10, limit - moved)
        got = sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=want, WaitTimeSeconds=0,
                                  VisibilityTimeout=COPY_VISIBILITY, MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"],
                    "MessageAttributes": _sendable(m.get("MessageAttributes", {}))} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        ok = {int(s["Id"]) for s in sent.get("Successful", [])}
        if ok:
            sqs.delete_message_batch(QueueUrl=source_url, Entries=[
                {"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]} for i in sorted(ok)])
        for i, message in enumerate(messages):
            if i not in ok:
                sqs.change_message_visibility(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
        moved += len(ok)
        failed += len(messages) - len(ok)
        if not ok:
            break  # every send failed: stop rather than spin
    return moved, failed
