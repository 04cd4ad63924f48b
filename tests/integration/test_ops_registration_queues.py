"""``prakerja-ops registration pause|resume|status``, ``queues`` and ``dlq redrive`` on moto: a paused
sign-up while submitted work keeps flowing, queue depths, and a redriven message that is then
processed (through the environment's names, as a function sees them, and through ``--endpoint``)."""

from __future__ import annotations

import io
import json

import boto3
import pytest

from prakerja_ops import target
from prakerja_ops.cli import main as ops_main
from tests.integration.harness import REGION
from tests.integration.support import PASSWORD, mailbox, sign_in
from tests.integration.test_biodata_nik import register_person, status
from tests.integration.test_nik_worker import deliver, queue_depth, submit, tune
from tests.integration.test_ops_targets import moto_server  # noqa: F401 (a fixture)


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def sqs():
    return boto3.client("sqs", region_name=REGION)


@pytest.fixture
def named(stack, monkeypatch):
    """The stack's resources named in the environment, as the ops command reads them without a
    target option; sign-up reads the switch afresh on every request (no 10 s cache)."""
    for field, logical in target.LOGICAL_IDS.items():
        monkeypatch.setenv(field.upper(), stack.resources.ref(logical))
    tune(stack, "RegisterFunction", registration_switch_max_age_seconds=0)
    return stack


def sign_up(stack, email: str):
    return stack.call("POST", "/v1/accounts", {"email": email, "password": PASSWORD, "consent": True})


def test_a_paused_sign_up_answers_503_while_a_queued_nik_check_still_completes(named, ministry, clock):
    stack = named
    # Given an applicant whose NIK check is queued
    register_person(ministry)
    token, _ = submit(stack, "budi@example.id")
    assert status(stack, token)["status"] == "PENDING"

    # When an operator pauses registration (refused without confirmation first)
    assert ops("registration", "pause", "--retry-after", "120")[0] == 1
    code, out, err = ops("registration", "pause", "--retry-after", "120", "--yes")
    assert code == 0 and "registration PAUSED" in out, err

    # Then sign-up answers 503 REGISTRATION_PAUSED with Retry-After, and sends no email
    sent = len(mailbox())
    paused = sign_up(stack, "siti@example.id")
    assert paused.status == 503 and paused.headers["retry-after"] == "120"
    assert paused.body["code"] == "REGISTRATION_PAUSED"
    stack.drain("EmailQueue", "EmailSenderFunction")
    assert len(mailbox()) == sent
    # and status says so
    state = json.loads(ops("registration", "status", "--json")[1])
    assert state["paused"] is True and state["retry_after"] == 120 and state["readable"] is True
    # while sign-in and the queued NIK check go on
    assert sign_in(stack, "budi@example.id")["access_token"]
    assert stack.drain("NikQueue", "NikWorkerFunction") == 1
    assert status(stack, token)["status"] == "VERIFIED"

    # When the operator resumes
    code, out, err = ops("registration", "resume")
    assert code == 0 and "registration OPEN" in out, err
    # Then sign-up works again and the new applicant gets the email
    assert sign_up(stack, "siti@example.id").status == 202
    stack.drain("EmailQueue", "EmailSenderFunction")
    assert [m["to"] for m in mailbox()[sent:]] == ["siti@example.id"]


def test_a_redriven_nik_check_is_then_processed(named, ministry, clock):
    stack = named
    # Given a NIK check dead-lettered after its one allowed attempt while the ministry was out
    tune(stack, ministry_max_attempts=1, ministry_backoff_base_seconds=0)
    register_person(ministry)
    token, _ = submit(stack, "dlq@example.id")
    ministry.simulator.settings.update({"outage": True})
    assert deliver(stack) == set()
    assert queue_depth(stack, "NikQueue") == 0 and queue_depth(stack, "NikDLQ") == 1
    assert status(stack, token)["status"] == "PENDING"
    # and a ministry that is back
    ministry.simulator.settings.update({"outage": False})
    clock.advance(1)

    # When the operator redrives the NIK DLQ (refused without confirmation first)
    assert ops("dlq", "redrive", "nik")[0] == 1
    assert queue_depth(stack, "NikDLQ") == 1
    code, out, err = ops("dlq", "redrive", "nik", "--yes")

    # Then the message is back on the NIK queue (moto has no move task: moved by copy)
    assert code == 0 and "moved 1 messages" in out, err
    assert queue_depth(stack, "NikDLQ") == 0 and queue_depth(stack, "NikQueue") == 1
    # and the worker processes it: the applicant is verified
    assert stack.drain("NikQueue", "NikWorkerFunction") == 1
    assert status(stack, token)["status"] == "VERIFIED"


def test_redrive_by_copy_keeps_body_and_message_attributes(named):
    stack = named
    dlq, queue = stack.resources.ref("EmailDLQ"), stack.resources.ref("EmailQueue")
    for i in range(13):  # more than one batch of ten
        sqs().send_message(QueueUrl=dlq, MessageBody=json.dumps({"n": i}),
                           MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": f"c{i}"}})
    code, out, err = ops("dlq", "redrive", "email", "--yes")
    assert code == 0 and "moved 13 messages" in out, err
    got = []
    while batch := sqs().receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                         MessageAttributeNames=["All"]).get("Messages"):
        got += [(json.loads(m["Body"])["n"], m["MessageAttributes"]["correlation_id"]["StringValue"]) for m in batch]
        sqs().delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(batch)])
    assert sorted(got) == [(i, f"c{i}") for i in range(13)]


def test_queues_prints_every_queue_with_its_depths_and_dlq_depth(named):
    stack = named
    # Given two NIK checks waiting, one of them received (in flight), and one email dead-lettered
    for i in range(2):
        sqs().send_message(QueueUrl=stack.resources.ref("NikQueue"), MessageBody=json.dumps({"n": i}))
    sqs().receive_message(QueueUrl=stack.resources.ref("NikQueue"), MaxNumberOfMessages=1, VisibilityTimeout=300)
    sqs().send_message(QueueUrl=stack.resources.ref("EmailDLQ"), MessageBody="{}")
    # When the operator lists the queues
    code, out, err = ops("queues")
    rows = json.loads(ops("queues", "--json")[1])
    # Then every queue is listed with its counts and its DLQ's depth
    assert code == 0, err
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert set(lines) >= {"email", "bulk-email", "nik", "upload", "draw", "bounce"}
    assert lines["nik"][1:4] == ["1", "1", "0"] and lines["nik"][-1] == "0"
    assert lines["email"][-1] == "1" and lines["draw"][1:] == ["0", "0", "0", "-", "0"]
    by_queue = {r["queue"]: r for r in rows}
    assert by_queue["nik"]["visible"] == 1 and by_queue["nik"]["in_flight"] == 1
    assert by_queue["email"]["dlq"]["depth"] == 1 and by_queue["email"]["dlq"]["name"].endswith("EmailDLQ")
    assert "DLQ" in out.splitlines()[1] and "dlq redrive" in out


def test_on_the_local_stack_queues_say_no_age_and_the_switch_is_provisioned(moto_server):  # noqa: F811
    endpoint, physical = moto_server
    # Given the local stack's moto, provisioned from the template (the switch open)
    code, out, err = ops("--endpoint", endpoint, "registration", "status", "--json")
    assert code == 0, err
    assert json.loads(out) | {"changed_at": None} == {
        "parameter": physical["RegistrationSwitch"]["Ref"], "paused": False, "retry_after": 900,
        "changed_at": None, "readable": True}
    # When a message waits in the draw DLQ
    client = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    client.send_message(QueueUrl=physical["DrawDLQ"]["Ref"], MessageBody="{}")
    # Then queues shows its depth and "n/a" for the age (no CloudWatch locally)
    code, out, err = ops("--endpoint", endpoint, "queues")
    assert code == 0, err
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:] if line.strip()}
    assert lines["draw"][4:] == ["n/a", "1"]
    # and a redrive moves it by copy
    code, out, err = ops("--endpoint", endpoint, "dlq", "redrive", "draw", "--yes")
    assert code == 0 and "moved 1 messages" in out, err


def test_on_aws_redrive_starts_a_message_move_task_from_the_dlq_to_its_queue(named, monkeypatch):
    stack = named
    # Given SQS's message-move API (moto lacks it: a stand-in records the call)
    from prakerja.adapters import queues as adapter

    started = []
    monkeypatch.setattr(adapter, "start_move", lambda source, destination: started.append((source, destination))
                        or "task-handle-1")
    progress = {"Status": "RUNNING", "ApproximateNumberOfMessagesMoved": 0, "ApproximateNumberOfMessagesToMove": 3}
    monkeypatch.setattr(adapter, "move_task", lambda source: progress)
    # When the operator redrives the upload DLQ on a deployed stack
    code, out, err = ops("dlq", "redrive", "upload", "--yes")
    # Then a move task from the DLQ to its queue was started, and its handle and progress printed
    assert code == 0, err
    assert started == [(stack.resources.att("UploadDLQ", "Arn"), stack.resources.att("UploadQueue", "Arn"))]
    assert "task handle  task-handle-1" in out and "status       RUNNING moved=0 to_move=3" in out
