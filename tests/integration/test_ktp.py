"""KTP photo: the presigned POST's policy, and what happens to real photos that land in S3."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from PIL import Image

from tests.integration.accounts_support import header
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"


def presign(stack, token: str, content_type: str = "image/jpeg") -> dict:
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": content_type}, token=token)
    assert r.status == 200, r.body
    return r.body


def upload(stack, grant: dict, data: bytes) -> None:
    """Put the bytes where the browser's POST would (moto does not enforce the policy anyway)."""
    boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key=grant["fields"]["key"], Body=data,
                                  ContentType=grant["fields"]["Content-Type"])


def drain_ktp(stack) -> int:
    """The photo parser over UploadQueue, then the recorder over KtpVerdictQueue (as the local
    stack's pumps run them). Returns the upload notifications the parser handled."""
    handled = stack.drain("UploadQueue", "KtpProcessFunction")
    stack.drain("KtpVerdictQueue", "KtpVerdictFunction")
    return handled


def fail_once(monkeypatch, cls, name: str) -> None:
    """Make ``cls.name`` raise once (as a throttled DynamoDB write would), then behave as before."""
    real, failures = getattr(cls, name), []

    def flaky(self, *args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("DynamoDB throttled")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, flaky)


def ktp_status(stack, token: str) -> dict:
    return stack.call("GET", "/v1/me", token=token).body["steps"]["ktp"]


def test_the_presigned_posts_policy_pins_key_type_size_and_expiry(stack):
    token = verified_applicant(stack, "a@example.id")
    grant = presign(stack, token)
    policy = json.loads(base64.b64decode(grant["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": grant["fields"]["key"]} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 10_000, 10_000_000] in conditions
    # botocore signs with the real clock (on AWS the project clock is the real one): ten minutes
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs((expires - datetime.now(UTC)).total_seconds() - 600) < 30
    assert grant["expires_at"] == "2026-04-11T03:10:00Z"
    assert grant["fields"]["key"].startswith("uploads/") and grant["upload_id"] in grant["fields"]["key"]
    assert grant["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert "/ap-southeast-3/s3/aws4_request" in grant["fields"]["x-amz-credential"]
    assert grant["max_bytes"] == 10_000_000 and grant["min_bytes"] == 10_000


def test_unsupported_declared_types_are_refused_at_presign(stack):
    token = verified_applicant(stack, "b@example.id")
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/tiff"}, token=token)
    assert r.status == 422 and r.body["fields"][0]["code"] == "CONTENT_TYPE_UNSUPPORTED"


@pytest.mark.parametrize(("photo", "status", "reason"), [
    ("jpg_mobile_HMD_Nokia_8.3_5G.jpg", "VALID", None),
    ("heic_IMG_5195.HEIC", "VALID", None),
    ("jpg_truncated_phone.jpg", "REJECTED", "CORRUPT"),
    ("jpg_invalid_image00971.jpg", "REJECTED", "LOW_RESOLUTION"),
    ("jpg_Canon_40D.jpg", "REJECTED", "TOO_SMALL"),
    ("tiff_BSG1.tiff", "REJECTED", "UNSUPPORTED_TYPE"),
])
def test_a_landed_photo_is_checked_by_the_s3_event(stack, photo, status, reason):
    token = verified_applicant(stack, "c@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / photo).read_bytes())
    assert drain_ktp(stack) >= 1
    got = ktp_status(stack, token)
    assert (got["status"], got["reason"]) == (status, reason)


def test_a_valid_photo_is_stored_without_metadata_and_the_original_is_gone(stack):
    token = verified_applicant(stack, "d@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    drain_ktp(stack)
    s3 = boto3.client("s3")
    bucket = stack.env("KTP_BUCKET")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=grant["fields"]["key"])
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    applicant_id = grant["fields"]["key"].split("/")[1]
    stored = s3.get_object(Bucket=bucket, Key=f"ktp/{applicant_id}/{grant['upload_id']}.jpg")["Body"].read()
    import io

    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and not image.getexif()
    assert b"Exif" not in stored[:4096]


def test_the_same_event_twice_is_processed_once(stack):
    token = verified_applicant(stack, "e@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_hdr_iphone_hdr_YES.jpg").read_bytes())
    event = stack.sqs_event("UploadQueue")
    first = stack.registry.invoke("KtpProcessFunction", event)
    second = stack.registry.invoke("KtpProcessFunction", event)
    assert first == second == {"batchItemFailures": []}
    # the first sent its PROCESSING notice and its verdict; the second found the original gone
    assert stack.drain("KtpVerdictQueue", "KtpVerdictFunction") == 2
    assert ktp_status(stack, token)["status"] == "VALID"


def test_a_redelivered_event_after_the_clean_up_is_ignored_without_a_head_request(stack):
    """The worker has no s3:ListBucket (it would list every applicant's keys), and S3 answers a
    HeadObject of a missing key with 403 to such a caller: a redelivered notification for an
    original already deleted would fail as "access denied" until the DLQ. The worker therefore
    finds the current version by listing the key's versions, which it may (uploads/ only)."""
    from prakerja.adapters.aws import client

    token = verified_applicant(stack, "g@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_hdr_iphone_hdr_YES.jpg").read_bytes())
    event = stack.sqs_event("UploadQueue")
    calls: list[str] = []

    def record(model, **_):
        calls.append(model.name)

    events = client("s3").meta.events
    events.register("before-call.s3", record)
    try:
        assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": []}
        assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": []}  # original gone
    finally:
        events.unregister("before-call.s3", record)
    stack.drain("KtpVerdictQueue", "KtpVerdictFunction")
    assert ktp_status(stack, token)["status"] == "VALID"
    assert "HeadObject" not in calls and calls.count("ListObjectVersions") >= 3, calls


def test_the_newest_issued_upload_wins_whatever_order_events_arrive_in(stack):
    token = verified_applicant(stack, "f@example.id")
    older, newer = presign(stack, token), presign(stack, token)
    upload(stack, newer, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    drain_ktp(stack)
    upload(stack, older, (PHOTOS / "jpg_orientation_portrait_1.jpg").read_bytes())
    drain_ktp(stack)
    from prakerja.adapters.applicants import ApplicantStore

    applicant_id = newer["fields"]["key"].split("/")[1]
    profile = ApplicantStore(stack.env("APPLICANTS_TABLE")).get_profile(applicant_id)
    assert profile["ktp_key"].endswith(f"{newer['upload_id']}.jpg")


def test_an_object_with_no_known_upload_is_ignored(stack):
    boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key="uploads/someone/unknown", Body=b"x" * 20000)
    assert drain_ktp(stack) >= 1


def test_a_malformed_notification_fails_back_to_the_queue(stack):
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "not json", "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:ap-southeast-3:123456789012:q",
                          "awsRegion": "ap-southeast-3"}]}
    assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


# ---------------------------------------------------------------- gates (issue 16)
def test_a_presign_needs_a_verified_email(stack):
    sign_up(stack, "belum@example.id")
    token = sign_in(stack, "belum@example.id")["access_token"]
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token)
    assert r.status == 403 and r.body["code"] == "EMAIL_NOT_VERIFIED"


def test_a_presign_needs_active_consent(stack):
    token = verified_applicant(stack, "tarik@example.id")
    assert stack.call("DELETE", "/v1/me/consent", token=token).status == 200
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token)
    assert r.status == 403 and r.body["code"] == "CONSENT_WITHDRAWN"
    assert stack.call("PUT", "/v1/me/consent", {"consent": True}, token=token).status == 200
    presign(stack, token)


def test_presigns_are_limited_per_applicant_per_hour(stack, clock):
    token, other = verified_applicant(stack, "rajin@example.id"), verified_applicant(stack, "lain@example.id")
    clock.advance(10 * 60)  # 03:10 UTC: 50 minutes to the next hour
    for _ in range(10):
        presign(stack, token)
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token)
    assert r.status == 429 and r.body["code"] == "TOO_MANY_UPLOADS"
    assert header(r, "Retry-After") == str(50 * 60)
    presign(stack, other)  # per applicant: someone else is not held up
    clock.advance(50 * 60)  # the next hour (a new access token: the old one has expired)
    presign(stack, sign_in(stack, "rajin@example.id")["access_token"])


# ---------------------------------------------------------------- erasure (issue 16)
def photo_keys(stack, applicant_id: str) -> list[str]:
    """Every version and delete marker in the KTP bucket under the applicant's id."""
    reply = boto3.client("s3").list_object_versions(Bucket=stack.env("KTP_BUCKET"))
    return [v["Key"] for v in reply.get("Versions", []) + reply.get("DeleteMarkers", []) if applicant_id in v["Key"]]


def partition(stack, applicant_id: str) -> list[dict]:
    from boto3.dynamodb.conditions import Key

    t = boto3.resource("dynamodb").Table(stack.env("APPLICANTS_TABLE"))
    return t.query(KeyConditionExpression=Key("pk").eq(f"APP#{applicant_id}"))["Items"]


def test_no_presign_after_erasure_and_a_late_upload_is_deleted(stack):
    # Given an applicant holding a presigned POST who then deletes the account
    token = verified_applicant(stack, "hapus@example.id")
    grant = presign(stack, token)
    applicant_id = grant["fields"]["key"].split("/")[1]
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=token).status == 204
    # Then a new presign is refused (the access token outlives the account)
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token)
    assert r.status in (401, 404) and r.body["code"] in {"TOKEN_INVALID", "NOT_FOUND"}
    # And the photo posted with the old grant is deleted by the worker, recording nothing
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    assert photo_keys(stack, applicant_id) == []
    assert partition(stack, applicant_id) == []


def test_an_account_erased_while_the_worker_checks_keeps_nothing(stack, monkeypatch):
    from prakerja.adapters.storage import PhotoStore
    from prakerja.services.privacy import PersonalData
    from prakerja.services.wiring import Wiring
    from prakerja.settings import Settings

    token = verified_applicant(stack, "tengah@example.id")
    grant = presign(stack, token)
    applicant_id = grant["fields"]["key"].split("/")[1]
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    read = PhotoStore.read

    def read_then_erase(self, *args, **kwargs):
        data = read(self, *args, **kwargs)
        register = Settings.load(environ=stack.resources.environments["RegisterFunction"])
        PersonalData.from_wiring(Wiring(register)).erase(applicant_id)  # mid-check
        return data

    monkeypatch.setattr(PhotoStore, "read", read_then_erase)
    # When the worker goes on to normalise and store the photo after the erasure
    assert drain_ktp(stack) >= 1
    # Then what it wrote is gone and nothing was recorded (no profile, no upload record)
    assert photo_keys(stack, applicant_id) == []
    assert partition(stack, applicant_id) == []
    assert stack.call("GET", "/v1/me", token=token).status == 401


def test_erasure_sweeps_the_bucket_again_after_the_profile(stack, monkeypatch):
    from prakerja.adapters.applicants import ApplicantStore

    token = verified_applicant(stack, "sapu@example.id")
    applicant_id = stack.call("GET", "/v1/me", token=token).body["applicant_id"]
    delete_account = ApplicantStore.delete_account

    def worker_writes_first(self, *args, **kwargs):
        # a worker that checked the account just before the erasure stores its output now
        boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key=f"ktp/{applicant_id}/late.jpg", Body=b"x")
        return delete_account(self, *args, **kwargs)

    monkeypatch.setattr(ApplicantStore, "delete_account", worker_writes_first)
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=token).status == 204
    assert photo_keys(stack, applicant_id) == []


# ---------------------------------------------------------------- the verdict recorder (issue 16 item 11)
def sqs_records(*bodies: str) -> dict:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": "r", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:ap-southeast-3:123456789012:q",
                         "awsRegion": "ap-southeast-3"} for i, body in enumerate(bodies, 1)]}


def verdict(grant: dict, version: str, outcome: str = "VALID", reason: str | None = None) -> str:
    applicant_id = grant["fields"]["key"].split("/")[1]
    return json.dumps({"applicant_id": applicant_id, "upload_id": grant["upload_id"], "version": version,
                       "outcome": outcome, "reason": reason,
                       "output_key": f"ktp/{applicant_id}/{grant['upload_id']}.jpg" if outcome == "VALID" else None})


def test_the_parser_queues_a_verdict_without_personal_data_and_the_recorder_records_it(stack):
    # Given a photo that landed
    token = verified_applicant(stack, "vonis@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    # When the parser has run but the recorder has not
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    # Then the status is unchanged, and the queued notice and verdict hold ids, version, outcome
    # and key only
    assert ktp_status(stack, token)["status"] == "NOT_STARTED"
    event = stack.sqs_event("KtpVerdictQueue")
    bodies = sorted((json.loads(r["body"]) for r in event["Records"]), key=lambda b: b["outcome"])
    assert [b["outcome"] for b in bodies] == ["PROCESSING", "VALID"]
    for body in bodies:
        assert set(body) == {"applicant_id", "upload_id", "version", "outcome", "reason", "output_key"}
    assert (bodies[0]["reason"], bodies[0]["output_key"], bodies[0]["upload_id"]) == (None, None, grant["upload_id"])
    assert (bodies[1]["reason"], bodies[1]["upload_id"]) == (None, grant["upload_id"])
    # And once recorded the KTP is VALID
    assert stack.registry.invoke("KtpVerdictFunction", event) == {"batchItemFailures": []}
    assert ktp_status(stack, token)["status"] == "VALID"


def test_a_repeated_or_late_verdict_is_harmless(stack):
    # Given an applicant whose photo (version v2) was recorded VALID
    token = verified_applicant(stack, "ulang@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    assert ktp_status(stack, token)["status"] == "VALID"
    before = ktp_status(stack, token)
    from prakerja.adapters.applicants import ApplicantStore

    applicant_id = grant["fields"]["key"].split("/")[1]
    version = ApplicantStore(stack.env("APPLICANTS_TABLE")).get_item(applicant_id, f"KTP#{grant['upload_id']}")[
        "processed_version"]
    # When the same verdict comes again, and a late refusal of an older version of that upload
    event = sqs_records(verdict(grant, version), verdict(grant, "older-version", "REJECTED", "CORRUPT"))
    # Then both are accepted (nothing to retry), and the valid KTP stays
    assert stack.registry.invoke("KtpVerdictFunction", event) == {"batchItemFailures": []}
    assert ktp_status(stack, token)["status"] == "VALID"
    assert ktp_status(stack, token)["updated_at"] == before["updated_at"]


def test_a_verdict_for_an_upload_never_issued_records_nothing_and_drops_its_output(stack):
    token = verified_applicant(stack, "palsu@example.id")
    grant = presign(stack, token)
    applicant_id = grant["fields"]["key"].split("/")[1]
    forged = {**grant, "upload_id": "f" * 32}
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.env("KTP_BUCKET"), Key=f"ktp/{applicant_id}/{'f' * 32}.jpg", Body=b"x")
    assert stack.registry.invoke("KtpVerdictFunction", sqs_records(verdict(forged, "v1"))) == {"batchItemFailures": []}
    assert ktp_status(stack, token)["status"] == "NOT_STARTED"
    assert photo_keys(stack, applicant_id) == []


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"applicant_id": "a", "upload_id": "u", "version": "v", "outcome": "ACCEPTED"}),
    json.dumps({"applicant_id": "a", "upload_id": "u", "version": "v", "outcome": "VALID", "reason": None,
                "output_key": "ktp/someone-else/u.jpg"}),
    json.dumps({"applicant_id": "a/../b", "upload_id": "u", "version": "v", "outcome": "REJECTED",
                "reason": "CORRUPT"}),
    json.dumps({"applicant_id": "a", "upload_id": "u", "version": "v", "outcome": "REJECTED",
                "reason": "NOT_A_PHOTO_CODE"}),
    json.dumps({"applicant_id": "a", "upload_id": "u", "version": "v", "outcome": "REJECTED",
                "reason": "CORRUPT", "email": "x@example.id"}),
])
def test_a_malformed_verdict_fails_back_to_the_queue(stack, body):
    assert stack.registry.invoke("KtpVerdictFunction", sqs_records(body)) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_failed_verdict_send_leaves_the_upload_so_the_retry_sends_it(stack, monkeypatch):
    # Given a landed photo whose verdict cannot be queued the first time (SQS throttled)
    token = verified_applicant(stack, "kirim@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_hdr_iphone_hdr_YES.jpg").read_bytes())
    event = stack.sqs_event("UploadQueue")
    worker = stack.registry.module("KtpProcessFunction")
    real_send = worker.check.send_verdict
    calls = []

    def flaky(body: str) -> None:
        outcome = json.loads(body)["outcome"]
        calls.append(outcome)
        if calls.count("VALID") == 1 and outcome == "VALID":  # the first verdict (not the notice)
            raise RuntimeError("SQS throttled")
        real_send(body)

    monkeypatch.setattr(worker.check, "send_verdict", flaky)
    # When the parser runs, fails, and the message comes back
    assert stack.registry.invoke("KtpProcessFunction", event)["batchItemFailures"]
    assert photo_keys(stack, grant["fields"]["key"].split("/")[1]), "the original must stay until its verdict is queued"
    assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": []}
    # Then the retry checked it again and queued the verdict (each run its notice first), and the KTP is VALID
    assert calls == ["PROCESSING", "VALID", "PROCESSING", "VALID"]
    stack.drain("KtpVerdictQueue", "KtpVerdictFunction")
    assert ktp_status(stack, token)["status"] == "VALID"


def test_a_recording_that_failed_half_way_is_redone_not_taken_for_a_duplicate(stack, monkeypatch):
    # Given a VALID verdict whose profile write fails once (DynamoDB throttled)
    from prakerja.adapters.applicants import ApplicantStore

    token = verified_applicant(stack, "separuh@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_hdr_iphone_hdr_YES.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    event = stack.sqs_event("KtpVerdictQueue")
    fail_once(monkeypatch, ApplicantStore, "ktp_valid")
    # When the recorder fails, and the message comes back
    assert stack.registry.invoke("KtpVerdictFunction", event)["batchItemFailures"]
    assert stack.registry.invoke("KtpVerdictFunction", event) == {"batchItemFailures": []}
    # Then the retry recorded the step: the photo is the applicant's KTP
    assert ktp_status(stack, token)["status"] == "VALID"


# ---------------------------------------------------------------- PROCESSING while the photo is checked (issue 16)
def queued(stack) -> dict[str, dict]:
    """The records on KtpVerdictQueue by outcome (they stay in flight until released)."""
    return {json.loads(r["body"])["outcome"]: r for r in stack.sqs_event("KtpVerdictQueue")["Records"]}


def record_one(stack, record: dict) -> None:
    """The recorder on one queued record, which it must accept (nothing to retry)."""
    assert stack.registry.invoke("KtpVerdictFunction", {"Records": [record]}) == {"batchItemFailures": []}


def test_the_status_shows_processing_while_the_parser_checks_the_photo(stack, monkeypatch):
    # Given a landed photo, and a recorder that keeps up with the queue while the parser decodes
    from prakerja.domain import photo

    token = verified_applicant(stack, "sedang@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    normalise, seen = photo.normalise, []

    def normalise_meanwhile(*args, **kwargs):
        stack.drain("KtpVerdictQueue", "KtpVerdictFunction")  # what was queued before the decode
        seen.append(ktp_status(stack, token))
        return normalise(*args, **kwargs)

    monkeypatch.setattr(photo, "normalise", normalise_meanwhile)
    # When the parser runs
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    # Then while it decoded, the step was PROCESSING, and once the verdict is recorded it is VALID
    assert [(s["status"], s["reason"]) for s in seen] == [("PROCESSING", None)]
    assert "upload_seq" not in seen[0]  # the recorder's ordering detail is not in the reply
    stack.drain("KtpVerdictQueue", "KtpVerdictFunction")
    assert (ktp_status(stack, token)["status"], ktp_status(stack, token)["reason"]) == ("VALID", None)


@pytest.mark.parametrize(("photo", "status", "reason"), [
    ("jpg_gps_DSCN0010.jpg", "VALID", None),
    ("jpg_truncated_phone.jpg", "REJECTED", "CORRUPT"),
])
def test_a_processing_notice_delivered_after_its_verdict_changes_nothing(stack, photo, status, reason):
    # Given a photo whose verdict the recorder got before the parser's PROCESSING notice
    token = verified_applicant(stack, f"telat-{status.lower()}@example.id")
    upload(stack, presign(stack, token), (PHOTOS / photo).read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    records = queued(stack)
    record_one(stack, records[status])
    before = ktp_status(stack, token)
    assert (before["status"], before["reason"]) == (status, reason)
    # When the notice arrives late, and again (a duplicate delivery)
    record_one(stack, records["PROCESSING"])
    record_one(stack, records["PROCESSING"])
    # Then the verdict stays
    assert ktp_status(stack, token) == before


def test_a_processing_notice_in_the_window_before_the_recorded_marker_changes_nothing(stack, monkeypatch):
    # Given a REJECTED verdict whose step is written but whose "recorded" marker write fails once
    # (the recorder writes the marker last), so the upload does not look recorded yet
    from prakerja.adapters.applicants import ApplicantStore

    token = verified_applicant(stack, "celah@example.id")
    upload(stack, presign(stack, token), (PHOTOS / "jpg_truncated_phone.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    records = queued(stack)
    fail_once(monkeypatch, ApplicantStore, "record_upload_outcome")
    assert stack.registry.invoke("KtpVerdictFunction", {"Records": [records["REJECTED"]]})["batchItemFailures"]
    assert ktp_status(stack, token)["status"] == "REJECTED"
    # When the PROCESSING notice arrives in that window
    record_one(stack, records["PROCESSING"])
    # Then the step still shows the verdict, and the verdict's retry completes the recording
    assert (ktp_status(stack, token)["status"], ktp_status(stack, token)["reason"]) == ("REJECTED", "CORRUPT")
    record_one(stack, records["REJECTED"])
    assert (ktp_status(stack, token)["status"], ktp_status(stack, token)["reason"]) == ("REJECTED", "CORRUPT")


def test_a_processing_notice_of_an_older_upload_leaves_the_newer_uploads_outcome(stack):
    # Given two uploads issued, the newer refused and recorded
    token = verified_applicant(stack, "lama@example.id")
    older, newer = presign(stack, token), presign(stack, token)
    upload(stack, newer, (PHOTOS / "jpg_truncated_phone.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    before = ktp_status(stack, token)
    assert (before["status"], before["reason"]) == ("REJECTED", "CORRUPT")
    # When the older upload lands late and its PROCESSING notice is recorded
    upload(stack, older, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    records = queued(stack)
    record_one(stack, records["PROCESSING"])
    # Then the newer upload's outcome stays
    assert ktp_status(stack, token) == before
    # And the older one's VALID verdict still makes it the KTP (the newest issued valid upload)
    record_one(stack, records["VALID"])
    assert ktp_status(stack, token)["status"] == "VALID"


def test_an_older_uploads_refusal_leaves_the_newer_upload_being_checked(stack):
    # Given two uploads issued, the newer being checked (its notice recorded, its verdict not yet)
    token = verified_applicant(stack, "urut@example.id")
    older, newer = presign(stack, token), presign(stack, token)
    upload(stack, newer, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    newer_records = queued(stack)
    record_one(stack, newer_records["PROCESSING"])
    assert ktp_status(stack, token)["status"] == "PROCESSING"
    # When the older upload's refusal is recorded meanwhile
    upload(stack, older, (PHOTOS / "jpg_truncated_phone.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    older_records = {json.loads(r["body"])["upload_id"]: r for r in stack.sqs_event("KtpVerdictQueue")["Records"]
                     if json.loads(r["body"])["outcome"] == "REJECTED"}
    record_one(stack, older_records[older["upload_id"]])
    # Then the step still shows the newer upload being checked, and then its verdict
    assert ktp_status(stack, token)["status"] == "PROCESSING"
    record_one(stack, newer_records["VALID"])
    assert ktp_status(stack, token)["status"] == "VALID"


def test_a_failed_processing_send_still_ends_with_the_verdict_recorded(stack, monkeypatch):
    # Given a landed photo whose PROCESSING notice cannot be queued (SQS throttled, first send only)
    token = verified_applicant(stack, "gagal@example.id")
    grant = presign(stack, token)
    applicant_id = grant["fields"]["key"].split("/")[1]
    upload(stack, grant, (PHOTOS / "jpg_hdr_iphone_hdr_YES.jpg").read_bytes())
    worker = stack.registry.module("KtpProcessFunction")
    real_send = worker.check.send_verdict
    sent: list[str] = []

    def flaky(body: str) -> None:
        sent.append(json.loads(body)["outcome"])
        if len(sent) == 1:
            raise RuntimeError("SQS throttled")
        real_send(body)

    monkeypatch.setattr(worker.check, "send_verdict", flaky)
    # When the parser runs
    event = stack.sqs_event("UploadQueue")
    assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": []}
    # Then it went on: the verdict was queued and only then the original deleted
    assert sent == ["PROCESSING", "VALID"]
    on_queue = stack.sqs_event("KtpVerdictQueue")
    assert [json.loads(r["body"])["outcome"] for r in on_queue["Records"]] == ["VALID"]
    assert photo_keys(stack, applicant_id) == [f"ktp/{applicant_id}/{grant['upload_id']}.jpg"]
    # And the recorder records it: nothing lost
    stack.release("KtpVerdictQueue", on_queue)
    assert stack.drain("KtpVerdictQueue", "KtpVerdictFunction") == 1
    assert ktp_status(stack, token)["status"] == "VALID"
