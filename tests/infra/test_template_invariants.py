"""Invariants of template.yaml that neither cfn-lint nor SAM check: the rules that keep messages from
being lost, builds arm64, data safe and the public contract routed.

Parsed with the local stack's loader (``prakerja_local.template.load_yaml``: CloudFormation short
tags become their long form, e.g. ``!GetAtt Q.Arn`` -> ``{"Fn::GetAtt": ["Q", "Arn"]}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO / "template.yaml"

try:
    from prakerja_local.template import load_yaml
except ImportError:  # a CFN-tag-aware loader of our own, same long forms

    class _CfnLoader(yaml.SafeLoader):
        pass

    def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Ref": value} if suffix == "Ref" else {f"Fn::{suffix}": value}

    _CfnLoader.add_multi_constructor("!", _short_tag)

    def load_yaml(path: Path | str) -> dict[str, Any]:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader


DOC = load_yaml(TEMPLATE_PATH)
RESOURCES: dict[str, dict[str, Any]] = DOC["Resources"]
GLOBAL_FN: dict[str, Any] = DOC.get("Globals", {}).get("Function", {})

SAM_DEFAULT_TIMEOUT = 3  # seconds, when neither the function nor Globals set one
SQS_DEFAULT_VISIBILITY = 30
SQS_DEFAULT_RETENTION = 4 * 86400
RUNTIME, ARCH = "python3.12", "arm64"

CONTRACT_ROUTES = {
    ("POST", "/v1/accounts"),
    ("POST", "/v1/sessions"),
    ("GET", "/v1/me"),
    ("GET", "/v1/email-verifications/{token}"),
    ("POST", "/v1/email-verifications/{token}"),
    ("POST", "/v1/me/documents/ktp"),
    ("PUT", "/v1/me/biodata"),
    ("GET", "/v1/me/biodata"),
    ("POST", "/v1/me/assessment"),
    ("POST", "/v1/me/assessment/submit"),
    ("GET", "/v1/batches"),
    ("POST", "/v1/batches/{batch_id}/participants"),
}


def of_type(*types: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v.get("Type") in types}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def fn_setting(function: dict[str, Any], key: str, default: Any = None) -> Any:
    """A function property with the Globals applied."""
    return props(function).get(key, GLOBAL_FN.get(key, default))


def target(value: Any) -> str | None:
    """The logical id a ``Ref`` / ``GetAtt`` points at (``None`` for anything else)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


FUNCTIONS = of_type("AWS::Serverless::Function")
LAYERS = of_type("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion")
QUEUES = of_type("AWS::SQS::Queue")
TABLES = of_type("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
BUCKETS = of_type("AWS::S3::Bucket")
KMS_KEYS = of_type("AWS::KMS::Key")

# (function id, event name, event properties) of every SQS source, SAM events and raw mappings alike
SQS_SOURCES: list[tuple[str, str, dict[str, Any]]] = [
    (fid, name, event.get("Properties") or {})
    for fid, fn in FUNCTIONS.items()
    for name, event in (props(fn).get("Events") or {}).items()
    if event.get("Type") == "SQS"
] + [
    (target(props(m).get("FunctionName")) or "?", mid, props(m))
    for mid, m in of_type("AWS::Lambda::EventSourceMapping").items()
    if target(props(m).get("EventSourceArn")) in QUEUES
]
SOURCE_IDS = [f"{fid}.{name}" for fid, name, _ in SQS_SOURCES]


def source_queue(event_props: dict[str, Any]) -> str | None:
    return target(event_props.get("Queue", event_props.get("EventSourceArn")))


def dead_letter_queues() -> dict[str, list[str]]:
    """DLQ id -> the queues redriving into it."""
    dlqs: dict[str, list[str]] = {}
    for qid, queue in QUEUES.items():
        redrive = props(queue).get("RedrivePolicy") or {}
        dlq = target(redrive.get("deadLetterTargetArn"))
        if dlq:
            dlqs.setdefault(dlq, []).append(qid)
    return dlqs


def test_template_has_what_the_checks_walk() -> None:
    # guards against a loader or layout change that would make every parametrised check vacuous
    assert len(FUNCTIONS) >= 10 and LAYERS and len(SQS_SOURCES) >= 5 and TABLES and BUCKETS


# ---------------------------------------------------------------- queues: nothing lost
@pytest.mark.parametrize(("fid", "name", "event"), SQS_SOURCES, ids=SOURCE_IDS)
def test_sqs_source_reports_batch_item_failures(fid: str, name: str, event: dict[str, Any]) -> None:
    assert event.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], (
        f"{fid}.{name}: without ReportBatchItemFailures one bad record retries the whole batch")


@pytest.mark.parametrize(("fid", "name", "event"), SQS_SOURCES, ids=SOURCE_IDS)
def test_visibility_timeout_is_six_times_the_consumer_timeout(fid: str, name: str, event: dict[str, Any]) -> None:
    qid = source_queue(event)
    assert qid in QUEUES, f"{fid}.{name}: source {qid!r} is not a queue of this template"
    visibility = props(QUEUES[qid]).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY)
    timeout = fn_setting(FUNCTIONS[fid], "Timeout", SAM_DEFAULT_TIMEOUT)
    assert int(visibility) >= 6 * int(timeout), (
        f"{qid}.VisibilityTimeout={visibility} < 6 x {fid}.Timeout={timeout} (AWS's guidance for SQS sources)")


@pytest.mark.parametrize(("fid", "name", "event"), SQS_SOURCES, ids=SOURCE_IDS)
def test_source_queue_redrives_to_an_existing_dlq(fid: str, name: str, event: dict[str, Any]) -> None:
    qid = source_queue(event)
    redrive = props(QUEUES.get(qid, {})).get("RedrivePolicy") or {}
    dlq = target(redrive.get("deadLetterTargetArn"))
    assert dlq, f"{qid} (source of {fid}.{name}) has no RedrivePolicy with a deadLetterTargetArn"
    assert dlq in QUEUES and dlq != qid, f"{qid}: dead-letter target {dlq!r} is not another queue here"
    assert int(redrive.get("maxReceiveCount", 0)) >= 1


@pytest.mark.parametrize("dlq", sorted(dead_letter_queues()))
def test_dlq_keeps_messages_at_least_four_days_and_longer_than_its_sources(dlq: str) -> None:
    retention = int(props(QUEUES[dlq]).get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
    assert retention >= 4 * 86400, f"{dlq}.MessageRetentionPeriod={retention} s < 4 days"
    for source in dead_letter_queues()[dlq]:
        # a standard queue keeps the original enqueue time when moving a message to its DLQ
        source_retention = int(props(QUEUES[source]).get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION))
        assert retention >= source_retention, f"{dlq} keeps messages shorter than its source {source}"


# ---------------------------------------------------------------- functions and layers: arm64 builds
@pytest.mark.parametrize("fid", sorted(FUNCTIONS))
def test_function_has_its_code_dir_with_handler_and_requirements(fid: str) -> None:
    code_uri = props(FUNCTIONS[fid]).get("CodeUri")
    assert isinstance(code_uri, str), f"{fid}: CodeUri must be a directory of this repository"
    code_dir = (REPO / code_uri).resolve()
    layer_dirs = {(REPO / props(layer).get("ContentUri", "")).resolve() for layer in LAYERS.values()}
    assert code_dir.is_dir() and code_dir != REPO and code_dir not in layer_dirs, (
        f"{fid}: CodeUri {code_uri!r} must be the function's own directory")
    handler = fn_setting(FUNCTIONS[fid], "Handler")
    module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert (code_dir / module).is_file(), f"{fid}: handler {handler} but no {code_uri}{module}"
    assert (code_dir / "requirements.txt").is_file(), f"{fid}: no {code_uri}requirements.txt"


@pytest.mark.parametrize("fid", sorted(FUNCTIONS))
def test_function_is_python312_on_arm64(fid: str) -> None:
    runtime, arches = fn_setting(FUNCTIONS[fid], "Runtime"), fn_setting(FUNCTIONS[fid], "Architectures")
    assert runtime == RUNTIME, f"{fid}: Runtime {runtime}, expected {RUNTIME}"
    assert arches == [ARCH], f"{fid}: Architectures {arches}, expected [{ARCH}]"
    assert props(FUNCTIONS[fid]).get("PackageType", "Zip") == "Zip", f"{fid}: only zip packages are built here"


@pytest.mark.parametrize("lid", sorted(LAYERS))
def test_layer_is_built_for_arm64(lid: str) -> None:
    layer = LAYERS[lid]
    metadata = layer.get("Metadata") or {}
    # without it, sam build silently puts x86_64 wheels into the layer
    assert metadata.get("BuildArchitecture") == ARCH, f"{lid}: Metadata.BuildArchitecture must be {ARCH}"
    assert metadata.get("BuildMethod") == RUNTIME, f"{lid}: Metadata.BuildMethod must be {RUNTIME}"
    assert props(layer).get("CompatibleRuntimes") == [RUNTIME], f"{lid}: CompatibleRuntimes must be [{RUNTIME}]"
    assert props(layer).get("CompatibleArchitectures") == [ARCH], f"{lid}: CompatibleArchitectures must be [{ARCH}]"


# ---------------------------------------------------------------- data safety
@pytest.mark.parametrize("tid", sorted(TABLES))
def test_table_has_pitr_and_is_retained(tid: str) -> None:
    table = TABLES[tid]
    pitr = props(table).get("PointInTimeRecoverySpecification") or {}
    assert pitr.get("PointInTimeRecoveryEnabled") is True, f"{tid}: point-in-time recovery is off"
    assert table.get("DeletionPolicy") == "Retain", f"{tid}: DeletionPolicy must be Retain"
    assert table.get("UpdateReplacePolicy") == "Retain", f"{tid}: UpdateReplacePolicy must be Retain"


@pytest.mark.parametrize("bid", sorted(BUCKETS))
def test_bucket_blocks_public_access_is_encrypted_and_retained(bid: str) -> None:
    bucket = BUCKETS[bid]
    block = props(bucket).get("PublicAccessBlockConfiguration") or {}
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
        assert block.get(setting) is True, f"{bid}: PublicAccessBlockConfiguration.{setting} is not true"
    rules = (props(bucket).get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
    assert rules and all(r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules), (
        f"{bid}: no default encryption")
    assert bucket.get("DeletionPolicy") == "Retain", f"{bid}: DeletionPolicy must be Retain"


def test_kms_keys_are_retained() -> None:
    loose = [kid for kid, key in KMS_KEYS.items() if key.get("DeletionPolicy") != "Retain"]
    assert not loose, f"KMS keys without DeletionPolicy: Retain: {loose}"


# ---------------------------------------------------------------- wiring
def test_every_contract_route_is_routed() -> None:
    routed = {
        (str(e["Properties"]["Method"]).upper(), e["Properties"]["Path"])
        for fn in FUNCTIONS.values()
        for e in (props(fn).get("Events") or {}).values()
        if e.get("Type") == "HttpApi"
    }
    missing = sorted(CONTRACT_ROUTES - routed)
    assert not missing, f"contract routes without an HttpApi event: {missing}"


def test_batch_tick_runs_every_minute() -> None:
    events = (props(FUNCTIONS["BatchTickFunction"]).get("Events") or {}).values()
    expressions = [
        (e.get("Properties") or {}).get("Schedule") or (e.get("Properties") or {}).get("ScheduleExpression")
        for e in events
        if e.get("Type") in ("Schedule", "ScheduleV2")
    ]
    assert "rate(1 minute)" in expressions, f"BatchTickFunction schedules: {expressions}"


def test_ktp_bucket_notifies_the_upload_queue_on_object_created() -> None:
    notifications = props(BUCKETS["KtpBucket"]).get("NotificationConfiguration") or {}
    queues = {
        target(c.get("Queue"))
        for c in notifications.get("QueueConfigurations") or []
        if str(c.get("Event", "")).startswith("s3:ObjectCreated:")
    }
    consumers = {source_queue(event): fid for fid, _, event in SQS_SOURCES}
    upload_queues = {q for q in queues if q in consumers and
                     str(props(FUNCTIONS[consumers[q]]).get("CodeUri", "")).rstrip("/").endswith("upload_ktp")}
    assert upload_queues, f"KtpBucket ObjectCreated goes to {queues}, none consumed by the upload_ktp worker"
    # S3 refuses the notification configuration unless the queue policy lets it send
    allowed = {
        target(q)
        for policy in of_type("AWS::SQS::QueuePolicy").values()
        for statement in props(policy)["PolicyDocument"]["Statement"]
        if statement.get("Effect") == "Allow"
        and (statement.get("Principal") or {}).get("Service") == "s3.amazonaws.com"
        for q in props(policy).get("Queues", [])
    }
    assert upload_queues <= allowed, f"no queue policy lets s3.amazonaws.com send to {upload_queues - allowed}"


def test_the_ktp_bucket_refuses_plain_http() -> None:
    policies = [props(r) for r in of_type("AWS::S3::BucketPolicy").values()
                if target(props(r).get("Bucket")) == "KtpBucket"]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    assert any(s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
               for s in statements)


# ---------------------------------------------------------------- client addresses and the WAF (issue 16)
def test_the_api_origin_carries_the_origin_secret_and_the_functions_can_read_it() -> None:
    # api/auth.py client_ip believes CloudFront-Viewer-Address only with this header's value
    origins = props(RESOURCES["WebDistribution"])["DistributionConfig"]["Origins"]
    api = next(o for o in origins if o["Id"] == "api")
    headers = {h["HeaderName"].lower(): h["HeaderValue"] for h in api.get("OriginCustomHeaders", [])}
    assert "OriginVerifySecret" in str(headers.get("x-prakerja-origin"))
    for fid in ("RegisterFunction", "VerifyEmailFunction"):
        fn = props(FUNCTIONS[fid])
        assert target(fn["Environment"]["Variables"].get("ORIGIN_SECRET_NAME")) == "OriginVerifySecret"
        assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "OriginVerifySecret"}}} in fn["Policies"]


def test_the_waf_stack_rate_limits_sign_up_by_default() -> None:
    waf = load_yaml(REPO / "waf.yaml")
    acl = next(r for r in waf["Resources"].values() if r["Type"] == "AWS::WAFv2::WebACL")
    assert props(acl)["Scope"] == "CLOUDFRONT"
    rules = {r["Name"]: r for r in props(acl)["Rules"]}
    rate = rules["sign-up-rate"]["Statement"]["RateBasedStatement"]
    limit = target(rate["Limit"])
    assert limit and int(waf["Parameters"][limit]["Default"]) >= 10
    assert "/v1/accounts" in str(rate["ScopeDownStatement"]) and "POST" in str(rate["ScopeDownStatement"])
    assert rules["sign-up-rate"]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
