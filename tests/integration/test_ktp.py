"""KTP photo: the presigned POST's policy, and what happens to real photos that land in S3."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from PIL import Image

from tests.integration.support import verified_applicant

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"


def presign(stack, token: str, content_type: str = "image/jpeg") -> dict:
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": content_type}, token=token)
    assert r.status == 200, r.body
    return r.body


def upload(stack, grant: dict, data: bytes) -> None:
    """Put the bytes where the browser's POST would (moto does not enforce the policy anyway)."""
    boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key=grant["fields"]["key"], Body=data,
                                  ContentType=grant["fields"]["Content-Type"])


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
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    got = ktp_status(stack, token)
    assert (got["status"], got["reason"]) == (status, reason)


def test_a_valid_photo_is_stored_without_metadata_and_the_original_is_gone(stack):
    token = verified_applicant(stack, "d@example.id")
    grant = presign(stack, token)
    upload(stack, grant, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    stack.drain("UploadQueue", "KtpProcessFunction")
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
    assert ktp_status(stack, token)["status"] == "VALID"
    assert "HeadObject" not in calls and calls.count("ListObjectVersions") >= 3, calls


def test_the_newest_issued_upload_wins_whatever_order_events_arrive_in(stack):
    token = verified_applicant(stack, "f@example.id")
    older, newer = presign(stack, token), presign(stack, token)
    upload(stack, newer, (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    stack.drain("UploadQueue", "KtpProcessFunction")
    upload(stack, older, (PHOTOS / "jpg_orientation_portrait_1.jpg").read_bytes())
    stack.drain("UploadQueue", "KtpProcessFunction")
    from prakerja.adapters.applicants import ApplicantStore

    applicant_id = newer["fields"]["key"].split("/")[1]
    profile = ApplicantStore(stack.env("APPLICANTS_TABLE")).get_profile(applicant_id)
    assert profile["ktp_key"].endswith(f"{newer['upload_id']}.jpg")


def test_an_object_with_no_known_upload_is_ignored(stack):
    boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key="uploads/someone/unknown", Body=b"x" * 20000)
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1


def test_a_malformed_notification_fails_back_to_the_queue(stack):
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "not json", "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:aws:sqs:ap-southeast-3:123456789012:q",
                          "awsRegion": "ap-southeast-3"}]}
    assert stack.registry.invoke("KtpProcessFunction", event) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
