"""The sample events under events/ (from `sam local generate-event`) through the real handlers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.support import mailbox

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_the_http_sign_up_event_is_answered_202(stack):
    result = stack.registry.invoke("RegisterFunction", load("http_post_accounts.json"))
    assert result["statusCode"] == 202


def test_the_email_queue_event_sends_one_email(stack):
    assert stack.registry.invoke("EmailSenderFunction", load("sqs_email.json")) == {"batchItemFailures": []}
    assert [m["to"] for m in mailbox()] == ["someone@example.id"]


def test_the_s3_test_event_is_accepted_and_ignored(stack):
    assert stack.registry.invoke("KtpProcessFunction", load("sqs_s3_test_event.json")) == {"batchItemFailures": []}


def test_an_s3_event_for_an_unknown_upload_is_ignored_not_retried(stack):
    assert stack.registry.invoke("KtpProcessFunction", load("sqs_s3_put.json")) == {"batchItemFailures": []}


def test_a_nik_check_for_an_unknown_applicant_is_stale_and_makes_no_call(stack, ministry):
    assert stack.registry.invoke("NikWorkerFunction", load("sqs_nik_check.json")) == {"batchItemFailures": []}
    assert ministry.simulator.counters["calls"] == 0


def test_the_schedule_event_runs_the_tick_and_other_events_are_refused(stack):
    assert stack.registry.invoke("BatchTickFunction", load("schedule_tick.json"))["ok"] is True
    assert stack.registry.invoke("BatchTickFunction", {"detail-type": "Something else"})["ok"] is False


def test_malformed_queue_messages_fail_back_to_the_queue_never_vanish(stack):
    event = load("sqs_email.json")
    for record in event["Records"]:
        record["body"] = "{not json"
    failures = stack.registry.invoke("EmailSenderFunction", event)["batchItemFailures"]
    assert len(failures) == len(event["Records"])
    # the NIK worker moves a poison message to its DLQ itself (it counts attempts on its own)
    nik = load("sqs_nik_check.json")
    nik["Records"][0]["body"] = json.dumps({"applicant_id": 5})
    result = stack.registry.invoke("NikWorkerFunction", nik)
    import boto3

    dlq = boto3.client("sqs").receive_message(QueueUrl=stack.resources.ref("NikDLQ"), MaxNumberOfMessages=10)
    in_dlq = [m["Body"] for m in dlq.get("Messages", [])]
    assert len(result["batchItemFailures"]) == 1 or nik["Records"][0]["body"] in in_dlq
