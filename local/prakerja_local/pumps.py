"""Feed SQS messages to the consuming functions, as Lambda's event source mapping does.

One :class:`QueuePump` per SQS event source of the template: a poller thread long-polls the
queue (``WaitTimeSeconds`` 1, up to ``BatchSize`` messages) whenever one of its
``MaximumConcurrency`` workers is free, and a worker invokes the function with a Lambda SQS
event. Successes are deleted; with ``ReportBatchItemFailures`` the messages listed in
``batchItemFailures`` are left alone (they come back after the queue's visibility timeout, and
moto moves them to the DLQ after ``maxReceiveCount`` receives); a handler that raises fails the
whole batch. One poller per queue also avoids moto's unlocked concurrent receives handing the
same message to two workers.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prakerja_local.template import REGION, SqsSource

log = logging.getLogger("prakerja_local.pumps")
Invoke = Callable[[str, Any], Any]


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def sqs_record(message: dict[str, Any], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """One record of a Lambda SQS event from one ``ReceiveMessage`` message."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {k: _lambda_attribute(v) for k, v in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """The Lambda SQS event for a batch of messages."""
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def failed_ids(result: Any, message_ids: list[str], reports_failures: bool) -> set[str]:
    """Message ids the handler's result marks as failed (Lambda's partial batch response rules).

    Without ``ReportBatchItemFailures`` every message succeeded. A malformed entry (no
    ``itemIdentifier``, or one not in the batch) fails the whole batch, as on AWS."""
    if not reports_failures or not isinstance(result, dict):
        return set()
    failures = result.get("batchItemFailures") or []
    found = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)
        found.add(identifier)
    return found


class QueuePump:
    """Polls one queue and invokes one function, with the source's batch size and concurrency."""

    def __init__(self, source: SqsSource, queue_url: str, queue_arn: str, sqs: Any, invoke: Invoke) -> None:
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.sqs = sqs
        self.invoke = invoke
        self.name = f"{source.function_id}.{source.event_name}"
        self._slots = threading.Semaphore(source.max_concurrency)
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        # twice the slots: a thread still deleting its finished batch must not hold up the next one
        self._pool = ThreadPoolExecutor(2 * source.max_concurrency, thread_name_prefix=f"pump-{self.name}")
        self._thread: threading.Thread | None = None
        self.stats = {"batches": 0, "messages": 0, "deleted": 0, "failed": 0, "errors": 0}

    @property
    def busy(self) -> int:
        """Batches being handled right now."""
        with self._busy_lock:
            return self._busy

    @property
    def alive(self) -> bool:
        """Whether the poller thread is running."""
        return bool(self._thread and self._thread.is_alive())

    def start(self) -> None:
        """Start polling."""
        self._thread = threading.Thread(target=self._poll_loop, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for running batches."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)

    def _set_busy(self, delta: int) -> None:
        with self._busy_lock:
            self._busy += delta

    def _count(self, **deltas: int) -> None:
        with self._busy_lock:
            for key, delta in deltas.items():
                self.stats[key] += delta

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                messages = self._receive()
            except Exception:
                log.exception("pump %s: receive failed", self.name)
                messages = []
                self._stop.wait(1)
            if messages:
                self._set_busy(1)
                self._pool.submit(self._handle, messages)
            else:
                self._slots.release()

    def _receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _handle(self, messages: list[dict[str, Any]]) -> None:
        done: list[dict[str, Any]] = []
        try:
            done = self.invoke_batch(messages)
        finally:
            # The function instance is free once it returns: as on AWS, deleting the finished
            # messages is the poller's work and does not hold one of the MaximumConcurrency slots.
            self._slots.release()
        try:
            self._delete(done)
        except Exception:
            log.exception("pump %s: deleting %d finished messages failed; they will be delivered again",
                          self.name, len(done))
        finally:
            self._set_busy(-1)

    def process(self, messages: list[dict[str, Any]]) -> None:
        """Invoke the function with ``messages`` and delete the ones that succeeded."""
        self._delete(self.invoke_batch(messages))

    def invoke_batch(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Invoke the function with ``messages``; returns the ones that succeeded (to delete)."""
        ids = [m["MessageId"] for m in messages]
        self._count(batches=1, messages=len(messages))
        try:
            result = self.invoke(self.source.function_id, sqs_event(messages, self.queue_arn))
        except Exception:
            self._count(errors=1)
            log.exception("pump %s: handler raised; the whole batch of %d fails", self.name, len(messages))
            return []
        failed = failed_ids(result, ids, self.source.reports_failures)
        self._count(failed=len(failed))
        if failed:
            log.info("pump %s: %d of %d messages failed", self.name, len(failed), len(messages))
        return [m for m in messages if m["MessageId"] not in failed]

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            self._count(deleted=len(response.get("Successful", [])))
            if response.get("Failed"):
                log.warning("pump %s: %d finished messages not deleted (%s); they will be delivered again",
                            self.name, len(response["Failed"]), response["Failed"][0].get("Code"))


class Pumps:
    """All queue pumps of a template; ``drain`` waits until their queues are empty and idle."""

    def __init__(self, pumps: list[QueuePump]) -> None:
        self.pumps = pumps

    def start(self) -> None:
        """Start every pump."""
        for pump in self.pumps:
            pump.start()

    def stop(self) -> None:
        """Stop every pump."""
        for pump in self.pumps:
            pump._stop.set()
        for pump in self.pumps:
            pump.stop()

    @property
    def alive(self) -> bool:
        """Whether every pump's poller is running."""
        return all(p.alive for p in self.pumps)

    def pending(self) -> dict[str, int]:
        """Messages not yet done per queue (visible, in flight or delayed), and batches running."""
        result = {}
        for pump in self.pumps:
            attrs = pump.sqs.get_queue_attributes(
                QueueUrl=pump.queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            result[pump.source.queue_id] = sum(int(v) for v in attrs.values())
        return result

    def busy(self) -> int:
        """Batches being handled across all pumps."""
        return sum(p.busy for p in self.pumps)

    def drain(self, timeout: float = 30.0, settle: float = 0.1) -> tuple[bool, dict[str, int]]:
        """Wait until every queue with an event source is empty and no handler is running
        (twice in a row, ``settle`` seconds apart). Returns ``(drained, pending)``."""
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        pending: dict[str, int] = {}
        while time.monotonic() < deadline:
            pending = self.pending()
            idle = self.busy() == 0 and not any(pending.values())
            quiet_checks = quiet_checks + 1 if idle else 0
            if quiet_checks >= 2:
                return True, pending
            time.sleep(settle)
        return False, pending


def build_pumps(
    sources: list[SqsSource],
    physical: dict[str, dict[str, str]],
    sqs_factory: Callable[[], Any],
    invoke: Invoke,
) -> Pumps:
    """A pump per event source; ``physical`` gives each queue's URL and ARN."""
    pumps = [
        QueuePump(
            source,
            physical[source.queue_id]["QueueUrl"],
            physical[source.queue_id]["Arn"],
            sqs_factory(),
            invoke,
        )
        for source in sources
    ]
    return Pumps(pumps)
