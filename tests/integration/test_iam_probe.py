"""The IAM probe (tests/integration/iam_probe.py) charges each AWS call to the function that made
it, as the IAM actions that authorise it, and leaves out what a test does in a function's place."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import boto3
import pytest

from tests.integration.iam_probe import IamProbe
from tests.integration.support import verified_applicant


@pytest.fixture
def probe(iam_probe: IamProbe | None) -> Iterator[IamProbe]:
    """The session's probe, recording this test's calls apart (then added to the session's)."""
    if iam_probe is None:
        pytest.skip("PRAKERJA_IAM_PROBE=0")
    session, iam_probe.calls = iam_probe.calls, defaultdict(dict)
    try:
        yield iam_probe
    finally:
        for function_id, calls in iam_probe.calls.items():
            for call, test in calls.items():
                session[function_id].setdefault(call, test)
        iam_probe.calls = session


def test_a_functions_calls_are_charged_to_it_and_a_tests_stand_in_calls_are_not(stack, probe, monkeypatch):
    from prakerja.adapters.quota import Quota

    token = verified_applicant(stack, "probe@example.id")
    take = Quota.take
    marker = "probe-marker/stand-in"

    def stand_in(self, *args, **kwargs):  # a test doing another actor's write during the request
        boto3.client("s3").put_object(Bucket=stack.env("KTP_BUCKET"), Key=marker, Body=b"x")
        return take(self, *args, **kwargs)

    monkeypatch.setattr(Quota, "take", stand_in)
    assert stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=token).status == 200
    upload = probe.calls["KtpUploadFunction"]
    assert ("dynamodb:GetItem", "dynamodb:table/ApplicantsTable") in upload  # signed_in reads the profile
    assert ("dynamodb:PutItem", "dynamodb:table/ApplicantsTable") in upload  # the issued upload item
    # what runs beneath test code is the test's (here also the quota's own update, which the
    # other KTP tests record)
    assert not [r for calls in probe.calls.values() for (_, r) in calls if marker in r]
    assert ("dynamodb:UpdateItem", "dynamodb:table/LimitsTable") not in upload


def test_calls_become_the_actions_iam_authorises_them_by() -> None:
    probe = IamProbe()
    transaction = {"TransactItems": [{"Put": {"TableName": "t"}}, {"Update": {"TableName": "t"}},
                                     {"Delete": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "t"}}]}
    assert set(probe.actions("dynamodb", "TransactWriteItems", transaction, None)) == {
        ("dynamodb:PutItem", "dynamodb:table/t"), ("dynamodb:UpdateItem", "dynamodb:table/t"),
        ("dynamodb:DeleteItem", "dynamodb:table/t"), ("dynamodb:ConditionCheckItem", "dynamodb:table/t")}
    assert list(probe.actions("dynamodb", "Query", {"TableName": "t", "IndexName": "I"}, None)) == [
        ("dynamodb:Query", "dynamodb:table/t/index/I")]
    deletes = {"Bucket": "b", "Delete": {"Objects": [{"Key": "ktp/a", "VersionId": "1"}, {"Key": "uploads/a"}]}}
    assert set(probe.actions("s3", "DeleteObjects", deletes, None)) == {
        ("s3:DeleteObjectVersion", "s3:b/ktp/a"), ("s3:DeleteObject", "s3:b/uploads/a")}
    assert list(probe.actions("sqs", "SendMessageBatch", {"QueueUrl": "q"}, None)) == [("sqs:SendMessage", "sqs:q")]


def test_an_unlisted_call_or_a_listing_outside_the_granted_prefixes_is_reported() -> None:
    probe = IamProbe()
    probe.calls["F"][("s3:ListBucketVersions", "s3:B prefix=uploads/x")] = "t1"
    probe.calls["F"][("s3:ListBucketVersions", "s3:B prefix=ktp/x")] = "t2"
    probe.calls["F"][("s3:DeleteObjectVersion", "s3:B/uploads/x")] = "t3"
    probe.calls["F"][("dynamodb:GetItem", "dynamodb:table/T")] = "t4"
    uploads_only = {"why": "w", "condition": {"StringLike": {"s3:prefix": "uploads/*"}}}
    needs = {"F": {"s3:B": {"s3:ListBucketVersions": uploads_only}, "s3:B/uploads/*": {"s3:DeleteObjectVersion": "w"}}}
    assert probe.missing(needs) == ["F: dynamodb:GetItem on dynamodb:table/T (first in t4)",
                                    "F: s3:ListBucketVersions on s3:B prefix=ktp/x (first in t2)"]
