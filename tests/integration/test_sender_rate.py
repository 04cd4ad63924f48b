"""The email sender keeps the SES send rate across a burst, loses nothing, retries throttled sends
and serves transactional mail before bulk mail.

The real handler (``EmailSenderFunction``) is driven with SQS events received from the moto
queues. Time is the movable project clock only: the sender's sleeper moves it, and records the
sender put back for N seconds (``MailQueues.defer``) are released by the driver once the clock
has moved N seconds (moto's own visibility runs on real time, so the driver never waits for it).
"""

from __future__ import annotations

import bisect
import json
import sys
import time
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.exceptions import ClientError

from prakerja.adapters.mailer import Mailer, MailQueues
from tests.integration.harness import REGION
from tests.integration.support import mailbox

SENDER = "EmailSenderFunction"
QUEUES = ("BulkEmailQueue", "EmailQueue")  # two event sources of the one function


@pytest.fixture
def fast_moto_sqs(monkeypatch):
    """Speed only, same behaviour: moto's SQS recounts every message of a queue (with a slow
    datetime-based "now") for each message it sends or receives, quadratic in a 1,000-message
    queue. Real time from ``time.time()`` and the retention period read directly."""
    from moto.sqs import models

    slow_unix_time = models.unix_time

    def unix_time(dt=None) -> float:
        return time.time() if dt is None else slow_unix_time(dt)

    def retained(backend, queue_name: str, message) -> bool:
        queue = backend.get_queue(queue_name)
        return int(queue.message_retention_period) + message.sent_timestamp / 1000 > time.time()

    monkeypatch.setattr(models, "unix_time", unix_time)
    monkeypatch.setattr(models, "unix_time_millis", lambda dt=None: unix_time(dt) * 1000.0)
    monkeypatch.setattr(models.SQSBackend, "is_message_valid_based_on_retention_period", retained)


def bulk_body(i: int) -> str:
    return json.dumps({"template": "batch_result", "to": f"peserta{i}@example.id", "ref": f"b{i}",
                       "params": {"batch_id": "2026-01", "result": "SELECTED", "base": "http://127.0.0.1:8000"}})


def transactional_body(i: int) -> str:
    return json.dumps({"template": "verify_email", "to": f"baru{i}@example.id", "ref": f"t{i}",
                       "params": {"link": f"http://127.0.0.1:8000/v1/email-verifications/tok{i}"}})


def enqueue(stack, queue_id: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": b} for n, b in enumerate(bodies[start:start + 10])]
        assert not sqs.send_message_batch(QueueUrl=stack.resources.ref(queue_id), Entries=entries).get("Failed")


def load_sender(stack, clock, **env: str):
    """Cold-start the sender with extra environment; its sleeper moves the test clock."""
    stack.registry.environments[SENDER].update(env)
    stack.registry.handler(SENDER)
    module = sys.modules[f"prakerja_fn_{SENDER}_sender"]
    slept: list[float] = []

    def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    module.sender.sleep = fake_sleep
    return module, slept


@dataclass
class SesStub:
    """Replaces the one SES call: throttles the first ``throttle_first[to]`` attempts to an
    address, then sends through moto and records the project clock of each accepted send."""

    clock: object
    throttle_first: dict[str, int] = field(default_factory=dict)
    sent: list[tuple[float, str]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    throttled: int = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SesStub:
        original = Mailer._send_email
        stub = self

        def send_email(mailer: Mailer, request: dict) -> dict:
            to = request["Destination"]["ToAddresses"][0]
            stub.attempts[to] = stub.attempts.get(to, 0) + 1
            if stub.attempts[to] <= stub.throttle_first.get(to, 0):
                stub.throttled += 1
                raise ClientError({"Error": {"Code": "TooManyRequestsException",
                                             "Message": "Maximum sending rate exceeded."}}, "SendEmail")
            response = original(mailer, request)
            stub.sent.append((stub.clock.now.timestamp(), to))
            return response

        monkeypatch.setattr(Mailer, "_send_email", send_email)
        return self

    def order(self) -> list[str]:
        return [to for _, to in self.sent]


@dataclass
class Driver:
    """Plays Lambda's event source mappings for both email queues, one invocation at a time."""

    stack: object
    clock: object
    monkeypatch: pytest.MonkeyPatch
    deferred: dict[str, int] = field(default_factory=dict)  # receipt handle -> seconds asked
    parked: list[tuple[float, str, str]] = field(default_factory=list)  # (due, queue id, receipt)
    deferrals: int = 0

    def __post_init__(self) -> None:
        original = MailQueues.defer
        driver = self

        def spy(queues: MailQueues, source_arn: str, receipt_handle: str, seconds: int) -> bool:
            driver.deferred[receipt_handle] = seconds
            return original(queues, source_arn, receipt_handle, seconds)

        self.monkeypatch.setattr(MailQueues, "defer", spy)
        self.sqs = boto3.client("sqs", region_name=REGION)

    def invoke(self, queue_id: str) -> int:
        """One batch from ``queue_id`` through the sender; returns records received."""
        event = self.stack.sqs_event(queue_id)
        if not event["Records"]:
            return 0
        result = self.stack.registry.invoke(SENDER, event)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        url = self.stack.resources.ref(queue_id)
        for record in event["Records"]:
            handle = record["receiptHandle"]
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                continue
            assert handle in self.deferred, "a failed record was not given its own visibility"
            self.deferrals += 1
            # hold it in real time too; release_due frees it once the project clock is there
            self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=3600)
            self.parked.append((self.clock.now.timestamp() + self.deferred.pop(handle), queue_id, handle))
        return len(event["Records"])

    def release_due(self) -> None:
        now = self.clock.now.timestamp()
        for due, queue_id, handle in [p for p in self.parked if p[0] <= now]:
            self.sqs.change_message_visibility(QueueUrl=self.stack.resources.ref(queue_id), ReceiptHandle=handle,
                                               VisibilityTimeout=0)
            self.parked.remove((due, queue_id, handle))

    def run(self, hook=None, max_rounds: int = 5000) -> None:
        """Invoke until both queues are empty and nothing is parked; ``hook()`` runs each round."""
        for _ in range(max_rounds):
            if hook:
                hook()
            self.release_due()
            received = sum(self.invoke(q) for q in QUEUES)
            if received:
                continue
            if not self.parked:
                return
            self.clock.advance(max(0.0, min(p[0] for p in self.parked) - self.clock.now.timestamp()))
        raise AssertionError("queues did not drain")


def worst_window(stamps: list[float], w: float) -> int:
    """The most sends in any window [t, t + w) starting at a send."""
    ordered = sorted(stamps)
    return max(bisect.bisect_left(ordered, t + w - 1e-9) - i for i, t in enumerate(ordered))


def test_a_burst_of_1000_keeps_the_rate_loses_nothing_retries_throttles_and_serves_transactional_first(
        stack, clock, monkeypatch, fast_moto_sqs):
    # Given a sender at 20 emails/s with a burst of 20, and SES throttling some first attempts
    module, slept = load_sender(stack, clock, SES_SEND_RATE="20", SES_BURST="20")
    assert (module.policy.rate, module.policy.burst) == (20, 20)
    throttled = {f"peserta{i}@example.id": 1 + (i % 2) for i in range(0, 1000, 37)}
    ses = SesStub(clock, throttle_first=throttled).install(monkeypatch)
    # And 1,000 announcements queued at once
    enqueue(stack, "BulkEmailQueue", [bulk_body(i) for i in range(1000)])
    driver = Driver(stack, clock, monkeypatch)
    marks: dict[str, int] = {}

    def verification_mail_arrives() -> None:
        # When 20 verification emails are queued while most of the announcements still wait
        if "queued_at" not in marks and len(ses.sent) >= 300:
            marks["queued_at"] = len(ses.sent)
            enqueue(stack, "EmailQueue", [transactional_body(i) for i in range(20)])

    driver.run(hook=verification_mail_arrives)

    # Then every email was delivered exactly once (none lost, none doubled)
    order = ses.order()
    assert len(order) == 1020 and len(set(order)) == 1020
    assert len(mailbox()) == 1020
    # And in every sliding window of W seconds, sends <= rate x W + burst
    stamps = [t for t, _ in ses.sent]
    for w in (1.0, 5.0):
        assert worst_window(stamps, w) <= 20 * w + 20, f"W={w}"
    # And the capacity was used: the first 1,000 sends took no longer than the tokens they and the
    # throttled attempts needed beyond the burst, at 20/s (plus a second of slack)
    assert stamps[999] - stamps[0] <= (1000 + ses.throttled - 20) / 20 + 1
    # And throttled sends came back (with a backoff) and went out
    assert ses.throttled == sum(throttled.values()) and all(to in order for to in throttled)
    assert driver.deferrals >= ses.throttled
    # And the verification mail overtook the announcements still queued: at most one cache
    # period at the rate (20) plus one batch (10) of bulk went out between its queueing and its last send
    last_transactional = max(i for i, to in enumerate(order) if to.startswith("baru"))
    assert sum(1 for to in order[marks["queued_at"]:last_transactional] if to.startswith("peserta")) <= 20 + 10
    assert sum(1 for to in order[last_transactional:] if to.startswith("peserta")) >= 600
    # And nothing really slept: the clock moved through the fake sleeper
    assert slept and max(slept) <= 1.0


def test_bulk_mail_waits_while_verification_mail_is_queued(stack, clock, monkeypatch):
    # Given announcements queued first, then verification emails
    load_sender(stack, clock)
    ses = SesStub(clock).install(monkeypatch)
    enqueue(stack, "BulkEmailQueue", [bulk_body(i) for i in range(10)])
    enqueue(stack, "EmailQueue", [transactional_body(i) for i in range(5)])
    driver = Driver(stack, clock, monkeypatch)
    # When the bulk source is invoked first
    assert driver.invoke("BulkEmailQueue") == 10
    # Then it sends nothing and puts every record back for a short while
    assert ses.sent == [] and driver.deferrals == 10
    assert {round(due - clock.now.timestamp(), 6) for due, _, _ in driver.parked} == {2}
    # And the verification emails go out, then (a second later) the announcements
    assert driver.invoke("EmailQueue") == 5
    assert ses.order() == [f"baru{i}@example.id" for i in range(5)]
    clock.advance(2)
    driver.run()
    assert sorted(ses.order()[5:]) == sorted(f"peserta{i}@example.id" for i in range(10))


def test_without_a_token_a_record_goes_back_for_the_wait_instead_of_sleeping(stack, clock, monkeypatch):
    # Given a sender that may not wait in-process at all, and 25 emails for a burst of 20
    load_sender(stack, clock, SES_SEND_RATE="20", SES_BURST="20", SES_MAX_WAIT_SECONDS="0")
    ses = SesStub(clock).install(monkeypatch)
    enqueue(stack, "EmailQueue", [transactional_body(i) for i in range(25)])
    driver = Driver(stack, clock, monkeypatch)
    # When three batches are handled at one instant
    for _ in range(3):
        driver.invoke("EmailQueue")
    # Then the burst went out and the rest came back later, after a visibility of the wait (1 s)
    assert len(ses.sent) == 20 and driver.deferrals == 5
    assert {round(due - clock.now.timestamp(), 6) for due, _, _ in driver.parked} == {1}
    driver.run()
    assert len(set(ses.order())) == 25


def test_an_ses_throttle_backs_off_longer_on_each_receive(stack, clock, monkeypatch):
    # Given SES refusing the first three attempts for one address
    load_sender(stack, clock)
    ses = SesStub(clock, throttle_first={"baru0@example.id": 3}).install(monkeypatch)
    enqueue(stack, "EmailQueue", [transactional_body(0)])
    driver = Driver(stack, clock, monkeypatch)
    waits = []
    for _ in range(3):
        # When the message is received and throttled
        driver.release_due()
        driver.invoke("EmailQueue")
        due = driver.parked[-1][0]
        waits.append(round(due - clock.now.timestamp()))
        clock.advance(due - clock.now.timestamp())
    # Then it went back for 2, 4 and 8 seconds, and the fourth attempt was sent
    assert waits == [2, 4, 8]
    driver.run()
    assert ses.order() == ["baru0@example.id"]


def test_the_sample_event_from_an_unknown_queue_counts_as_transactional(stack, clock, monkeypatch):
    # Given verification mail waiting on the transactional queue
    load_sender(stack, clock)
    ses = SesStub(clock).install(monkeypatch)
    enqueue(stack, "EmailQueue", [transactional_body(i) for i in range(3)])
    event = json.loads((stack.template.root / "events" / "sqs_email.json").read_text(encoding="utf-8"))
    # When a record comes from a queue the sender does not know (the sample event's ARN)
    result = stack.registry.invoke(SENDER, event)
    # Then it is served, never held back as bulk
    assert result == {"batchItemFailures": []} and ses.order() == ["someone@example.id"]
