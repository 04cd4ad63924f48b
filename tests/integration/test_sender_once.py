"""One email per outbox message (issue 15 item 4): every copy of a message carries its outbox id
as the ``dedupe_id`` attribute, and the sender (``EmailSenderFunction``, Powertools idempotency
over the Idempotency table) sends one email per id: a duplicate SQS delivery, the sweeper's
re-queue after a delete that failed, and the API's dispatch racing the sweeper each end in one
email; a copy that arrives while the first is being sent goes back to its queue; a send whose
invocation died after writing its record is sent again once the record's in-progress expiry has
passed, never lost.

Powertools reads the wall clock (``datetime.now``) for its expiries, not the project clock:
:func:`powertools_ahead` moves the clock its modules see, as the tests' clock moves the project's.
"""

from __future__ import annotations

import datetime as real_dt
import json
import types
from collections.abc import Callable

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import base as idem_base
from aws_lambda_powertools.utilities.idempotency.persistence import base as idem_persistence
from aws_lambda_powertools.utilities.idempotency.persistence import datarecord as idem_record
from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb as idem_dynamodb
from botocore.exceptions import ClientError

from prakerja import clock as prakerja_clock
from prakerja.adapters import outbox as outbox_module
from prakerja.adapters.mailer import Mailer
from prakerja.adapters.outbox import DEDUPE_ATTRIBUTE, Outbox
from prakerja.services import mail
from prakerja.services.sender import IN_PROGRESS_RETRY_SECONDS
from prakerja_local.functions import LambdaContext
from tests.integration.support import mailbox
from tests.integration.test_outbox import SCHEDULE

SENDER = "EmailSenderFunction"
REGION = "ap-southeast-3"


class Died(BaseException):
    """Stands for the sender's process dying mid-send (no ``except Exception`` sees it, so
    Powertools cannot remove the record it wrote, as after a real crash)."""


def sqs():
    return boto3.client("sqs", region_name=REGION)


def mails(address: str) -> list[dict]:
    return [m for m in mailbox() if m["to"] == address]


def queue_email(stack, address: str) -> mail.Message:
    """An email stored in the outbox and dispatched, as a service does after its transaction."""
    outbox = Outbox(stack.env("APPLICANTS_TABLE"), {"email": stack.resources.ref("EmailQueue")})
    message = mail.email_message(mail.TRANSACTIONAL, "already_registered", address,
                                 {"base": "https://prakerja.example"}, ref="x")
    assert stack_store_transact(stack, outbox.put_items([message], prakerja_clock.now()))
    outbox.dispatch([message])
    return message


def stack_store_transact(stack, items: list[dict]) -> bool:
    from prakerja.adapters.applicants import ApplicantStore

    return ApplicantStore(stack.env("APPLICANTS_TABLE")).transact(items)


def depth(stack, queue_id: str) -> int:
    attributes = sqs().get_queue_attributes(QueueUrl=stack.resources.ref(queue_id),
                                            AttributeNames=["ApproximateNumberOfMessages",
                                                            "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def failures(result: dict | None) -> set[str]:
    return {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}


def powertools_ahead(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Powertools' idempotency modules see the wall clock ``seconds`` later than it is."""

    class Later(real_dt.datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206  datetime's signature
            return real_dt.datetime.now(tz) + real_dt.timedelta(seconds=seconds)

    shifted = types.SimpleNamespace(datetime=Later, timedelta=real_dt.timedelta, date=real_dt.date,
                                    time=real_dt.time)
    for module in (idem_base, idem_persistence, idem_record, idem_dynamodb):
        monkeypatch.setattr(module, "dt", shifted)


def test_messages_from_the_outbox_carry_their_outbox_id_as_the_dedupe_id(stack):
    # When a service dispatches an email stored in the outbox
    message = queue_email(stack, "dedupe.id@example.id")
    # Then the queued message names it by its outbox id
    event = stack.sqs_event("EmailQueue")
    assert event["Records"][0]["messageAttributes"][DEDUPE_ATTRIBUTE]["stringValue"] == message.outbox_id
    stack.release("EmailQueue", event)
    assert stack.drain("EmailQueue", SENDER) == 1


def test_a_duplicate_sqs_delivery_of_the_same_message_sends_one_email(stack):
    # Given an email queued once, sent by the sender
    address = "duplikat.sqs@example.id"
    queue_email(stack, address)
    event = stack.sqs_event("EmailQueue")
    assert failures(stack.registry.invoke(SENDER, event)) == set()
    assert len(mails(address)) == 1
    # When SQS delivers the same message again (its delete after the batch was lost)
    again = stack.registry.invoke(SENDER, event)
    # And a second copy of it is on the queue too (a SendMessage retried after a timeout)
    record = event["Records"][0]
    sqs().send_message(QueueUrl=stack.resources.ref("EmailQueue"), MessageBody=record["body"],
                       MessageAttributes={k: {"DataType": v["dataType"], "StringValue": v["stringValue"]}
                                          for k, v in record["messageAttributes"].items()})
    sqs().delete_message(QueueUrl=stack.resources.ref("EmailQueue"), ReceiptHandle=record["receiptHandle"])
    # Then each copy is acknowledged, and the address got the email once
    assert failures(again) == set()
    assert stack.drain("EmailQueue", SENDER) == 1
    assert len(mails(address)) == 1
    assert depth(stack, "EmailQueue") == 0


def _delete_fails_once(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The next DeleteItem of an outbox item fails after SQS accepted the message (a write
    conflict); returns the keys it refused."""
    refused: list[dict] = []
    original = outbox_module.table

    class OneRefusal:
        def __init__(self, name: str) -> None:
            self._table = original(name)

        def delete_item(self, **kwargs):  # noqa: ANN003, ANN201
            if not refused:
                refused.append(kwargs["Key"])
                raise ClientError({"Error": {"Code": "TransactionConflictException", "Message": "conflict"}},
                                  "DeleteItem")
            return self._table.delete_item(**kwargs)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self._table, name)

    monkeypatch.setattr(outbox_module, "table", OneRefusal)
    return refused


def test_the_sweepers_requeue_after_a_failed_delete_sends_one_email(stack, clock, monkeypatch):
    # Given an email stored in the outbox and never queued, past the grace period
    address = "sapu.ulang@example.id"
    outbox = Outbox(stack.env("APPLICANTS_TABLE"), {})
    message = mail.email_message(mail.TRANSACTIONAL, "already_registered", address,
                                 {"base": "https://prakerja.example"}, ref="x")
    assert stack_store_transact(stack, outbox.put_items([message], prakerja_clock.now()))
    clock.advance(61)
    # When the sweeper queues it but its delete of the outbox item fails
    refused = _delete_fails_once(monkeypatch)
    with pytest.raises(ClientError):
        stack.registry.invoke("OutboxSweeperFunction", SCHEDULE)
    assert refused and depth(stack, "EmailQueue") == 1
    # And the next sweep queues it again
    clock.advance(60)
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 1}
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 0}
    # Then both copies name the same outbox item, both are handled, and one email went
    copies = stack.sqs_event("EmailQueue")["Records"]
    assert [r["messageAttributes"][DEDUPE_ATTRIBUTE]["stringValue"] for r in copies] == [message.outbox_id] * 2
    stack.release("EmailQueue", {"Records": copies})
    assert stack.drain("EmailQueue", SENDER) == 2
    assert len(mails(address)) == 1


def test_the_apis_dispatch_and_the_sweepers_resend_of_one_item_send_one_email(stack, clock, monkeypatch):
    # Given a service's dispatch queued an email but could not delete its outbox item
    address = "kirim.dua@example.id"
    refused = _delete_fails_once(monkeypatch)
    queue_email(stack, address)  # a capacity problem: logged and left to the sweeper
    assert refused and depth(stack, "EmailQueue") == 1
    # When the sweeper finds the item after the grace period and queues it again
    clock.advance(61)
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 1}
    # Then the sender sends it once
    assert stack.drain("EmailQueue", SENDER) == 2
    assert len(mails(address)) == 1


class Remaining(LambdaContext):
    """A Lambda context with a fixed remaining time (milliseconds)."""

    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _die_on_first_send(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first SES call kills the process (before SES accepted anything)."""
    attempts: list[str] = []
    original: Callable = Mailer._send_email

    def send_email(mailer: Mailer, request: dict) -> dict:
        attempts.append(request["Destination"]["ToAddresses"][0])
        if len(attempts) == 1:
            raise Died
        return original(mailer, request)

    monkeypatch.setattr(Mailer, "_send_email", send_email)
    return attempts


def test_a_crash_after_the_record_is_written_is_retried_after_its_expiry_not_lost(stack, monkeypatch):
    # Given the sender's invocation (30 s left) died after writing the INPROGRESS record,
    # before SES accepted the email
    address = "mati.tengah@example.id"
    queue_email(stack, address)
    attempts = _die_on_first_send(monkeypatch)
    handler = stack.registry.handler(SENDER)
    event = stack.sqs_event("EmailQueue")
    with pytest.raises(Died):
        handler(event, Remaining(SENDER, 512, 30))
    assert attempts == [address] and mails(address) == []
    # When the message comes back while the record is still in progress (10 s later)
    powertools_ahead(monkeypatch, 10)
    early = handler(event, Remaining(SENDER, 512, 30))
    # Then it is not sent and not dropped: reported failed, put back for a while
    assert failures(early) == {event["Records"][0]["messageId"]}
    assert mails(address) == [] and depth(stack, "EmailQueue") == 1
    assert IN_PROGRESS_RETRY_SECONDS <= 30
    # And when it comes back after the record's in-progress expiry (the queue's visibility
    # timeout, 180 s, is always later than the 30 s of the invocation that died)
    powertools_ahead(monkeypatch, 181)
    stack.release("EmailQueue", event)
    assert stack.drain("EmailQueue", SENDER) == 1
    # Then the email is sent, once
    assert len(mails(address)) == 1 and attempts == [address, address]


def test_a_copy_arriving_while_the_first_is_sent_goes_back_to_the_queue_and_is_then_acknowledged(stack,
                                                                                               monkeypatch):
    # Given one copy of an email is being sent (its record INPROGRESS: the SES call is slow)
    address = "sedang.kirim@example.id"
    queue_email(stack, address)
    event = stack.sqs_event("EmailQueue")
    handler = stack.registry.handler(SENDER)
    copy_result: dict = {}
    original: Callable = Mailer._send_email

    def slow_send(mailer: Mailer, request: dict) -> dict:
        # When the other copy arrives meanwhile
        copy_result.update(handler(event, Remaining(SENDER, 512, 30)) or {})
        return original(mailer, request)

    monkeypatch.setattr(Mailer, "_send_email", slow_send)
    first = handler(event, Remaining(SENDER, 512, 30))
    # Then the copy was reported failed (back to the queue, not dropped) and the first sent
    assert failures(copy_result) == {event["Records"][0]["messageId"]}
    assert failures(first) == set() and len(mails(address)) == 1
    # And when the copy comes back it is acknowledged without a second email
    monkeypatch.setattr(Mailer, "_send_email", original)
    assert failures(handler(event, Remaining(SENDER, 512, 30))) == set()
    assert len(mails(address)) == 1


def test_a_message_without_a_dedupe_id_is_still_sent_and_a_malformed_one_is_refused(stack):
    # Given messages queued without the attribute (an earlier release) and with a bad one
    body = json.dumps({"template": "already_registered", "to": "tanpa.id@example.id",
                       "params": {"base": "https://prakerja.example"}, "ref": "x"})
    url = stack.resources.ref("EmailQueue")
    sqs().send_message(QueueUrl=url, MessageBody=body)
    sqs().send_message(QueueUrl=url, MessageBody=body.replace("tanpa.id", "id.rusak"),
                       MessageAttributes={DEDUPE_ATTRIBUTE: {"DataType": "String", "StringValue": "x y"}})
    event = stack.sqs_event("EmailQueue")
    result = stack.registry.invoke(SENDER, event)
    # Then the first is sent (at least once, as before) and the malformed one goes back (to the DLQ)
    bad = [r["messageId"] for r in event["Records"] if DEDUPE_ATTRIBUTE in r["messageAttributes"]]
    assert failures(result) == set(bad)
    assert len(mails("tanpa.id@example.id")) == 1 and mails("id.rusak@example.id") == []
