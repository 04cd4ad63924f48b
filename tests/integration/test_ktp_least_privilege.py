"""The KTP step's table access (issue 16 item 11): the photo parser (KtpProcessFunction) makes no
table call at all; the verdict recorder (KtpVerdictFunction) makes only the item calls its
fine-grained grant allows. The KTP flow runs with the IAM probe, whose check of every item call
against the grants (tests/infra/iam_needs.yaml, the same conditions as template.yaml) is what AWS
would enforce and moto does not."""

from __future__ import annotations

from pathlib import Path

import yaml

from prakerja.adapters.applicants import ApplicantStore
from tests.integration.support import verified_applicant
from tests.integration.test_ktp import PHOTOS, drain_ktp, ktp_status, presign, upload

NEEDS = yaml.safe_load((Path(__file__).parents[1] / "infra" / "iam_needs.yaml").read_text(encoding="utf-8"))
TABLE = "dynamodb:table/ApplicantsTable"
RECORDER = "KtpVerdictFunction"


def granted_attributes(action: str) -> set[str]:
    condition = NEEDS[RECORDER][TABLE][action]["condition"]
    return set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])


def findings(probe, function_id: str) -> list[str]:
    return [line for line in probe.missing(NEEDS) if line.startswith(f"{function_id}:")]


def test_the_photo_parser_makes_no_table_call_and_the_recorder_only_allowed_ones(stack, probe):
    # Given an applicant whose first photo is refused and whose second is valid
    token = verified_applicant(stack, "sempit@example.id")
    upload(stack, presign(stack, token), (PHOTOS / "jpg_truncated_phone.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    assert ktp_status(stack, token)["status"] == "REJECTED"
    upload(stack, presign(stack, token), (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    assert ktp_status(stack, token)["status"] == "VALID"
    # Then the parser, which decoded both photos, touched no table (it has no grant on any)
    assert not probe.item_calls.get("KtpProcessFunction")
    assert not [call for call in probe.calls.get("KtpProcessFunction", {}) if call[0].startswith("dynamodb:")]
    assert findings(probe, "KtpProcessFunction") == []
    # And every item call the recorder made is one its conditions allow (AWS would refuse the rest)
    assert findings(probe, RECORDER) == []
    items = probe.item_calls[RECORDER]
    gets = [i for i in items if i[0] == "dynamodb:GetItem"]
    updates = [i for i in items if i[0] == "dynamodb:UpdateItem"]
    assert gets and updates, items
    # every read is a projection of listed attributes: nothing of the profile beyond its key
    assert {mode for *_, mode in gets} == {"SPECIFIC_ATTRIBUTES"}
    assert {a for _, _, attrs, _ in gets for a in attrs} <= granted_attributes("dynamodb:GetItem")
    assert {mode for *_, mode in updates} == {"NONE"}
    assert {a for _, _, attrs, _ in updates for a in attrs} <= granted_attributes("dynamodb:UpdateItem")


def test_a_recorder_reading_the_whole_profile_is_reported(stack, probe, monkeypatch):
    # Given a recorder that reads the account with the full GetItem (as the worker did before
    # issue 16's item 11): src code, so the probe charges it to the recorder
    monkeypatch.setattr(ApplicantStore, "has_profile", ApplicantStore.get_profile)
    token = verified_applicant(stack, "lebar@example.id")
    upload(stack, presign(stack, token), (PHOTOS / "jpg_gps_DSCN0010.jpg").read_bytes())
    assert drain_ktp(stack) >= 1
    # Then the probe reports what AWS would refuse (and the session's check would fail on it)
    refused = f"{TABLE} refused: dynamodb:Select ALL_ATTRIBUTES"
    assert [line.split(" (first in")[0] for line in findings(probe, RECORDER)] == [
        f"{RECORDER}: dynamodb:GetItem on {refused}"]
    del probe.calls[RECORDER][("dynamodb:GetItem", refused)]  # expected here, not a finding

