"""The photo parser's table access (issue 16 item 11): the KTP flow run with the IAM probe, whose
check of every item call against the worker's fine-grained grant (tests/infra/iam_needs.yaml,
the same conditions as template.yaml) is what AWS would enforce and moto does not."""

from __future__ import annotations

from pathlib import Path

import yaml

from prakerja.adapters.applicants import ApplicantStore
from tests.integration.support import verified_applicant
from tests.integration.test_ktp import PHOTOS, ktp_status, presign, upload

NEEDS = yaml.safe_load((Path(__file__).parents[1] / "infra" / "iam_needs.yaml").read_text(encoding="utf-8"))
TABLE = "dynamodb:table/ApplicantsTable"


def granted_attributes(action: str) -> set[str]:
    condition = NEEDS["KtpProcessFunction"][TABLE][action]["condition"]
    return set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])


def worker_findings(probe) -> list[str]:
    return [line for line in probe.missing(NEEDS) if line.startswith("KtpProcessFunction:")]


def test_the_photo_worker_reads_and_writes_only_the_attributes_its_grant_lists(stack, probe):
    # Given an applicant whose first photo is refused and whose second is valid
    token = verified_applicant(stack, "sempit@example.id")
    upload(stack, presign(stack, token), (PHOTOS / "jpg_truncated_phone.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    assert ktp_status(stack, token)["status"] == "REJECTED"
    upload(stack, presign(stack, token), (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    assert ktp_status(stack, token)["status"] == "VALID"
    # Then every item call the worker made is one its conditions allow (AWS would refuse the rest)
    assert worker_findings(probe) == []
    items = probe.item_calls["KtpProcessFunction"]
    gets = [i for i in items if i[0] == "dynamodb:GetItem"]
    updates = [i for i in items if i[0] == "dynamodb:UpdateItem"]
    assert gets and updates, items
    # every read is a projection of listed attributes: nothing of the profile beyond its key
    assert {mode for *_, mode in gets} == {"SPECIFIC_ATTRIBUTES"}
    assert {a for _, _, attrs, _ in gets for a in attrs} <= granted_attributes("dynamodb:GetItem")
    assert {mode for *_, mode in updates} == {"NONE"}
    assert {a for _, _, attrs, _ in updates for a in attrs} <= granted_attributes("dynamodb:UpdateItem")


def test_a_worker_reading_the_whole_profile_is_reported(stack, probe, monkeypatch):
    # Given a worker that reads the account with the full GetItem (as it did before issue 16's
    # item 11): src code, so the probe charges it to the worker
    monkeypatch.setattr(ApplicantStore, "has_profile", ApplicantStore.get_profile)
    token = verified_applicant(stack, "lebar@example.id")
    upload(stack, presign(stack, token), (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert stack.drain("UploadQueue", "KtpProcessFunction") >= 1
    # Then the probe reports what AWS would refuse (and the session's check would fail on it)
    refused = f"{TABLE} refused: dynamodb:Select ALL_ATTRIBUTES"
    assert [line.split(" (first in")[0] for line in worker_findings(probe)] == [
        f"KtpProcessFunction: dynamodb:GetItem on {refused}"]
    del probe.calls["KtpProcessFunction"][("dynamodb:GetItem", refused)]  # expected here, not a finding
