"""``prakerja-ops`` batches and draw commands on moto: create, list, reveal, close-now,
announce-now, draw verify, and naming a deployed stack through CloudFormation."""

from __future__ import annotations

import io
import json

import boto3

from prakerja.adapters.batches import BatchStore
from prakerja.domain import selection
from prakerja_ops import target
from prakerja_ops.cli import main as ops_main
from tests.integration.support import sign_in
from tests.integration.test_batches import SECRET as LOCAL_SECRET
from tests.integration.test_batches import TICK, add_batch, ready

SECRET = "rahasia-undian-ops-0003-0123456789"
COMMITMENT = selection.commitment(SECRET)


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def create(batch_id: str = "2026-09", *extra: str) -> tuple[int, str, str]:
    """A batch stated in WIB: the test clock is 2026-04-11 10:00 WIB (03:00 UTC)."""
    return ops("batches", "create", "--id", batch_id, "--opens", "2026-04-11 11:00", "--closes", "2026-04-11 13:00",
               "--announce", "2026-04-11 14:00", "--quota", "2", "--commitment", COMMITMENT, *extra)


def test_create_states_times_in_wib_stores_utc_and_no_secret(stack):
    # When an operator creates a batch with WIB times, a priority share and province quotas
    code, out, err = create("2026-09", "--priority-share", "0.8", "--province-quota", "31=100",
                            "--province-quota", "32=50")
    # Then it is stored in UTC with the commitment and without any secret
    assert code == 0, err
    assert "2026-04-11T04:00:00Z (2026-04-11 11:00 WIB)" in out
    meta = BatchStore(stack.env("BATCHES_TABLE")).get_batch("2026-09")
    assert (meta["opens_at"], meta["closes_at"], meta["announce_at"]) == (
        "2026-04-11T04:00:00Z", "2026-04-11T06:00:00Z", "2026-04-11T07:00:00Z")
    assert meta["commitment"] == COMMITMENT and "secret" not in meta
    assert meta["priority_share"] == 0.8 and meta["province_quotas"] == {"31": 100, "32": 50}
    # And the public listing returns it in UTC, scheduled, with its rules
    listed = stack.call("GET", "/v1/batches").body["batches"][0]
    assert listed["status"] == "SCHEDULED" and listed["opens_at"] == "2026-04-11T04:00:00Z"
    assert listed["priority_share"] == 0.8 and listed["province_quotas"] == {"31": 100, "32": 50}


def test_create_refuses_bad_settings_and_duplicates(stack):
    code, _, err = ops("batches", "create", "--id", "2026-09", "--opens", "2026-04-11 13:00", "--closes",
                       "2026-04-11 11:00", "--announce", "2026-04-11 14:00", "--quota", "2", "--commitment", "abc",
                       "--province-quota", "99=1")
    assert code == 2 and err.startswith("error: BATCH_SETTINGS_INVALID")
    assert "commitment:" in err and "province_quotas:" in err
    code, _, err = ops("batches", "create", "--id", "2026-09", "--opens", "2026-04-11 09:00", "--closes",
                       "2026-04-11 13:00", "--announce", "2026-04-11 14:00", "--quota", "2", "--commitment", COMMITMENT)
    assert code == 2 and err.startswith("error: BATCH_OPENS_IN_PAST")
    assert create()[0] == 0
    code, _, err = create()
    assert code == 2 and err.startswith("error: BATCH_EXISTS")


def test_list_shows_status_times_in_wib_and_whether_the_secret_is_revealed(stack, clock):
    create("2026-09")
    add_batch(stack, "2026-01", -1, 48, 72, 10)  # the local seed's way: secret stored at creation
    code, out, _ = ops("batches", "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert "OPEN" in lines["2026-01"] and "revealed" in lines["2026-01"]
    assert "SCHEDULED" in lines["2026-09"] and "committed" in lines["2026-09"]
    assert "2026-04-11 11:00 WIB" in lines["2026-09"]
    rows = json.loads(ops("batches", "list", "--json")[1])
    assert {r["batch_id"]: r["revealed"] for r in rows} == {"2026-01": True, "2026-09": False}
    assert all("secret" not in r for r in rows)


def test_reveal_needs_the_close_and_the_committed_secret(stack, clock):
    create("2026-09")
    code, _, err = ops("batches", "reveal", "2026-09", "--secret", SECRET)
    assert code == 2 and err.startswith("error: BATCH_NOT_CLOSED")
    clock.advance(3 * 3600 + 1)
    code, _, err = ops("batches", "reveal", "2026-09", "--secret", "a-different-secret-of-some-length")
    assert code == 2 and err.startswith("error: SECRET_MISMATCH")
    code, _, err = ops("batches", "reveal", "2026-09", "--secret", "short")
    assert code == 2 and err.startswith("error: SECRET_INVALID")
    assert "secret" not in BatchStore(stack.env("BATCHES_TABLE")).get_batch("2026-09")
    code, out, err = ops("batches", "reveal", "2026-09", "--secret", SECRET)
    assert code == 0 and "revealed" in out, err
    assert ops("batches", "reveal", "2026-09", "--secret", SECRET)[0] == 0  # idempotent
    assert BatchStore(stack.env("BATCHES_TABLE")).get_batch("2026-09")["secret"] == SECRET
    assert ops("batches", "reveal", "nope", "--secret", SECRET)[2].startswith("error: BATCH_NOT_FOUND")


def test_close_now_and_announce_now_need_confirmation_then_the_tick_acts(stack, clock):
    # Given an open batch with two participants
    add_batch(stack, "2026-01", -1, 48, 72, 1)
    for i in range(2):
        token, _ = ready(stack, f"n{i}@example.id")
        assert stack.call("POST", "/v1/batches/2026-01/participants", token=token).status == 201
    # When close-now runs without --yes (no terminal to confirm on), nothing happens
    code, _, err = ops("batches", "close-now", "2026-01")
    assert code == 1 and "--yes" in err
    assert stack.call("GET", "/v1/batches").body["batches"][0]["status"] == "OPEN"
    # And with --yes the batch closes at once and refuses joins
    code, out, err = ops("batches", "close-now", "2026-01", "--yes")
    assert code == 0 and "closed at 2026-04-11T03:00:00Z" in out, err
    late, _ = ready(stack, "late@example.id")
    assert stack.call("POST", "/v1/batches/2026-01/participants", token=late).body["code"] == "BATCH_CLOSED"
    assert ops("batches", "close-now", "2026-01", "--yes")[2].startswith("error: BATCH_ALREADY_CLOSED")
    clock.advance(61)
    assert stack.registry.invoke("BatchTickFunction", TICK)["drawn"] == ["2026-01"]
    # And announce-now brings the announcement forward: the next tick announces
    assert ops("batches", "announce-now", "2026-01")[0] == 1
    code, out, err = ops("batches", "announce-now", "2026-01", "--yes")
    assert code == 0, err
    assert stack.registry.invoke("BatchTickFunction", TICK)["announced"] == ["2026-01"]
    stack.drain("DrawQueue", "DrawResultsFunction")
    outcomes = sorted(stack.call("GET", "/v1/me", token=sign_in(stack, f"n{i}@example.id")["access_token"])
                      .body["steps"]["batch"]["status"] for i in range(2))
    assert outcomes == ["NOT_SELECTED", "SELECTED"]
    assert ops("batches", "announce-now", "2026-01", "--yes")[2].startswith("error: BATCH_ALREADY_ANNOUNCED")


def test_announce_now_refuses_a_batch_still_open(stack):
    add_batch(stack, "2026-01", -1, 48, 72, 1)
    code, _, err = ops("batches", "announce-now", "2026-01", "--yes")
    assert code == 2 and err.startswith("error: BATCH_NOT_CLOSED")


def drawn_batch(stack, clock, batch_id: str = "2026-01") -> None:
    add_batch(stack, batch_id, -1, 1, 2, 2)
    for i in range(5):
        token, _ = ready(stack, f"v{i}@example.id")
        stack.call("POST", f"/v1/batches/{batch_id}/participants", token=token)
    clock.advance(3601)
    stack.registry.invoke("BatchTickFunction", TICK)


def test_draw_verify_is_ok_on_the_real_audit_record_and_mismatch_on_a_tampered_one(stack, clock, tmp_path):
    # Given a drawn batch
    drawn_batch(stack, clock)
    # When an auditor re-runs it from the stack's audit record
    code, out, _ = ops("draw", "verify", "2026-01")
    # Then it matches
    assert code == 0 and out.startswith("draw 2026-01: OK (participants=5 selected=2")
    # And the same record, downloaded and checked offline against the published commitment, matches
    s3 = boto3.client("s3")
    bucket = stack.env("AUDIT_BUCKET")
    record = json.loads(s3.get_object(Bucket=bucket, Key="draws/2026-01.json")["Body"].read())
    (tmp_path / "draw.json").write_text(json.dumps(record))
    code, out, _ = ops("draw", "verify", "2026-01", "--file", str(tmp_path / "draw.json"),
                       "--commitment", selection.commitment(LOCAL_SECRET))
    assert code == 0 and ": OK " in out
    # When someone swaps a selected and a not-selected participant in the record
    ranking = record["ranking"]
    ranking[0][0], ranking[-1][0] = ranking[-1][0], ranking[0][0]
    s3.put_object(Bucket=bucket, Key="draws/2026-01.json", Body=json.dumps(record).encode())
    # Then verify says MISMATCH and exits 1
    code, out, _ = ops("draw", "verify", "2026-01")
    assert code == 1 and out.startswith("draw 2026-01: MISMATCH")
    assert "differs from the published ranking" in out


def test_draw_verify_offline_catches_a_wrong_commitment_or_secret(stack, clock, tmp_path):
    drawn_batch(stack, clock)
    record = json.loads(boto3.client("s3").get_object(Bucket=stack.env("AUDIT_BUCKET"),
                                                      Key="draws/2026-01.json")["Body"].read())
    record["secret"] = "another-secret-not-the-committed-one"
    (tmp_path / "draw.json").write_text(json.dumps(record))
    code, out, _ = ops("draw", "verify", "2026-01", "--file", str(tmp_path / "draw.json"),
                       "--commitment", COMMITMENT)
    assert code == 1 and "MISMATCH" in out
    assert "does not hash to the commitment" in out and "not the one published" in out


def test_draw_verify_of_a_batch_not_drawn_yet(stack):
    add_batch(stack, "2026-01", -1, 48, 72, 1)
    code, _, err = ops("draw", "verify", "2026-01")
    assert code == 2 and err.startswith("error: DRAW_NOT_FOUND")


STACK_TEMPLATE = {
    "Resources": {
        "ApplicantsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}},
        "BatchesTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}]}},
        "AuditBucket": {"Type": "AWS::S3::Bucket"},
        "KtpBucket": {"Type": "AWS::S3::Bucket"},
        "LimitsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}},
        "DrawQueue": {"Type": "AWS::SQS::Queue"},
        "BulkEmailQueue": {"Type": "AWS::SQS::Queue"},
        **{f"{name}{kind}": {"Type": "AWS::SQS::Queue"}
           for name in ("Email", "BulkEmail", "Nik", "Upload", "KtpVerdict", "Draw", "Bounce")
           for kind in ("Queue", "DLQ")
           if f"{name}{kind}" not in ("DrawQueue", "BulkEmailQueue")},
        "RegistrationSwitch": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "prakerja-prod-switch", "Type": "String", "Value": '{"paused": false}'}},
        # moto's CloudFormation has no AWS::SecretsManager::Secret: a parameter stands in for it
        "AppSecrets": {"Type": "AWS::SSM::Parameter",
                       "Properties": {"Name": "prakerja-prod-app-secrets", "Type": "String", "Value": "{}"}},
    }
}


def test_a_deployed_stack_is_named_through_cloudformation(stack):
    # Given a deployed stack (a stand-in with the template's logical ids)
    boto3.client("cloudformation").create_stack(StackName="prakerja-prod", TemplateBody=json.dumps(STACK_TEMPLATE))
    resources = boto3.client("cloudformation").describe_stack_resources(StackName="prakerja-prod")["StackResources"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    # When the ops command resolves it by name
    resolved = target.resolve(stack_name="prakerja-prod")
    # Then every service setting holds the stack's physical name
    assert resolved.settings.batches_table == physical["BatchesTable"] != stack.env("BATCHES_TABLE")
    assert resolved.settings.audit_bucket == physical["AuditBucket"]
    assert resolved.settings.draw_queue_url == physical["DrawQueue"]
    assert resolved.settings.nik_dlq_url == physical["NikDLQ"]
    assert resolved.settings.registration_switch_parameter == physical["RegistrationSwitch"]
    assert resolved.settings.ktp_bucket == physical["KtpBucket"]
    assert resolved.settings.limits_table == physical["LimitsTable"]
    # And commands act on that stack
    code, out, err = ops("--stack-name", "prakerja-prod", "batches", "list", "--json")
    assert code == 0 and json.loads(out) == [], err
    code, _, err = ops("--stack-name", "no-such-stack", "batches", "list")
    assert code == 2 and "no-such-stack" in err


def test_the_local_stack_is_named_from_its_info_page_or_its_naming_convention():
    info = {"resources": {"physical": {logical: {"Ref": f"ref-{logical}"} for logical in target.LOGICAL_IDS.values()}}}
    assert target.names_from_info(info)["batches_table"] == "ref-BatchesTable"
    names = target.names_by_convention("prakerja-local", lambda name: f"http://moto/queue/{name}")
    assert names == {"applicants_table": "prakerja-local-ApplicantsTable",
                     "batches_table": "prakerja-local-BatchesTable",
                     "audit_bucket": "prakerja-local-auditbucket",
                     "draw_queue_url": "http://moto/queue/prakerja-local-DrawQueue",
                     "bulk_email_queue_url": "http://moto/queue/prakerja-local-BulkEmailQueue",
                     "secrets_name": "prakerja-local/AppSecrets",
                     **{f"{field}_url": f"http://moto/queue/prakerja-local-{logical}" for field, logical in (
                         ("email_queue", "EmailQueue"), ("nik_queue", "NikQueue"), ("upload_queue", "UploadQueue"),
                         ("bounce_queue", "BounceQueue"), ("email_dlq", "EmailDLQ"), ("bulk_email_dlq", "BulkEmailDLQ"),
                         ("nik_dlq", "NikDLQ"), ("upload_dlq", "UploadDLQ"), ("draw_dlq", "DrawDLQ"),
                         ("bounce_dlq", "BounceDLQ"), ("ktp_verdict_queue", "KtpVerdictQueue"),
                         ("ktp_verdict_dlq", "KtpVerdictDLQ"))},
                     "registration_switch_parameter": "prakerja-local-RegistrationSwitch",
                     "ktp_bucket": "prakerja-local-ktpbucket", "limits_table": "prakerja-local-LimitsTable"}
