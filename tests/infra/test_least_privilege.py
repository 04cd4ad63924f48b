"""Least privilege, checked (issue 15, item 6), beside ``test_iam_policies.py`` (which compares
every function's grants with the reviewed list ``iam_needs.yaml`` both ways). These checks hold
even against a wrong entry in that list:

- no wildcard action, in a function's policies, a key policy naming its role, or the list
  (except SAM's own ``sqs:SendMessage*`` spelling, which matches SendMessage and SendMessageBatch);
- no wildcard resource where AWS allows scoping: a ``*`` only as the object part of an S3 ARN
  under a named key prefix (``arn:aws:s3:::Bucket/uploads/*``), or for an action AWS defines on
  no resource type (``UNSCOPABLE``);
- the PII key (kms:Decrypt, kms:GenerateDataKey), the secrets (GetSecretValue) and the
  registration switch (ssm:GetParameter) only for a function whose handler module wires them
  (the settings its model requires, ``trust_cloudfront``, ``SwitchStore``), and
  granted to every function that does.
"""

from __future__ import annotations

import ast
from typing import Any

import pytest

from prakerja import settings
from tests.infra.test_function_settings import model_of
from tests.infra.test_iam_policies import (
    FUNCTIONS,
    NEEDS,
    _as_list,
    expand_template,
    grants_of,
    render,
)
from tests.infra.test_template_invariants import REPO, RESOURCES, of_type, props

#: wildcard actions allowed, with what they match: the spellings of SAM's policy templates
SAM_WILDCARDS = {"sqs:SendMessage*": "SQSSendMessagePolicy: sqs:SendMessage and sqs:SendMessageBatch"}
#: actions AWS's Service Authorization Reference defines on no resource type ("*" is the only
#: resource they take); none is granted today, they are listed so that one can be without a fight
UNSCOPABLE = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData",
              "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"}


def _statements(function_id: str) -> list[dict[str, Any]]:
    """Every Allow statement that gives the function's role something: its ``Policies``
    (templates expanded) and the key-policy statements naming the role (``Resource: "*"`` in a
    key policy is the key itself, so those statements are returned with the key's ARN)."""
    out: list[dict[str, Any]] = []
    for entry in props(FUNCTIONS[function_id]).get("Policies", []):
        (name, value), = entry.items()
        out += render(value) if name == "Statement" else expand_template(name, value)
    role = f"arn:aws:iam::ACCOUNT:role/{function_id}Role"
    for key_id, key in of_type("AWS::KMS::Key").items():
        for statement in render(props(key)["KeyPolicy"]["Statement"]):
            principals = statement.get("Principal", {})
            if isinstance(principals, dict) and role in _as_list(principals.get("AWS", [])):
                out.append(statement | {"Resource": f"arn:aws:kms:REGION:ACCOUNT:key/{key_id}"})
    return out


def _wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_no_function_is_granted_a_wildcard_action(function_id: str) -> None:
    actions = {a for s in _statements(function_id) for a in _as_list(s["Action"])}
    wild = sorted(a for a in actions if _wildcard(a) and a not in SAM_WILDCARDS)
    assert not wild, f"{function_id} is granted wildcard actions (name each action the code calls): {wild}"


def test_the_reviewed_list_names_no_wildcard_action_or_resource() -> None:
    listed = [(fid, resource, action) for fid, resources in NEEDS.items() for resource, actions in
              (resources or {}).items() for action in actions]
    wild = [f"{fid}: {action}" for fid, _, action in listed if _wildcard(action) and action not in SAM_WILDCARDS]
    assert not wild, f"iam_needs.yaml lists wildcard actions (list each call): {wild}"
    bad = [f"{fid}: {action} on {resource}" for fid, resource, action in listed
           if _wildcard(resource) and not _scoped_object_pattern(resource) and action not in UNSCOPABLE]
    assert not bad, f"iam_needs.yaml lists wildcard resources AWS lets one scope: {bad}"


def _scoped_object_pattern(resource: str) -> bool:
    """``s3:<Bucket>/<prefix>/*`` (short form) or ``arn:aws:s3:::<Bucket>/<prefix>/*``: objects
    under one named key prefix of one named bucket, the narrowest S3 allows for keys made at run
    time."""
    rest = resource.removeprefix("arn:aws:s3:::") if resource.startswith("arn:") else (
        resource.removeprefix("s3:") if resource.startswith("s3:") else None)
    if rest is None:
        return False
    bucket, _, key = rest.partition("/")
    prefix = key.removesuffix("*")
    return (bucket in RESOURCES and key.endswith("/*") and bool(prefix.strip("/"))
            and not _wildcard(bucket) and not _wildcard(prefix))


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_no_function_is_granted_a_wildcard_resource_where_aws_allows_scoping(function_id: str) -> None:
    bad = sorted({f"{a} on {r}" for s in _statements(function_id) for r in _as_list(s["Resource"])
                  for a in _as_list(s["Action"])
                  if _wildcard(str(r)) and not _scoped_object_pattern(str(r)) and a not in UNSCOPABLE})
    assert not bad, f"{function_id} is granted wildcard resources that AWS lets one scope: {bad}"


@pytest.mark.parametrize("resource", ["*", "arn:aws:s3:::KtpBucket/*", "arn:aws:s3:::*/uploads/*",
                                      "arn:aws:dynamodb:REGION:ACCOUNT:table/*", "s3:KtpBucket/*"])
def test_a_bucket_wide_or_unnamed_resource_is_not_scoped(resource: str) -> None:
    assert not _scoped_object_pattern(resource)


def test_an_object_prefix_of_a_named_bucket_is_scoped() -> None:
    assert _scoped_object_pattern("arn:aws:s3:::KtpBucket/uploads/*") and _scoped_object_pattern("s3:KtpBucket/ktp/*")


# ---------------------------------------------------------------------------------- derived from the code
#: resource -> (what in the handler module wires it, the actions on it that count as using it)
WIRED_BY: dict[str, tuple[str, str]] = {
    "kms:key/PiiKey": ("setting pii_key_id", "kms:"),
    "secretsmanager:secret:AppSecrets": ("setting secrets_name", "secretsmanager:GetSecretValue"),
    "secretsmanager:secret:OriginVerifySecret": ("trust_cloudfront", "secretsmanager:GetSecretValue"),
    "ssm:parameter/RegistrationSwitch": ("SwitchStore", "ssm:GetParameter"),
}


def wiring_of(function_id: str) -> set[str]:
    """What the function's handler module (``CodeUri`` + ``Handler``) wires: ``setting <name>``
    for each setting its settings model requires (``build(Model)`` / ``Model.load()``), and each
    name it calls (``trust_cloudfront``, ``SwitchStore``...)."""
    p = props(FUNCTIONS[function_id])
    module = p["Handler"].rpartition(".")[0].replace(".", "/") + ".py"
    tree = ast.parse((REPO / p["CodeUri"] / module).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else (
            node.func.attr if isinstance(node.func, ast.Attribute) else "")
        found.add(name)
    model = getattr(settings, model_of(function_id))
    found |= {f"setting {n}" for n, info in model.model_fields.items() if info.is_required()}
    return found


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_the_pii_key_and_the_secrets_only_where_the_code_wires_them(function_id: str) -> None:
    # Given what the handler module wires and what the role is granted
    wired, grants = wiring_of(function_id), grants_of(function_id)
    for resource, (marker, prefix) in WIRED_BY.items():
        granted = sorted(g.action for g in grants if g.resource == resource and g.action.startswith(prefix))
        # Then a grant on the key or a secret is there exactly when the code uses it
        assert not (granted and marker not in wired), (
            f"{function_id} is granted {granted} on {resource} but its handler does not wire it ({marker})")
        assert granted or marker not in wired, (
            f"{function_id} wires {resource} ({marker}) but is granted nothing on it: AWS refuses the call")


def test_wiring_is_read_from_the_handlers() -> None:
    # the derivation sees what the handlers really wire (else the test above proves nothing)
    assert "setting pii_key_id" in wiring_of("NikWorkerFunction")
    assert "setting pii_key_id" not in wiring_of("RegisterFunction")
    assert "trust_cloudfront" in wiring_of("RegisterFunction")
    assert "setting secrets_name" not in wiring_of("KtpProcessFunction")
    assert "setting sender_email" in wiring_of("EmailSenderFunction")

