"""Injected AWS faults on the queue and schedule workers (issue 15, item 4).

The faults and the switch are ``tests/integration/test_faults.py``'s (``FAULTS``, ``inject``).
Which faults apply to a worker is derived from what its code calls: ``tests/infra/iam_needs.yaml``
lists every AWS action each function's adapters make (the session's IAM probe fails the run on a
call a function makes that the list lacks, and the infra tests hold the template's grants to
it), so a fault on a service, or on operations, a worker never calls is "n/a"
(``test_the_fault_cells_are_the_calls_each_worker_makes`` pins that table, which
docs/security.md repeats).

For every worker and every fault that applies, the worker meets the fault on its real path
(the test asserts an injected call failed), and:

- the record is reported failed (partial batch response) or the invocation raises (SQS, or the
  schedule, runs it again), and nothing is half-written (no verdict recorded without its
  marker, no email without its record, no batch moved on without its fan-out);
- once the fault is gone, one redelivery (or the next run) completes the work exactly once:
  one email per address, one recorded verdict, no lost NIK check, the draw done once with one
  audit record that re-runs to the stored result.

One moto world for the module (the clock moves forward only); each cell makes its own
applicants, uploads, batches and messages, and leaves every queue it used empty.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws as aws_adapter
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.outbox import Outbox
from prakerja.domain import selection
from prakerja.domain.draw import verify_audit
from prakerja.domain.nik import build_nik
from prakerja.services import mail
from tests.integration.conftest import MovableClock
from tests.integration.harness import Stack, start_stack
from tests.integration.support import mailbox, sign_in, sign_up, verified_applicant
from tests.integration.test_biodata_nik import DOB, form, register_person
from tests.integration.test_faults import FAULTS, Fault, inject
from tests.integration.test_ktp import PHOTOS, presign, upload
from tests.integration.test_outbox import SCHEDULE

IAM_NEEDS = Path(__file__).parents[1] / "infra" / "iam_needs.yaml"

#: the workers (function ids of template.yaml) and what drives them
WORKERS = {
    "NikWorkerFunction": "NikQueue",
    "KtpProcessFunction": "UploadQueue (S3 ObjectCreated)",
    "KtpVerdictFunction": "KtpVerdictQueue",
    "BatchTickFunction": "schedule",
    "DrawResultsFunction": "DrawQueue",
    "EmailSenderFunction": "BulkEmailQueue",
    "OutboxSweeperFunction": "schedule",
}

#: botocore's service names of the IAM prefixes
_SERVICE = {"dynamodb": "dynamodb", "sqs": "sqs", "kms": "kms", "s3": "s3", "secretsmanager": "secretsmanager",
            "ssm": "ssm", "ses": "sesv2"}


@functools.cache
def _needs() -> dict:
    return yaml.safe_load(IAM_NEEDS.read_text(encoding="utf-8"))


def calls(function_id: str) -> dict[str, set[str]]:
    """service -> the actions ``function_id``'s code makes there (iam_needs.yaml)."""
    needs = _needs()[function_id]
    out: dict[str, set[str]] = {}
    for resource, actions in needs.items():
        service = _SERVICE[resource.split(":", 1)[0]]
        out.setdefault(service, set()).update(a.split(":", 1)[1] for a in actions)
    return out


def applies(function_id: str, fault: Fault) -> bool:
    """Whether ``fault`` hits a call the worker makes (its service, and one of its operations)."""
    made = calls(function_id).get(fault.service)
    return bool(made) and (not fault.operations or bool(made & fault.operations))


def cells(function_id: str) -> list[str]:
    return [name for name, fault in FAULTS.items() if applies(function_id, fault)]


#: the n/a cells, as docs/security.md's table states them
NOT_APPLICABLE = {
    "NikWorkerFunction": {"s3_slow_down", "ssm_unreachable"},
    "KtpProcessFunction": {"dynamodb_throughput", "dynamodb_throttling", "dynamodb_transaction_conflict",
                           "dynamodb_internal_error", "kms_throttling", "secrets_unreachable", "ssm_unreachable"},
    "KtpVerdictFunction": {"sqs_send_fails", "kms_throttling", "secrets_unreachable", "ssm_unreachable"},
    "BatchTickFunction": {"kms_throttling", "secrets_unreachable", "ssm_unreachable"},
    "DrawResultsFunction": {"kms_throttling", "s3_slow_down", "secrets_unreachable", "ssm_unreachable"},
    # the sender receives, defers (ChangeMessageVisibility) and reads the backlog, never sends to SQS
    "EmailSenderFunction": {"sqs_send_fails", "kms_throttling", "s3_slow_down", "secrets_unreachable",
                            "ssm_unreachable"},
    "OutboxSweeperFunction": {"kms_throttling", "s3_slow_down", "secrets_unreachable", "ssm_unreachable"},
}


def test_the_fault_cells_are_the_calls_each_worker_makes():
    # Given the reviewed list of each worker's AWS calls
    # Then the faults that do not apply are exactly the stated n/a cells
    got = {w: set(FAULTS) - set(cells(w)) for w in WORKERS}
    assert got == NOT_APPLICABLE


# ------------------------------------------------------------------ the world
@dataclass
class World:
    stack: Stack
    clock: MovableClock
    ministry: object
    serial: Iterator[int]

    def next(self) -> int:
        return next(self.serial)


@pytest.fixture(scope="module")
def w(ministry) -> Iterator[World]:
    """One moto world for the module, its clock moving only forward."""
    import itertools

    c = MovableClock(datetime(2026, 4, 11, 3, 0, tzinfo=UTC))
    prakerja_clock.set_source(lambda: c.now)
    ministry.simulator.__init__()
    try:
        with mock_aws():
            aws_adapter.reset()
            stack = start_stack({"MinistryUrl": ministry.url, "SesBurst": "100000"})
            # the NIK worker (before its cold start): one real attempt (so a failing ministry
            # reaches the dead-letter send at once), no backoff, no breaker in the way, no token wait
            stack.registry.environments["NikWorkerFunction"].update({
                "MINISTRY_MAX_ATTEMPTS": "1", "MINISTRY_CIRCUIT_FAILURES": "1000",
                "MINISTRY_BACKOFF_BASE_SECONDS": "0", "MINISTRY_TOKEN_WAIT_SECONDS": "0"})
            yield World(stack, c, ministry, itertools.count())
            aws_adapter.reset()
    finally:
        prakerja_clock.set_source(None)


def sqs():
    return boto3.client("sqs")


def under(w: World, fault: str, function_id: str, event: dict) -> tuple[set[str], list[str]]:
    """Invoke ``function_id`` with ``event`` while ``fault`` is on: (the records reported failed,
    every record when the invocation raised; the operations the fault failed)."""
    with pytest.MonkeyPatch.context() as patch, inject(patch, FAULTS[fault]) as failed_calls:
        try:
            result = w.stack.registry.invoke(function_id, event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # the whole batch fails: SQS redelivers every record
            failed = {r["messageId"] for r in event.get("Records", [])}
    return failed, list(failed_calls)


def settle(w: World, queue: str, event: dict, failed: set[str]) -> None:
    """What the event source does after the invocation: delete the records that succeeded, and
    (as after their visibility timeout) make the failed ones visible again."""
    url = w.stack.resources.ref(queue)
    for record in event["Records"]:
        if record["messageId"] in failed:
            sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
        else:
            sqs().delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])


def depth(w: World, queue: str) -> int:
    attrs = sqs().get_queue_attributes(QueueUrl=w.stack.resources.ref(queue), AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def store(w: World) -> ApplicantStore:
    return ApplicantStore(w.stack.env("APPLICANTS_TABLE"))


def mails(address: str, subject: str = "") -> list[dict]:
    return [m for m in mailbox() if m["to"] == address and subject in m["subject"]]


def applicant_id(w: World, token: str) -> str:
    return w.stack.call("GET", "/v1/me", token=token).body["applicant_id"]


# ------------------------------------------------------------------ the NIK worker
@pytest.mark.parametrize("fault", cells("NikWorkerFunction"))
def test_the_nik_worker_under_a_fault_loses_no_check_and_records_it_once(w, fault):
    # Given a submitted biodata whose check is on NikQueue (the SQS fault: a ministry that
    # fails, so the worker's one call to SendMessage, the dead-letter, is on the path)
    n = w.next()
    nik = build_nik("32.01.01", DOB, "M", 100 + n)
    register_person(w.ministry, nik=nik)
    token = verified_applicant(w.stack, f"nik.{n}@example.id")
    assert w.stack.call("PUT", "/v1/me/biodata", form(nik=nik), token=token).status == 202
    aid = applicant_id(w, token)
    w.clock.advance(2)  # the ministry's token bucket refills
    event = w.stack.sqs_event("NikQueue")
    assert len(event["Records"]) == 1
    worker = w.stack.registry.module("NikWorkerFunction")
    worker.checks.envelopes._opened.clear()  # a fresh instance: no data key opened yet
    dead = fault == "sqs_send_fails"
    w.ministry.simulator.settings.update({"error_rate": 1.0 if dead else 0.0})
    try:
        # When the worker meets the fault
        failed, failed_calls = under(w, fault, "NikWorkerFunction", event)
        # Then the check is handed back to the queue and nothing of its outcome is written
        assert failed_calls, "the fault was not on the worker's path"
        assert failed == {event["Records"][0]["messageId"]}
        item = store(w).get_item(aid, "BIODATA")
        assert not item.get("check") and not item.get("dead_letters")
        assert w.stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "PENDING"
        # And once the service is back, one redelivery finishes it
        settle(w, "NikQueue", event, failed)
        w.clock.advance(2)
        assert w.stack.drain("NikQueue", "NikWorkerFunction", rounds=1) == 1
    finally:
        w.ministry.simulator.settings.update({"error_rate": 0.0})
    assert depth(w, "NikQueue") == 0
    item = store(w).get_item(aid, "BIODATA")
    dlq = w.stack.resources.ref("NikDLQ")
    if dead:  # the failing ministry: dead-lettered exactly once, the step still PENDING
        got = sqs().receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
        assert [json.loads(m["Body"])["applicant_id"] for m in got] == [aid]
        sqs().delete_message(QueueUrl=dlq, ReceiptHandle=got[0]["ReceiptHandle"])
        assert int(item["dead_letters"]) == 1 and not item.get("check")
        assert w.stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "PENDING"
    else:  # verified once: the check recorded, the step moved, no attempt counted, no dead letter
        assert item["check"]["result"] == "VERIFIED" and not int(item.get("attempts") or 0)
        assert w.stack.call("GET", "/v1/me", token=token).body["steps"]["nik"]["status"] == "VERIFIED"
        assert depth(w, "NikDLQ") == 0


# ------------------------------------------------------------------ the KTP photo parser and recorder
def ktp_status(w: World, token: str) -> dict:
    return w.stack.call("GET", "/v1/me", token=token).body["steps"]["ktp"]


@pytest.mark.parametrize("fault", cells("KtpProcessFunction"))
def test_the_ktp_photo_parser_under_a_fault_keeps_the_upload_and_queues_one_verdict(w, fault):
    # Given a photo that landed (its S3 notification on UploadQueue)
    token = verified_applicant(w.stack, f"ktp.{w.next()}@example.id")
    grant = presign(w.stack, token)
    upload(w.stack, grant, (PHOTOS / "jpg_orientation_portrait_1.jpg").read_bytes())
    key = grant["fields"]["key"]
    event = w.stack.sqs_event("UploadQueue")  # (and the bucket's s3:TestEvent, the first time)
    [landed] = [r["messageId"] for r in event["Records"] if grant["upload_id"] in r["body"]]
    # When the parser meets the fault
    failed, failed_calls = under(w, fault, "KtpProcessFunction", event)
    # Then the notification goes back to the queue, the original is kept and no verdict is queued
    # (a PROCESSING notice may be: the parser sends it, best effort, before the decode)
    assert failed_calls and landed in failed
    bucket = w.stack.env("KTP_BUCKET")
    assert boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
    assert set(queued_outcomes(w)) <= {"PROCESSING"}
    # And once the service is back, one redelivery queues exactly one verdict, which is recorded
    settle(w, "UploadQueue", event, failed)
    assert w.stack.drain("UploadQueue", "KtpProcessFunction", rounds=1) == 1
    assert sorted(o for o in queued_outcomes(w) if o != "PROCESSING") == ["VALID"]
    assert w.stack.drain("KtpVerdictQueue", "KtpVerdictFunction") >= 1
    assert depth(w, "KtpVerdictQueue") == 0
    assert ktp_status(w, token)["status"] == "VALID"
    assert not boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=key).get("Versions")


def queued_outcomes(w: World) -> list[str]:
    """The outcomes of the messages waiting on KtpVerdictQueue (read, left visible)."""
    got = sqs().receive_message(QueueUrl=w.stack.resources.ref("KtpVerdictQueue"), MaxNumberOfMessages=10,
                                VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"])["outcome"] for m in got]


def _verdict(aid: str, upload_id: str, version: str) -> str:
    return json.dumps({"applicant_id": aid, "upload_id": upload_id, "version": version, "outcome": "VALID",
                       "reason": None, "output_key": f"ktp/{aid}/{upload_id}.jpg"})


@pytest.mark.parametrize("fault", cells("KtpVerdictFunction"))
def test_the_ktp_verdict_recorder_under_a_fault_records_the_verdict_once(w, fault):
    # Given a parser's VALID verdict on KtpVerdictQueue for an issued upload (the S3 fault: a
    # verdict for an upload never issued, whose output the recorder deletes: its S3 call)
    token = verified_applicant(w.stack, f"vonis.{w.next()}@example.id")
    aid = applicant_id(w, token)
    bucket, s3 = w.stack.env("KTP_BUCKET"), boto3.client("s3")
    unknown = fault == "s3_slow_down"
    upload_id = "0" * 32 if unknown else presign(w.stack, token)["upload_id"]
    if unknown:
        s3.put_object(Bucket=bucket, Key=f"ktp/{aid}/{upload_id}.jpg", Body=b"jpeg")
    sqs().send_message(QueueUrl=w.stack.resources.ref("KtpVerdictQueue"), MessageBody=_verdict(aid, upload_id, "v1"))
    event = w.stack.sqs_event("KtpVerdictQueue")
    # When the recorder meets the fault
    failed, failed_calls = under(w, fault, "KtpVerdictFunction", event)
    # Then the verdict goes back to the queue with nothing recorded
    assert failed_calls and failed == {event["Records"][0]["messageId"]}
    upload_item = store(w).get_item(aid, f"KTP#{upload_id}")
    assert upload_item is None or "processed_version" not in upload_item
    assert ktp_status(w, token)["status"] == "NOT_STARTED"
    # And once the service is back, one redelivery records it, and a repeat is a duplicate
    settle(w, "KtpVerdictQueue", event, failed)
    assert w.stack.drain("KtpVerdictQueue", "KtpVerdictFunction", rounds=1) == 1
    if unknown:
        assert not s3.list_object_versions(Bucket=bucket, Prefix=f"ktp/{aid}/").get("Versions")
        assert ktp_status(w, token)["status"] == "NOT_STARTED"
        return
    assert ktp_status(w, token)["status"] == "VALID"
    assert store(w).get_item(aid, f"KTP#{upload_id}")["processed_version"] == "v1"
    module = w.stack.registry.module("KtpVerdictFunction")
    from prakerja.services.ktp import KtpVerdict

    assert module.verdicts.record(KtpVerdict.parse(_verdict(aid, upload_id, "v1"))) == "duplicate"


# ------------------------------------------------------------------ the draw: tick, results, bulk mail
TICK = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
SECRET = "rahasia-undian-gangguan-0003-abcdef"


@pytest.fixture(scope="module")
def members(w) -> list[tuple[str, str]]:
    """Two accounts (applicant id, address) seated in every batch the draw cells make."""
    out = []
    for i in range(2):
        address = f"peserta.{i}@example.id"
        sign_up(w.stack, address)  # the account is enough: the draw reads no step
        out.append((applicant_id(w, sign_in(w.stack, address)["access_token"]), address))
    w.stack.drain("EmailQueue", "EmailSenderFunction")  # their verification mail (bulk waits behind it)
    return out


def due_batch(w: World, members: list[tuple[str, str]]) -> str:
    """A batch closed an hour ago with its secret revealed and its announcement due, the two
    members seated in it (as a join writes them)."""
    batch_id = f"gangguan-{w.next()}"
    now = prakerja_clock.now()
    at = lambda h: prakerja_clock.iso(now + timedelta(hours=h))  # noqa: E731
    batches = BatchStore(w.stack.env("BATCHES_TABLE"))
    assert batches.put_batch({"batch_id": batch_id, "opens_at": at(-3), "closes_at": at(-2), "announce_at": at(-1),
                              "quota": 1, "commitment": selection.commitment(SECRET), "secret": SECRET,
                              "status": "SCHEDULED"})
    s = store(w)
    for aid, _ in members:
        assert s.transact([batches.member_put(batch_id, aid, {"joined_at": at(-2.5), "province_code": "32",
                                                              "priority": False}),
                           s.put_item(aid, f"MEMBER#{batch_id}", {"batch_id": batch_id, "joined_at": at(-2.5)})])
    return batch_id


def finish_draw(w: World) -> None:
    w.stack.drain("DrawQueue", "DrawResultsFunction")
    w.stack.drain("BulkEmailQueue", "EmailSenderFunction")


def drawn_once(w: World, batch_id: str, members: list[tuple[str, str]]) -> None:
    """The draw done once: ANNOUNCED, one audit record that re-runs to the stored seed, one
    result on each member (one selected), one announcement email each, every queue empty."""
    meta = BatchStore(w.stack.env("BATCHES_TABLE")).get_batch(batch_id)
    assert meta["status"] == "ANNOUNCED" and int(meta["participants"]) == 2 and int(meta["selected"]) == 1
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=w.stack.env("AUDIT_BUCKET"), Prefix=f"draws/{batch_id}")["Contents"]
    assert [o["Key"] for o in listed] == [f"draws/{batch_id}.json"]
    record = json.loads(s3.get_object(Bucket=w.stack.env("AUDIT_BUCKET"), Key=f"draws/{batch_id}.json")["Body"].read())
    assert verify_audit(record, selection.commitment(SECRET)) == [] and record["seed"] == meta["seed"]
    results = sorted(store(w).get_item(aid, f"MEMBER#{batch_id}")["result"] for aid, _ in members)
    assert results == ["NOT_SELECTED", "SELECTED"]
    assert [len(mails(address, f"gelombang {batch_id}")) for _, address in members] == [1, 1]
    assert depth(w, "DrawQueue") == depth(w, "BulkEmailQueue") == 0


@pytest.mark.parametrize("fault", cells("BatchTickFunction"))
def test_the_batch_tick_under_a_fault_draws_once_with_one_audit_record(w, members, fault):
    # Given a batch due to be closed, drawn and announced
    batch_id = due_batch(w, members)
    # When the tick meets the fault
    with pytest.MonkeyPatch.context() as patch, inject(patch, FAULTS[fault]) as failed_calls:
        with pytest.raises(Exception):  # noqa: B017  the schedule runs it again (and next minute)
            w.stack.registry.invoke("BatchTickFunction", TICK)
    # Then the batch is not moved on past what it did: not DRAWN before its results are queued
    assert failed_calls
    status = BatchStore(w.stack.env("BATCHES_TABLE")).get_batch(batch_id)["status"]
    assert status in {"SCHEDULED", "CLOSED"}, status
    # And once the service is back, the next tick draws and announces it, once
    done = w.stack.registry.invoke("BatchTickFunction", TICK)
    assert done["drawn"] == [batch_id] and done["announced"] == [batch_id]
    assert w.stack.registry.invoke("BatchTickFunction", TICK)["drawn"] == []
    finish_draw(w)
    drawn_once(w, batch_id, members)


@pytest.mark.parametrize("fault", cells("DrawResultsFunction"))
def test_the_draw_results_under_a_fault_write_each_result_and_send_each_email_once(w, members, fault):
    # Given a drawn and announced batch: its results and announcement chunks on DrawQueue
    batch_id = due_batch(w, members)
    assert w.stack.registry.invoke("BatchTickFunction", TICK)["announced"] == [batch_id]
    event = w.stack.sqs_event("DrawQueue")
    assert {json.loads(r["body"])["kind"] for r in event["Records"]} == {"results", "announce"}
    # When the fan-out meets the fault
    failed, failed_calls = under(w, fault, "DrawResultsFunction", event)
    # Then the chunks whose work failed go back to the queue
    assert failed_calls and failed
    settle(w, "DrawQueue", event, failed)
    # And once the service is back, redelivery finishes them: each result once, each email once
    finish_draw(w)
    drawn_once(w, batch_id, members)


@pytest.mark.parametrize("fault", cells("EmailSenderFunction"))
def test_the_bulk_email_sender_under_a_fault_sends_each_announcement_once(w, members, fault):
    # Given an announcement on BulkEmailQueue (as the fan-out sends it) and no transactional backlog
    address, batch_id = f"pengumuman.{w.next()}@example.id", f"massal-{fault}"
    message = mail.email_message(mail.BULK, "batch_result", address,
                                 {"batch_id": batch_id, "result": "SELECTED", "base": "https://prakerja.example"},
                                 ref=f"x:{batch_id}")
    outbox = Outbox(w.stack.env("APPLICANTS_TABLE"), {"bulk_email": w.stack.resources.ref("BulkEmailQueue")})
    outbox.send(message)
    assert depth(w, "EmailQueue") == 0
    event = w.stack.sqs_event("BulkEmailQueue")
    # When the sender meets the fault
    failed, failed_calls = under(w, fault, "EmailSenderFunction", event)
    # Then nothing was sent and the announcement is back on its queue
    assert failed_calls and failed == {event["Records"][0]["messageId"]}
    assert mails(address) == []
    settle(w, "BulkEmailQueue", event, failed)
    # And once the service is back, the address gets it exactly once
    assert w.stack.drain("BulkEmailQueue", "EmailSenderFunction", rounds=1) == 1
    assert len(mails(address, f"gelombang {batch_id}")) == 1


# ------------------------------------------------------------------ the outbox sweeper
#: the sweeper sends, then deletes the outbox item; when only the delete fails (a write conflict
#: or throttle after SQS accepted), the next sweep sends it again. Both copies carry the item's
#: dedupe id and the sender sends one email per id (issue 15; the xfail this cell was until then)
@pytest.mark.parametrize("fault", cells("OutboxSweeperFunction"))
def test_the_outbox_sweeper_under_a_fault_queues_each_stranded_email_once(w, fault):
    # Given an email stored in the outbox and never queued, past the grace period
    address = f"terdampar.{w.next()}@example.id"
    outbox = Outbox(w.stack.env("APPLICANTS_TABLE"), {})
    message = mail.email_message(mail.TRANSACTIONAL, "already_registered", address,
                                 {"base": "https://prakerja.example"}, ref="x")
    assert store(w).transact(outbox.put_items([message], prakerja_clock.now()))
    w.clock.advance(61)
    # When the sweeper meets the fault
    with pytest.MonkeyPatch.context() as patch, inject(patch, FAULTS[fault]) as failed_calls:
        with pytest.raises(Exception):  # noqa: B017  the schedule runs it again next minute
            w.stack.registry.invoke("OutboxSweeperFunction", SCHEDULE)
    assert failed_calls
    # Then, once the service is back, the next sweep queues what is left, and the address gets
    # the email exactly once
    w.clock.advance(60)
    w.stack.registry.invoke("OutboxSweeperFunction", SCHEDULE)
    assert w.stack.registry.invoke("OutboxSweeperFunction", SCHEDULE) == {"requeued": 0}
    w.stack.drain("EmailQueue", "EmailSenderFunction")
    assert len(mails(address)) == 1, mails(address)
