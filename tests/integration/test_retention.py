"""Retention of personal data (docs/runbook.md "Retention"): the biodata carries a DynamoDB TTL of
``BiodataRetentionDays`` (template parameter -> ``BIODATA_RETENTION_DAYS``) after its last
submission; KTP photos expire by the bucket's lifecycle rule (checked in
tests/infra/test_template_invariants.py)."""

from __future__ import annotations

from tests.integration.support import sign_in, verified_applicant
from tests.integration.test_biodata_nik import form, register_person
from tests.integration.test_biodata_nik_security import raw_items
from tests.integration.test_nik_worker import tune

DAY = 86400


def biodata_item(stack, token: str) -> dict:
    applicant_id = stack.call("GET", "/v1/me", token=token).body["applicant_id"]
    return next(i for i in raw_items(stack, applicant_id) if i["sk"] == "BIODATA")


def test_biodata_expires_the_template_default_of_730_days_after_its_last_submission(stack, clock, ministry):
    # Given the stack as the template sets it up (BiodataRetentionDays' default) and a first version
    register_person(ministry)
    token = verified_applicant(stack, "keep@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(full_name="Budi Santosa"), token=token).status == 202
    first = biodata_item(stack, token)

    # When a corrected version is submitted a day later
    clock.advance(DAY)
    token = sign_in(stack, "keep@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 202

    # Then the item's TTL is 730 days after the correction, not after the first submission
    assert int(first["ttl"]) == int(clock.now.timestamp()) - DAY + 730 * DAY
    assert int(biodata_item(stack, token)["ttl"]) == int(clock.now.timestamp()) + 730 * DAY


def test_a_retention_of_zero_keeps_the_biodata_until_erasure(stack, ministry):
    # Given BIODATA_RETENTION_DAYS=0 for the biodata function
    tune(stack, "BiodataFunction", biodata_retention_days=0)
    register_person(ministry)
    token = verified_applicant(stack, "forever@example.id")

    # When biodata is stored
    assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 202

    # Then it carries no TTL
    assert "ttl" not in biodata_item(stack, token)
