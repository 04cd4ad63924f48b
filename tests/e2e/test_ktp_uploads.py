"""Every real photo fixture uploaded as a browser does (multipart POST to the moto S3 endpoint with
the presigned fields), checked by the S3 event through the local stack: the outcome table of
issue 4."""

from __future__ import annotations

import re
import time
from itertools import count
from pathlib import Path

import httpx
import pytest

PHOTOS = Path(__file__).resolve().parents[1] / "fixtures" / "photos"

OUTCOMES = [
    ("jpg_mobile_HMD_Nokia_8.3_5G.jpg", "image/jpeg", "VALID", None),
    ("jpg_hdr_iphone_hdr_YES.jpg", "image/jpeg", "VALID", None),
    ("jpg_orientation_portrait_1.jpg", "image/jpeg", "VALID", None),
    ("jpg_orientation_landscape_3.jpg", "image/jpeg", "VALID", None),
    ("jpg_orientation_portrait_6.jpg", "image/jpeg", "VALID", None),
    ("jpg_orientation_landscape_8.jpg", "image/jpeg", "VALID", None),
    ("jpg_gps_DSCN0010.jpg", "image/jpeg", "VALID", None),
    ("heic_IMG_5195.HEIC", "image/heic", "VALID", None),
    ("jpg_corrupted.jpg", "image/jpeg", "VALID", None),
    ("jpg_truncated_phone.jpg", "image/jpeg", "REJECTED", "CORRUPT"),
    ("jpg_invalid_image00971.jpg", "image/jpeg", "REJECTED", "LOW_RESOLUTION"),
    ("jpg_Canon_40D.jpg", "image/jpeg", "REJECTED", "TOO_SMALL"),
    ("tiff_BSG1.tiff", "image/jpeg", "REJECTED", "UNSUPPORTED_TYPE"),  # declared JPEG, really TIFF
]


_uploaders = count(1)


@pytest.fixture
def applicant(base_url):
    """A new applicant with a confirmed email (presigns need one, and are limited per hour)."""
    email = f"ktp.uploader{next(_uploaders)}@example.id"
    password = "kopi-tubruk-2020"
    with httpx.Client(base_url=base_url, timeout=60) as http:  # the first call may meet cold starts
        assert http.post("/v1/accounts", json={"email": email, "password": password,
                                               "consent": True}).status_code == 202
        deadline = time.monotonic() + 30
        while not (mail := http.get("/_local/mailbox", params={"to": email}).json()):
            assert time.monotonic() < deadline, "no confirmation email"
            time.sleep(0.3)
        token = re.search(r"(?:#token=|/v1/email-verifications/)([A-Za-z0-9_-]+)", mail[0]["text"]).group(1)
        assert http.post(f"/v1/email-verifications/{token}").status_code == 200
        tokens = http.post("/v1/sessions", json={"email": email, "password": password}).json()
    return {"base": base_url, "refresh": tokens["refresh_token"], "access": tokens["access_token"]}


def _auth(applicant) -> dict[str, str]:
    r = httpx.post(f"{applicant['base']}/v1/sessions/refresh", json={"refresh_token": applicant["refresh"]})
    tokens = r.json()
    applicant["refresh"] = tokens["refresh_token"]
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.mark.parametrize(("photo", "declared", "status", "reason"), OUTCOMES)
def test_a_real_photo_uploaded_with_the_presigned_post_gets_its_outcome(applicant, photo, declared, status, reason):
    base, headers = applicant["base"], _auth(applicant)
    # Given a presigned POST for the declared type
    grant = httpx.post(f"{base}/v1/me/documents/ktp", json={"content_type": declared}, headers=headers).json()
    # When the browser posts the file straight to S3
    upload = httpx.post(grant["url"], data=grant["fields"], files={"file": (photo, (PHOTOS / photo).read_bytes(),
                                                                               declared)}, timeout=60)
    assert upload.status_code in (200, 201, 204)
    # Then the S3 event's check records the expected outcome for that upload
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _settled(base, grant):
        time.sleep(0.3)
    upload_state = _upload(base, grant)
    assert (upload_state["status"], upload_state.get("reason")) == (status, reason)


def _settled(base: str, grant: dict) -> bool:
    return _upload(base, grant).get("status") in {"VALID", "REJECTED"}


def _upload(base: str, grant: dict) -> dict:
    """The upload's own record, read through the local stack's moto endpoint."""
    import boto3

    info = httpx.get(f"{base}/_local/info").json()
    table = info["resources"]["physical"]["ApplicantsTable"]["Ref"]
    client = boto3.resource("dynamodb", endpoint_url=info["moto_endpoint"], region_name="ap-southeast-3",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    applicant_id, upload_id = grant["fields"]["key"].split("/")[1:3]
    item = client.Table(table).get_item(Key={"pk": f"APP#{applicant_id}", "sk": f"KTP#{upload_id}"}).get("Item")
    return item or {}

