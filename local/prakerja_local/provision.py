"""Create every resource of ``template.yaml`` in moto (server or in-process ``mock_aws``).

Nothing is listed twice: KMS keys, tables, queues (DLQs first), queue policies, buckets
(versioning, CORS, encryption, public access block, notifications to SQS), secrets, SSM
parameters and SNS topics are read from the template. The SES sender identity (parameter
``SenderEmail``) is verified, because moto refuses unverified senders. Returns
:class:`Resources`: the physical names, URLs and ARNs, a resolver for intrinsic values and each
function's resolved environment.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from prakerja_local.template import ACCOUNT_ID, REGION, Resolver, Template

log = logging.getLogger("prakerja_local.provision")

ClientFactory = Callable[[str], Any]
DUMMY_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
LOCAL_VISIBILITY_CAP = 5
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def client_factory(target: Any = None, region: str = REGION) -> ClientFactory:
    """A ``service -> client`` factory from an endpoint URL (moto server), a boto3 Session,
    a ready factory (callable) or ``None`` (default endpoint: ``mock_aws`` in-process)."""
    if isinstance(target, boto3.session.Session):
        return lambda service: target.client(service, region_name=region)
    if callable(target):
        return target
    session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
    return lambda service: session.client(service, endpoint_url=target)


@dataclass
class Resources:
    """What provisioning created.

    ``physical``: logical id -> attributes (``Ref`` and the ``GetAtt`` names, e.g. ``Arn``,
    ``QueueName``, ``QueueUrl``); ``parameters``: the local parameter values;
    ``environments``: function logical id -> resolved environment variables (all strings);
    ``visibility``: queue logical id -> the visibility timeout set locally.
    """

    physical: dict[str, dict[str, str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    visibility: dict[str, int] = field(default_factory=dict)
    stack_name: str = "prakerja-local"

    def resolver(self) -> Resolver:
        """A resolver bound to these physical values and parameters."""
        return Resolver(self.physical, self.parameters, self.stack_name)

    def ref(self, logical_id: str) -> str:
        """``!Ref logical_id`` (table/bucket name, queue URL, secret ARN, topic ARN)."""
        return self.physical[logical_id]["Ref"]

    def att(self, logical_id: str, attribute: str) -> str:
        """``!GetAtt logical_id.attribute``."""
        return self.physical[logical_id][attribute]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``/_local/info``)."""
        return {
            "physical": self.physical,
            "parameters": self.parameters,
            "visibility_timeouts": self.visibility,
        }


class _Provisioner:
    def __init__(self, clients: ClientFactory, template: Template, resources: Resources) -> None:
        self.clients = clients
        self.template = template
        self.res = resources
        self.resolver = resources.resolver()

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.resolver.resolve(self.template.resources[logical_id].get("Properties", {}) or {})

    def name(self, logical_id: str, explicit: str | None, lower: bool = False) -> str:
        if explicit:
            return explicit
        base = f"{self.res.stack_name}-{logical_id}"
        return base.lower() if lower else base


def _queue_attributes(props: Mapping[str, Any], visibility: int) -> dict[str, str]:
    attrs = {
        k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
        for k in _QUEUE_ATTRIBUTES
        if k in props
    }
    attrs["VisibilityTimeout"] = str(visibility)
    if "RedrivePolicy" in props:
        attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    return attrs


def _create_queues(p: _Provisioner, visibility_cap: int, overrides: Mapping[str, int]) -> None:
    sqs = p.clients("sqs")
    queues = p.template.resources_of_type("AWS::SQS::Queue")
    ordered = sorted(queues, key=lambda rid: "RedrivePolicy" in (queues[rid].get("Properties") or {}))
    for rid in ordered:
        props = p.props(rid)
        visibility = overrides.get(rid, min(int(props.get("VisibilityTimeout", 30)), visibility_cap))
        name = p.name(rid, props.get("QueueName"))
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        url = sqs.create_queue(QueueName=name, Attributes=_queue_attributes(props, visibility))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        p.res.physical[rid] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
        p.res.visibility[rid] = visibility
        log.debug("queue %s visibility %ss (template %s)", name, visibility, props.get("VisibilityTimeout", 30))


def _apply_queue_policies(p: _Provisioner) -> None:
    sqs = p.clients("sqs")
    for rid in p.template.resources_of_type("AWS::SQS::QueuePolicy"):
        props = p.props(rid)
        for url in props.get("Queues", []):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        p.res.physical[rid] = {"Ref": rid}


def _create_topics(p: _Provisioner) -> None:
    sns = p.clients("sns")
    for rid in p.template.resources_of_type("AWS::SNS::Topic"):
        props = p.props(rid)
        name = p.name(rid, props.get("TopicName"))
        arn = sns.create_topic(Name=name)["TopicArn"]
        p.res.physical[rid] = {"Ref": arn, "TopicArn": arn, "TopicName": name}


def _table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    gsis = [
        {k: v for k, v in gsi.items() if k != "ProvisionedThroughput"}
        for gsi in props.get("GlobalSecondaryIndexes", [])
    ]
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    return request


def _create_tables(p: _Provisioner) -> None:
    ddb = p.clients("dynamodb")
    for rid in p.template.resources_of_type("AWS::DynamoDB::Table"):
        props = p.props(rid)
        name = p.name(rid, props.get("TableName"))
        table = ddb.create_table(**_table_request(name, props))["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        p.res.physical[rid] = {"Ref": name, "Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            p.res.physical[rid]["StreamArn"] = table["LatestStreamArn"]


def _create_kms_keys(p: _Provisioner) -> None:
    """Symmetric KMS keys (envelope encryption of personal data); rotation as the template says.

    The key policy is left out: it names the functions' IAM roles (SAM creates them on AWS only)
    and the emulator does not enforce it; tests/infra/test_iam_policies.py checks it instead."""
    kms = p.clients("kms")
    for rid in p.template.resources_of_type("AWS::KMS::Key"):
        raw = dict(p.template.resources[rid].get("Properties") or {})
        raw.pop("KeyPolicy", None)
        props = p.resolver.resolve(raw)
        request: dict[str, Any] = {
            "Description": props.get("Description", rid),
            "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
        }
        meta = kms.create_key(**request)["KeyMetadata"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        p.res.physical[rid] = {"Ref": meta["KeyId"], "KeyId": meta["KeyId"], "Arn": meta["Arn"]}


def _random_string(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _secret_string(props: Mapping[str, Any]) -> str:
    if "SecretString" in props:
        return str(props["SecretString"])
    generate = props.get("GenerateSecretString", {}) or {}
    value = _random_string(int(generate.get("PasswordLength", 32)))
    if "SecretStringTemplate" not in generate:
        return value
    document = json.loads(generate["SecretStringTemplate"])
    document[generate["GenerateStringKey"]] = value
    return json.dumps(document)


def _create_secrets(p: _Provisioner) -> None:
    sm = p.clients("secretsmanager")
    for rid in p.template.resources_of_type("AWS::SecretsManager::Secret"):
        props = p.props(rid)
        name = props.get("Name") or f"{p.res.stack_name}/{rid}"
        arn = sm.create_secret(Name=name, SecretString=_secret_string(props))["ARN"]
        p.res.physical[rid] = {"Ref": arn, "Id": arn, "Name": name}


def _create_ssm_parameters(p: _Provisioner) -> None:
    """String parameters (the registration switch) with the template's initial value; one that
    exists already keeps its value (an operator's pause survives re-provisioning)."""
    ssm = p.clients("ssm")
    for rid in p.template.resources_of_type("AWS::SSM::Parameter"):
        props = p.props(rid)
        name = p.name(rid, props.get("Name"))
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            value = str(props["Value"])
            ssm.put_parameter(Name=name, Value=value, Type=props.get("Type", "String"),
                              Description=props.get("Description", rid))
        p.res.physical[rid] = {"Ref": name, "Type": props.get("Type", "String"), "Value": value}


def _cors_rules(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    renames = {"MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders", "Id": "ID"}
    rules = (props.get("CorsConfiguration") or {}).get("CorsRules", [])
    return [{renames.get(k, k): v for k, v in rule.items()} for rule in rules]


def _encryption_rules(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    renames = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", [])
    return [{renames.get(k, k): v for k, v in rule.items()} for rule in rules]


def _queue_notifications(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    configs = (props.get("NotificationConfiguration") or {}).get("QueueConfigurations", [])
    result = []
    for config in configs:
        entry: dict[str, Any] = {"QueueArn": config["Queue"], "Events": [config["Event"]]}
        rules = ((config.get("Filter") or {}).get("S3Key") or {}).get("Rules")
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        result.append(entry)
    return result


def _configure_bucket(s3: Any, name: str, props: Mapping[str, Any]) -> None:
    versioning = props.get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    if props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    encryption = _encryption_rules(props)
    if encryption:
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": encryption})
    cors = _cors_rules(props)
    if cors:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
    notifications = _queue_notifications(props)
    if notifications:
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": notifications}
        )


def _create_buckets(p: _Provisioner) -> None:
    s3 = p.clients("s3")
    for rid in p.template.resources_of_type("AWS::S3::Bucket"):
        props = p.props(rid)
        name = p.name(rid, props.get("BucketName"), lower=True)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        _configure_bucket(s3, name, props)
        p.res.physical[rid] = {
            "Ref": name,
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        }


def _serverless_placeholders(p: _Provisioner) -> None:
    """Physical values for SAM resources that are not emulated (functions, API, layers)."""
    for rid, res in p.template.resources.items():
        if rid in p.res.physical or not res.get("Type", "").startswith("AWS::Serverless::"):
            continue
        name = f"{p.res.stack_name}-{rid}"
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        p.res.physical[rid] = {"Ref": name, "Arn": arn}


def resolved_environments(template: Template, resources: Resources) -> dict[str, dict[str, str]]:
    """Each function's environment: Globals merged with its own variables, resolved to strings."""
    resolver = resources.resolver()
    result = {}
    for fid, fn in template.functions().items():
        env = resolver.resolve(fn.environment)
        result[fid] = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items()}
    return result


#: Values on this machine of the parameters a deploy must set (template.yaml gives them no
#: default, so a deploy cannot fall back to an example host): the local web client and ministry
#: simulator. Callers' ``parameters`` still override them.
LOCAL_PARAMETERS = {"PublicBaseUrl": "http://127.0.0.1:8000", "MinistryUrl": "http://127.0.0.1:8010"}


def provision(
    target: Any,
    template: Template,
    name_prefix: str = "prakerja-local",
    parameters: Mapping[str, str] | None = None,
    visibility_cap: int = LOCAL_VISIBILITY_CAP,
    visibility_overrides: Mapping[str, int] | None = None,
) -> Resources:
    """Create every resource of ``template`` and return their physical values.

    ``target``: a moto server endpoint URL, a boto3 Session, a ``service -> client`` factory, or
    ``None`` inside ``moto.mock_aws()``. ``parameters`` override template parameter defaults (and
    :data:`LOCAL_PARAMETERS` for the parameters without one).
    Queue visibility timeouts are ``min(template value, visibility_cap)`` unless
    ``visibility_overrides`` (queue logical id -> seconds) says otherwise.
    """
    clients = client_factory(target)
    defaults = template.parameter_defaults()
    local = {k: v for k, v in LOCAL_PARAMETERS.items() if k in defaults and not defaults[k]}
    resources = Resources(parameters={**defaults, **local, **(parameters or {})}, stack_name=name_prefix)
    p = _Provisioner(clients, template, resources)
    _create_kms_keys(p)
    _create_queues(p, visibility_cap, visibility_overrides or {})
    _apply_queue_policies(p)
    _create_topics(p)
    _create_tables(p)
    _create_secrets(p)
    _create_ssm_parameters(p)
    _create_buckets(p)
    _serverless_placeholders(p)
    sender = resources.parameters.get("SenderEmail")
    if sender:
        clients("ses").verify_email_identity(EmailAddress=sender)
    resources.environments = resolved_environments(template, resources)
    return resources
