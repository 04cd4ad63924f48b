"""Least privilege, both ways: every function is granted exactly what its code needs on AWS.

The grants are derived from template.yaml: each function's ``Policies`` (explicit ``Statement``
blocks, and SAM policy templates expanded from the pinned definitions in
``sam_policy_templates.json``) plus the key-policy statements that name the function's role. The
needs are the one reviewed list, ``iam_needs.yaml`` (each action with the adapter call that needs
it). A needed action that is not granted fails (on AWS the call is refused: the KTP worker could
not delete the original's versions, issue 16); a granted action nobody needs fails too.

Both are compared as ``(action, resource, condition)``: resources are rendered from the
template's intrinsics with logical ids for names (``dynamodb:table/ApplicantsTable``,
``s3:KtpBucket/uploads/*``), conditions as written. A granted wildcard action (SAM's
``sqs:SendMessage*``) covers the needed actions it matches.

With the SAM virtualenv (``PRAKERJA_SAM_VENV``) two more checks run: the pinned template
definitions equal samtranslator's, and SAM's own translation of template.yaml gives every
function's role exactly the grants derived here, plus only the managed policies SAM adds
(basic execution; SQS polling for functions with SQS events).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.test_template_invariants import DOC, REPO, RESOURCES, of_type, props

NEEDS_PATH = Path(__file__).with_name("iam_needs.yaml")
PINNED_PATH = Path(__file__).with_name("sam_policy_templates.json")
NEEDS: dict[str, Any] = yaml.safe_load(NEEDS_PATH.read_text(encoding="utf-8"))
PINNED: dict[str, Any] = json.loads(PINNED_PATH.read_text(encoding="utf-8"))
FUNCTIONS = of_type("AWS::Serverless::Function")
PARAMETERS: dict[str, Any] = DOC.get("Parameters", {})

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "REGION", "AWS::AccountId": "ACCOUNT",
          "AWS::StackName": "STACK", "AWS::URLSuffix": "amazonaws.com"}
#: parameters rendered with a value (the others as "{Name}")
PARAMETER_VALUES = {"SenderEmail": "sender@mail.domain"}
BASIC_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
SQS_ROLE = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


# ---------------------------------------------------------------------------------- rendering
def _ref(name: str) -> str:
    if name in PSEUDO:
        return PSEUDO[name]
    if name in PARAMETERS:
        return PARAMETER_VALUES.get(name, "{" + name + "}")
    kind = RESOURCES[name]["Type"]
    by_type = {"AWS::DynamoDB::Table": name, "AWS::S3::Bucket": name, "AWS::SSM::Parameter": name,
               "AWS::KMS::Key": name, "AWS::SQS::Queue": f"https://sqs.REGION.amazonaws.com/ACCOUNT/{name}",
               "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:REGION:ACCOUNT:secret:{name}"}
    if kind not in by_type:
        raise AssertionError(f"no rendering for !Ref {name} ({kind}): add one to the test")
    return by_type[kind]


def _get_att(name: str, attribute: str) -> str:
    if attribute == "Arn" and name.endswith("Role") and name[:-4] in FUNCTIONS:  # SAM's generated role
        return f"arn:aws:iam::ACCOUNT:role/{name}"
    kind = RESOURCES[name]["Type"]
    arns = {"AWS::DynamoDB::Table": f"arn:aws:dynamodb:REGION:ACCOUNT:table/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:REGION:ACCOUNT:{name}", "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::KMS::Key": f"arn:aws:kms:REGION:ACCOUNT:key/{name}"}
    if attribute == "Arn" and kind in arns:
        return arns[kind]
    if attribute == "QueueName" and kind == "AWS::SQS::Queue":
        return name
    raise AssertionError(f"no rendering for !GetAtt {name}.{attribute}: add one to the test")


def render(value: Any, variables: dict[str, Any] | None = None) -> Any:
    """``value`` with every intrinsic function rendered to text (``Fn::If``: its true branch;
    ``AWS::NoValue`` items dropped from lists)."""
    if isinstance(value, list):
        items = [render(v, variables) for v in value]
        return [i for i in items if i is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and next(iter(value)) in _INTRINSICS:
        (key, arg), = value.items()
        return _INTRINSICS[key](arg, variables)
    return {k: render(v, variables) for k, v in value.items()}


def _render_ref(arg: str, variables: dict[str, Any] | None) -> Any:
    if variables and arg in variables:
        return render(variables[arg])
    return _NO_VALUE if arg == "AWS::NoValue" else _ref(arg)


def _render_get_att(arg: Any, variables: dict[str, Any] | None) -> str:
    name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
    return _get_att(name, attribute)


def _render_sub(arg: Any, variables: dict[str, Any] | None) -> str:
    text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    local = {k: render(v, variables) for k, v in local.items()}

    def one(match: re.Match[str]) -> str:
        token = match.group(1)
        if token in local:
            return str(local[token])
        if "." in token and token.split(".", 1)[0] in RESOURCES:
            return _get_att(*token.split(".", 1))
        return str(_render_ref(token, variables))

    return re.sub(r"\$\{([^}!]+)\}", one, text)


_INTRINSICS = {
    "Ref": _render_ref,
    "Fn::GetAtt": _render_get_att,
    "Fn::Sub": _render_sub,
    "Fn::Select": lambda arg, variables: render(arg[1], variables)[int(arg[0])],
    "Fn::Split": lambda arg, variables: str(render(arg[1], variables)).split(arg[0]),
    "Fn::If": lambda arg, variables: render(arg[1], variables),
}
_NO_VALUE = object()


def short(arn: str) -> str:
    """``arn:aws:<service>:<region>:<account>:<rest>`` -> ``<service>:<rest>``."""
    parts = arn.split(":", 5)
    assert len(parts) == 6 and parts[0] == "arn", f"not an ARN: {arn}"
    return f"{parts[2]}:{parts[5]}"


def _canonical_condition(condition: Any) -> str:
    if not condition:
        return ""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return sorted(v) if isinstance(v, list) else [v]

    return json.dumps({op: {k: norm(v) for k, v in keys.items()} for op, keys in condition.items()}, sort_keys=True)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Grant:
    action: str
    resource: str
    condition: str = ""

    def covers(self, need: Grant) -> bool:
        return (self.resource == need.resource and self.condition == need.condition
                and fnmatch.fnmatchcase(need.action.lower(), self.action.lower()))

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}" + (f" if {self.condition}" if self.condition else "")


def statement_grants(statement: dict[str, Any], resource_override: str | None = None) -> set[Grant]:
    """The (action, resource, condition) triples of one Allow statement."""
    assert statement.get("Effect") == "Allow", f"only Allow statements in a function's policies: {statement}"
    assert "NotAction" not in statement and "NotResource" not in statement, statement
    condition = _canonical_condition(statement.get("Condition"))
    resources = [resource_override] if resource_override else [short(r) for r in _as_list(statement["Resource"])]
    return {Grant(a, r, condition) for a in _as_list(statement["Action"]) for r in resources}


# ---------------------------------------------------------------------------------- grants and needs
def expand_template(name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """A SAM policy template's statements with its parameters bound to ``arguments``, rendered."""
    assert name in PINNED["Templates"], (
        f"policy template {name} is not pinned in {PINNED_PATH.name}: copy its definition from samtranslator")
    definition = PINNED["Templates"][name]
    assert set(arguments) == set(definition["Parameters"]), f"{name} takes {sorted(definition['Parameters'])}"
    return render(definition["Definition"]["Statement"], variables=arguments)


def policy_grants(function_id: str) -> set[Grant]:
    """What the function's ``Policies`` grant (explicit statements and expanded templates)."""
    grants: set[Grant] = set()
    for entry in props(FUNCTIONS[function_id]).get("Policies", []):
        assert isinstance(entry, dict) and len(entry) == 1, (
            f"{function_id}: a policy must be a Statement block or a policy template, not {entry!r} "
            "(a managed policy would bypass this check)")
        (name, value), = entry.items()
        statements = render(value) if name == "Statement" else expand_template(name, value)
        for statement in statements:
            grants |= statement_grants(statement)
    return grants


def key_policy_grants(function_id: str) -> set[Grant]:
    """What KMS key policies grant the function's role directly (``Resource: "*"`` is the key)."""
    role = f"arn:aws:iam::ACCOUNT:role/{function_id}Role"
    grants: set[Grant] = set()
    for key_id, key in of_type("AWS::KMS::Key").items():
        for statement in render(props(key)["KeyPolicy"]["Statement"]):
            principals = statement.get("Principal", {})
            if isinstance(principals, dict) and role in _as_list(principals.get("AWS", [])):
                grants |= statement_grants(statement, resource_override=f"kms:key/{key_id}")
    return grants


def grants_of(function_id: str) -> set[Grant]:
    return policy_grants(function_id) | key_policy_grants(function_id)


def needs_of(function_id: str) -> dict[Grant, str]:
    """The reviewed needs of one function: grant -> why."""
    out: dict[Grant, str] = {}
    for resource, actions in (NEEDS.get(function_id) or {}).items():
        for action, spec in actions.items():
            why, condition = (spec, None) if isinstance(spec, str) else (spec["why"], spec.get("condition"))
            assert why, f"{function_id}: {action} on {resource} says not why it is needed"
            out[Grant(action, resource, _canonical_condition(condition))] = why
    return out


# ---------------------------------------------------------------------------------- tests
def test_every_function_has_its_needs_listed() -> None:
    assert set(NEEDS) == set(FUNCTIONS), (
        f"{NEEDS_PATH.name} and template.yaml disagree on the functions: "
        f"only listed {sorted(set(NEEDS) - set(FUNCTIONS))}, "
        f"only in the template {sorted(set(FUNCTIONS) - set(NEEDS))}")


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_granted_exactly_what_is_needed(function_id: str) -> None:
    grants, needs = grants_of(function_id), needs_of(function_id)
    missing = sorted(str(n) for n in needs if not any(g.covers(n) for g in grants))
    unneeded = sorted(str(g) for g in grants if not any(g.covers(n) for n in needs))
    assert not missing, f"{function_id} needs but is not granted (AWS refuses the call): {missing}"
    assert not unneeded, f"{function_id} is granted but needs (per {NEEDS_PATH.name}) none of: {unneeded}"


def test_ktp_worker_can_delete_the_originals_versions_and_nothing_more() -> None:
    """Issue 16 item 1: without ListBucketVersions and DeleteObjectVersion the worker normalises
    every upload, then its clean-up is refused, the upload is never recorded and ends in the DLQ."""
    grants = grants_of("KtpProcessFunction")
    uploads_only = _canonical_condition({"StringLike": {"s3:prefix": ["uploads/*"]}})  # no other listing
    assert Grant("s3:ListBucketVersions", "s3:KtpBucket", uploads_only) in grants
    assert Grant("s3:DeleteObjectVersion", "s3:KtpBucket/uploads/*") in grants
    # item 11: the photo parser reads no stored KTP photo, changes no bucket setting, lists no
    # table; of the stored photos it only writes its output
    photos = {"s3:KtpBucket/ktp/*", "s3:KtpBucket/*"}
    assert not [g for g in grants if g.resource in photos and g.action != "s3:PutObject"]
    assert not [g for g in grants if "Lifecycle" in g.action]


def test_the_photo_parser_has_no_table_grant_and_sends_only_its_verdict() -> None:
    """Issue 16 item 11 (the split): KtpProcessFunction runs Pillow / pillow-heif on untrusted
    bytes, so it holds nothing on any DynamoDB table (a failing conditional update's
    ReturnValuesOnConditionCheckFailure, which no condition key governs, cannot read a profile
    through it); its one other grant is SendMessage on the verdict queue."""
    grants = grants_of("KtpProcessFunction")
    assert not [str(g) for g in grants if g.action.startswith("dynamodb:")]
    assert not [str(g) for g in grants if g.action.startswith(("kms:", "secretsmanager:", "ses:", "ssm:"))]
    assert {str(g) for g in grants if g.action.startswith("sqs:")} == {
        str(Grant("sqs:SendMessage", "sqs:KtpVerdictQueue"))}
    assert not [e for e in props(FUNCTIONS["KtpProcessFunction"])["Policies"] if "Statement" not in e], (
        "no SAM policy template (each grants more than the parser needs)")


def test_the_verdict_recorder_only_deletes_in_the_bucket() -> None:
    grants = grants_of("KtpVerdictFunction")
    s3 = {(g.action, g.resource) for g in grants if g.action.startswith("s3:")}
    assert s3 == {("s3:ListBucketVersions", "s3:KtpBucket"), ("s3:DeleteObjectVersion", "s3:KtpBucket/uploads/*"),
                  ("s3:DeleteObjectVersion", "s3:KtpBucket/ktp/*")}


#: attributes of Applicants items the KTP verdict recorder must neither read nor write (profile,
#: sentinels, tokens, biodata; src/prakerja/adapters/applicants.py)
_NOT_THE_PARSERS = {"email", "email_key", "email_kid", "email_generation", "password_hash", "password_generation",
                    "session_generation", "consent_version", "consent_at", "consent_withdrawn_at", "applicant_id",
                    "kid", "nik_key", "nik_kid", "verified_at", "check", "version", "purpose", "used_at",
                    "family", "selected_batch", "active_batch", "nik_version", "envelope", "nik"}


def _applicants_statements(function_id: str) -> dict[str, dict[str, Any]]:
    """action -> the one rendered statement granting it on the Applicants table."""
    found: dict[str, dict[str, Any]] = {}
    for entry in props(FUNCTIONS[function_id])["Policies"]:
        for statement in render(entry.get("Statement", [])):
            if "arn:aws:dynamodb:REGION:ACCOUNT:table/ApplicantsTable" in _as_list(statement["Resource"]):
                for action in _as_list(statement["Action"]):
                    assert action not in found, f"{action} granted twice"
                    found[action] = statement
    return found


def test_the_verdict_recorder_gets_only_upload_and_ktp_step_attributes() -> None:
    """Issue 16 item 11: KtpVerdictFunction records the photo parser's verdicts, so on the
    Applicants table it may GetItem only as a projection (``dynamodb:Select`` SPECIFIC_ATTRIBUTES: without it IAM
    checks only the attributes a request names, and a plain GetItem names none) of the listed
    attributes, and UpdateItem only the listed ones, returning no values (ALL_OLD / ALL_NEW would
    read the whole item), in applicant partitions and the ktp_valid funnel counters. The lists are
    iam_needs.yaml's (the reviewed per-call list); the key attributes are in them, as DynamoDB
    requires."""
    statements = _applicants_statements("KtpVerdictFunction")
    assert set(statements) == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    needs = NEEDS["KtpVerdictFunction"]["dynamodb:table/ApplicantsTable"]
    for action, statement in statements.items():
        condition = statement["Condition"]
        assert _canonical_condition(condition) == _canonical_condition(needs[action]["condition"]), action
        attributes = set(condition["ForAllValues:StringEquals"]["dynamodb:Attributes"])
        assert {"pk", "sk"} <= attributes and not attributes & _NOT_THE_PARSERS, (action, attributes)
        leading = _as_list(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        assert set(leading) <= {"APP#*", "FUNNEL#ktp_valid#*"}, leading
    get = statements["dynamodb:GetItem"]["Condition"]
    assert get["StringEquals"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}  # not ...IfExists
    assert _as_list(get["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]) == ["APP#*"]
    assert set(get["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == {"pk", "sk", "sequence",
                                                                            "processed_version"}
    update = statements["dynamodb:UpdateItem"]["Condition"]
    assert set(update) == {"ForAllValues:StringLike", "ForAllValues:StringEquals", "StringEquals"}
    assert set(_as_list(update["StringEquals"]["dynamodb:ReturnValues"])) <= {"NONE", "UPDATED_OLD", "UPDATED_NEW"}


def test_pii_key_is_used_only_under_the_crypto_adapters_encryption_context() -> None:
    from prakerja.adapters.crypto import KMS_CONTEXT

    expected = _canonical_condition({"StringEquals": {f"kms:EncryptionContext:{k}": v for k, v in KMS_CONTEXT.items()}})
    kms = [g for fid in FUNCTIONS for g in grants_of(fid) if g.action.startswith("kms:")]
    assert kms, "no function may use a KMS key?"
    assert all(g.condition == expected for g in kms), [str(g) for g in kms if g.condition != expected]
    assert not [g for fid in FUNCTIONS for g in policy_grants(fid) if g.action.startswith("kms:")], (
        "KMS use is granted by the key policy alone (naming the roles)")


def test_pii_key_policy_lets_the_account_administer_but_not_use_it() -> None:
    statements = render(props(RESOURCES["PiiKey"])["KeyPolicy"]["Statement"])
    account = [s for s in statements if s.get("Principal") == {"AWS": "arn:aws:iam::ACCOUNT:root"}]
    assert account, "the account must keep administering the key (KMS refuses a lock-out)"
    actions = {a for s in account for a in _as_list(s["Action"])}
    forbidden = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                 "kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext"}
    assert not [a for a in actions if "*" in a or a in forbidden], sorted(actions)
    for statement in statements:
        if statement in account:
            continue
        principal = _as_list(statement["Principal"]["AWS"])
        roles = [p for p in principal if p.startswith("arn:aws:iam::ACCOUNT:role/") or p == "{PiiOperatorRoleArn}"]
        assert roles == principal, principal


@pytest.mark.parametrize("key_id", sorted(of_type("AWS::KMS::Key")))
def test_no_key_policy_gives_kms_star_and_the_account_cannot_use_any_key(key_id: str) -> None:
    # every key: the account administers it through IAM but may not encrypt or decrypt with it,
    # and no statement grants a wildcard action (issue 16, item 11)
    statements = [s for s in render(props(RESOURCES[key_id])["KeyPolicy"]["Statement"]) if isinstance(s, dict)]
    # (the services publishing to an encrypted SNS topic need kms:GenerateDataKey*, AWS's own spelling)
    assert not [a for s in statements for a in _as_list(s["Action"]) if "*" in a and a != "kms:GenerateDataKey*"]
    account = [s for s in statements if s.get("Principal") == {"AWS": "arn:aws:iam::ACCOUNT:root"}]
    assert account, f"{key_id}: the account must keep administering the key (KMS refuses a lock-out)"
    used = {a for s in account for a in _as_list(s["Action"])} & {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey",
                                                                  "kms:CreateGrant", "kms:ReEncryptFrom"}
    assert not used, (key_id, sorted(used))


def test_audit_bucket_refuses_deletes() -> None:
    policies = [p for p in of_type("AWS::S3::BucketPolicy").values() if props(p)["Bucket"] == {"Ref": "AuditBucket"}]
    denied = {a for p in policies for s in props(p)["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and s["Principal"] == "*" and "Condition" not in s
              for a in _as_list(s["Action"])}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration"} <= denied


# ---------------------------------------------------------------------------------- with samtranslator
_TRANSLATE = r"""
import json, sys
import samtranslator
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

names = json.loads(sys.argv[2])
templates = PolicyTemplatesProcessor.get_default_policy_templates_json()["Templates"]
doc = yaml_parse(open(sys.argv[1]).read())
for resource in doc["Resources"].values():
    for key in ("CodeUri", "ContentUri"):
        if key in resource.get("Properties", {}):
            resource["Properties"][key] = "s3://bucket/key"  # no upload: only the policies matter

class Managed:
    def load(self):
        return {"AWSLambdaBasicExecutionRole": sys.argv[3], "AWSLambdaSQSQueueExecutionRole": sys.argv[4]}

out = transform(doc, {}, Managed())
roles = {rid: res["Properties"] for rid, res in out["Resources"].items() if res["Type"] == "AWS::IAM::Role"}
print(json.dumps({"version": samtranslator.__version__, "templates": {n: templates.get(n) for n in names},
                  "roles": roles}))
"""


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    venv = os.environ.get("PRAKERJA_SAM_VENV")
    if not venv:
        pytest.skip("PRAKERJA_SAM_VENV is not set (`scripts/venv.sh sam requirements/sam.lock`; `make test` sets it)")
    names = sorted({next(iter(e)) for f in FUNCTIONS.values() for e in props(f).get("Policies", [])} - {"Statement"})
    result = subprocess.run([str(Path(venv) / "bin" / "python"), "-c", _TRANSLATE, str(REPO / "template.yaml"),
                             json.dumps(names), BASIC_ROLE, SQS_ROLE], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "AWS_DEFAULT_REGION": "ap-southeast-3"})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_pinned_templates_equal_samtranslators(translated: dict[str, Any]) -> None:
    for name, definition in translated["templates"].items():
        assert definition is not None, f"samtranslator {translated['version']} has no policy template {name}"
        assert PINNED["Templates"].get(name) == definition, (
            f"{name} changed in samtranslator {translated['version']}: re-pin it in {PINNED_PATH.name} "
            "and review what it grants now")


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_sams_translation_grants_what_the_test_derives(translated: dict[str, Any], function_id: str) -> None:
    role = translated["roles"][f"{function_id}Role"]
    grants = {g for policy in role.get("Policies", []) for s in render(policy["PolicyDocument"]["Statement"])
              for g in statement_grants(s)}
    assert grants == policy_grants(function_id)
    sqs_events = any(e.get("Type") == "SQS" for e in (props(FUNCTIONS[function_id]).get("Events") or {}).values())
    assert sorted(role.get("ManagedPolicyArns", [])) == sorted([BASIC_ROLE] + ([SQS_ROLE] if sqs_events else []))
