"""Nothing stored as pending is stranded: a crash between the write and the queue is repaired."""

from __future__ import annotations

from prakerja.adapters.outbox import Outbox
from tests.integration.support import mailbox


class Killed(Exception):
    """Stands for the process dying between the transaction and the SQS call."""


def crash(self, messages):
    raise Killed


SCHEDULE = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def test_a_crash_between_writing_the_account_and_queueing_its_email_is_repaired(stack, clock, monkeypatch):
    # Given the process dies right after the transaction (before SQS is called)
    monkeypatch.setattr(Outbox, "dispatch", crash)
    r = stack.call("POST", "/v1/accounts", {"email": "putri@example.id", "password": "kucing-oranye-77",
                                            "consent": True})
    assert r.status == 500 and r.body["code"] == "INTERNAL_ERROR"
    monkeypatch.undo()
    assert stack.drain("EmailQueue", "EmailSenderFunction") == 0
    # When the sweeper runs inside the grace period nothing is sent twice
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 0}
    # and after the grace period it queues the stranded email
    clock.advance(61)
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 1}
    # Then the email is delivered and the outbox is empty
    assert stack.drain("EmailQueue", "EmailSenderFunction") == 1
    assert [m["to"] for m in mailbox()] == ["putri@example.id"]
    assert stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 0}


def test_a_crash_before_queueing_a_nik_check_is_repaired(stack, clock, monkeypatch, ministry):
    from tests.integration.support import verified_applicant
    from tests.integration.test_biodata_nik import DOB, NIK, form

    ministry.simulator.add({"nik": NIK, "full_name": "Budi Santoso", "date_of_birth": DOB.isoformat()})
    token = verified_applicant(stack, "rudi@example.id")
    monkeypatch.setattr(Outbox, "dispatch", crash)
    assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 500
    monkeypatch.undo()
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "PENDING"
    clock.advance(61)
    stack.registry.invoke("OutboxSweeperFunction", SCHEDULE)
    assert stack.drain("NikQueue", "NikWorkerFunction") == 1
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "VERIFIED"


def test_queued_work_carries_the_correlation_id_of_the_request_that_queued_it(stack):
    # When a sign-up request with a known request id queues its email
    from tests.integration.harness import http_event

    event = http_event("POST", "/v1/accounts", "POST /v1/accounts", {}, {"content-type": "application/json"},
                       '{"email": "tono@example.id", "password": "kucing-oranye-77", "consent": true}')
    event["requestContext"]["requestId"] = "req-correlation-1"
    assert stack.registry.invoke("RegisterFunction", event)["statusCode"] == 202
    # Then the queued message carries it as an attribute for the worker's logs
    import boto3

    got = boto3.client("sqs").receive_message(QueueUrl=stack.env("EMAIL_QUEUE_URL"), MessageAttributeNames=["All"])
    assert got["Messages"][0]["MessageAttributes"]["correlation_id"]["StringValue"] == "req-correlation-1"
