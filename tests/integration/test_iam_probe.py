"""The IAM probe (tests/integration/iam_probe.py) charges each AWS call to the function that made
it, as the IAM actions that authorise it, and leaves out what a test does in a function's place."""

from __future__ import annotations

import boto3

from tests.integration.iam_probe import IamProbe
from tests.integration.support import verified_applicant


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


def test_expressions_name_their_top_level_attributes() -> None:
    from tests.integration.iam_probe import expression_attributes

    names = {"#st": "status", "#m": "funnel_ktp_valid", "#s": "steps"}
    assert expression_attributes("SET steps.ktp = :new, #m = if_not_exists(#m, :at) ADD #c :one",
                                 {**names, "#c": "count"}) == {"steps", "funnel_ktp_valid", "count"}
    assert expression_attributes("attribute_exists(pk) AND NOT #s.ktp.#st = :valid OR size(a[2].b) > :n",
                                 names) == {"pk", "steps", "a"}
    assert expression_attributes("#pk, #sk", {"#pk": "pk", "#sk": "sk"}) == {"pk", "sk"}


def test_a_fine_grained_grant_refuses_what_iam_would() -> None:
    """What the probe reports for a function whose grant carries dynamodb: condition keys (the
    KTP worker's, issue 16 item 11): an unlisted attribute, a GetItem without a projection
    (``dynamodb:Attributes`` sees only the attributes a request names, so only ``Select`` stops
    it), ``ReturnValues`` ALL_OLD, the whole item on a failed condition, another partition."""
    read = {"why": "w", "condition": {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APP#*"]},
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "sequence"]},
        "StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}}
    write = {"why": "w", "condition": {
        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "steps"]},
        "StringEquals": {"dynamodb:ReturnValues": "NONE"}}}
    probe = IamProbe({"F": {"dynamodb:table/T": {"dynamodb:GetItem": read, "dynamodb:UpdateItem": write}}})
    key = {"pk": "APP#1", "sk": "PROFILE"}
    ktp = "SET steps.ktp = :v"
    calls = [
        ("GetItem", {"Key": key, "ProjectionExpression": "#s", "ExpressionAttributeNames": {"#s": "sequence"}}),
        ("GetItem", {"Key": key, "ProjectionExpression": "sequence, email_key"}),
        ("GetItem", {"Key": key}),
        ("GetItem", {"Key": {"pk": "EMAIL#x", "sk": "SENTINEL"}, "ProjectionExpression": "sk"}),
        ("UpdateItem", {"Key": key, "UpdateExpression": ktp, "ConditionExpression": "attribute_exists(pk)"}),
        ("UpdateItem", {"Key": key, "UpdateExpression": ktp, "ReturnValues": "ALL_OLD"}),
        ("UpdateItem", {"Key": key, "UpdateExpression": ktp, "ConditionExpression": "password_hash = :h"}),
        ("UpdateItem", {"Key": key, "UpdateExpression": ktp, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
        ("UpdateItem", {"Key": key, "AttributeUpdates": {"email": {"Action": "DELETE"}}}),  # legacy parameters
        ("UpdateItem", {"Key": key, "UpdateExpression": ktp, "Expected": {"nik_key": {"Exists": True}}}),
    ]
    for operation, params in calls:
        probe._record("F", "dynamodb", operation, {"TableName": "T", **params}, {})
    assert probe.missing(probe.needs) == [
        "F: dynamodb:GetItem on dynamodb:table/T refused: dynamodb:Attributes email_key (first in )",
        "F: dynamodb:GetItem on dynamodb:table/T refused: dynamodb:LeadingKeys EMAIL#x (first in )",
        "F: dynamodb:GetItem on dynamodb:table/T refused: dynamodb:Select ALL_ATTRIBUTES (first in )",
        "F: dynamodb:UpdateItem on dynamodb:table/T refused: ReturnValuesOnConditionCheckFailure ALL_OLD (first in )",
        "F: dynamodb:UpdateItem on dynamodb:table/T refused: dynamodb:Attributes email (first in )",
        "F: dynamodb:UpdateItem on dynamodb:table/T refused: dynamodb:Attributes nik_key (first in )",
        "F: dynamodb:UpdateItem on dynamodb:table/T refused: dynamodb:Attributes password_hash (first in )",
        "F: dynamodb:UpdateItem on dynamodb:table/T refused: dynamodb:ReturnValues ALL_OLD (first in )",
    ]


def test_a_fine_grained_grant_on_a_call_the_probe_cannot_evaluate_is_reported_not_passed() -> None:
    """A Query or BatchGetItem under a grant with dynamodb: condition keys (the probe evaluates
    item calls only) is reported, and a ForAnyValue operator stops the probe: neither may pass
    unchecked."""
    import pytest

    from tests.integration.iam_probe import refusal

    attributes = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk"]}}
    needs = {"F": {"dynamodb:table/T": {"dynamodb:Query": {"why": "w", "condition": attributes},
                                        "dynamodb:BatchGetItem": {"why": "w", "condition": attributes},
                                        "dynamodb:Scan": "w"}}}
    probe = IamProbe(needs)
    probe._record("F", "dynamodb", "Query", {"TableName": "T", "KeyConditionExpression": "pk = :p"}, {})
    probe._record("F", "dynamodb", "BatchGetItem", {"RequestItems": {"T": {"Keys": [{"pk": "A", "sk": "B"}]}}}, {})
    probe._record("F", "dynamodb", "Scan", {"TableName": "T"}, {})  # no condition: listed, so not reported
    assert probe.missing(needs) == [
        "F: dynamodb:BatchGetItem on dynamodb:table/T refused: the probe does not evaluate dynamodb: conditions "
        "of BatchGetItem (first in )",
        "F: dynamodb:Query on dynamodb:table/T refused: the probe does not evaluate dynamodb: conditions of Query "
        "(first in )",
    ]
    with pytest.raises(AssertionError, match="ForAnyValue:StringEquals"):
        refusal({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["pk"]}}, {"dynamodb:Attributes": ["pk"]})
