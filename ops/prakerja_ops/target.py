"""Which stack a command acts on: resource names, AWS endpoint and clock, resolved once.

* ``--local URL``: the local stack's gateway; ``GET URL/_local/info`` gives the moto endpoint,
  the physical names and the stack's clock (which may have been moved: the commands use it).
* ``--endpoint URL``: a moto server (the local stack's ``moto_endpoint``) without the gateway;
  names follow the local stack's convention ``<prefix>-<LogicalId>`` (``--name-prefix``); the
  clock is the system's.
* ``--stack-name NAME``: a deployed stack; physical names from CloudFormation
  (``DescribeStackResources`` per logical id), with the usual AWS credentials and region.
* none: the names in the environment (``APPLICANTS_TABLE``, ``BATCHES_TABLE``, ``AUDIT_BUCKET``,
  ``DRAW_QUEUE_URL``, ``BULK_EMAIL_QUEUE_URL``, ``SECRETS_NAME``; for ``queues``/``dlq`` every
  ``*_QUEUE_URL``/``*_DLQ_URL``, for ``registration`` ``REGISTRATION_SWITCH_PARAMETER``), as a
  function sees them.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prakerja import clock
from prakerja.adapters import aws
from prakerja.settings import Settings

#: settings field -> logical id in template.yaml
LOGICAL_IDS = {
    "applicants_table": "ApplicantsTable",
    "batches_table": "BatchesTable",
    "audit_bucket": "AuditBucket",
    "draw_queue_url": "DrawQueue",
    "bulk_email_queue_url": "BulkEmailQueue",
    "secrets_name": "AppSecrets",
    # queues and DLQs (prakerja_ops.queues), the registration switch (prakerja_ops.registration)
    "email_queue_url": "EmailQueue",
    "nik_queue_url": "NikQueue",
    "upload_queue_url": "UploadQueue",
    "ktp_verdict_queue_url": "KtpVerdictQueue",
    "bounce_queue_url": "BounceQueue",
    "email_dlq_url": "EmailDLQ",
    "bulk_email_dlq_url": "BulkEmailDLQ",
    "nik_dlq_url": "NikDLQ",
    "upload_dlq_url": "UploadDLQ",
    "ktp_verdict_dlq_url": "KtpVerdictDLQ",
    "draw_dlq_url": "DrawDLQ",
    "bounce_dlq_url": "BounceDLQ",
    "registration_switch_parameter": "RegistrationSwitch",
    # personal-data rights (prakerja_ops.applicants): photos and per-applicant limits
    "ktp_bucket": "KtpBucket",
    "limits_table": "LimitsTable",
}
DEFAULT_REGION = "ap-southeast-3"
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class TargetError(RuntimeError):
    """The stack could not be reached or named."""


@dataclass
class Target:
    """The resolved stack: settings for the services and a one-line description."""

    settings: Settings
    description: str
    #: an emulator (moto): no SQS message-move API, no CloudWatch metrics
    emulated: bool = False


def names_from_info(info: dict[str, Any]) -> dict[str, str]:
    """Settings fields from the local stack's ``/_local/info`` document."""
    physical = (info.get("resources") or {}).get("physical") or {}
    try:
        return {field: physical[logical]["Ref"] for field, logical in LOGICAL_IDS.items()}
    except KeyError as exc:
        raise TargetError(f"/_local/info lacks the resource {exc}") from None


def names_by_convention(prefix: str, queue_url: Callable[[str], str]) -> dict[str, str]:
    """Settings fields from the local stack's naming convention (see ``prakerja_local.provision``)."""
    names = {}
    for field, logical in LOGICAL_IDS.items():
        if field.endswith(("_table", "_parameter")):
            names[field] = f"{prefix}-{logical}"
        elif field.endswith("_bucket"):
            names[field] = f"{prefix}-{logical}".lower()
        elif field.endswith(("_queue_url", "_dlq_url")):
            names[field] = queue_url(f"{prefix}-{logical}")
        else:
            names[field] = f"{prefix}/{logical}"
    return names


def names_from_stack(stack_name: str) -> dict[str, str]:
    """Settings fields from a deployed CloudFormation stack's physical resource ids."""
    cfn = aws.client("cloudformation")
    names = {}
    for field, logical in LOGICAL_IDS.items():
        try:
            found = cfn.describe_stack_resources(StackName=stack_name, LogicalResourceId=logical)["StackResources"]
        except Exception as exc:
            raise TargetError(f"stack {stack_name}: {aws.error_code(exc) or exc}") from None
        if not found:
            raise TargetError(f"stack {stack_name} has no resource {logical}")
        names[field] = found[0]["PhysicalResourceId"]
    return names


def _fetch_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (an operator-given URL)
            return json.loads(reply.read())
    except OSError as exc:
        raise TargetError(f"cannot read {url}: {exc}") from None


def _point_at(endpoint: str, region: str) -> None:
    """Send every AWS call of this process to ``endpoint`` (moto), with dummy credentials."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    os.environ.setdefault("AWS_REGION", region)
    for key, value in _DUMMY_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    aws.reset()


def _follow_clock(stack_now: datetime) -> None:
    """Use the local stack's clock: its offset from the system clock, measured now."""
    offset = stack_now - datetime.now(UTC)
    clock.set_source(lambda: datetime.now(UTC) + offset)


def resolve(local: str | None = None, endpoint: str | None = None, stack_name: str | None = None,
            name_prefix: str = "prakerja-local", region: str | None = None) -> Target:
    """Resolve the target (see the module docstring). Sets process-wide AWS endpoint and clock
    for ``local``/``endpoint``; raises TargetError."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    if sum(bool(x) for x in (local, endpoint, stack_name)) > 1:
        raise TargetError("give at most one of --local, --endpoint, --stack-name")
    if local:
        info = _fetch_json(local.rstrip("/") + "/_local/info")
        _point_at(info["moto_endpoint"], info.get("region") or region)
        _follow_clock(clock.parse_iso(info["now"]))
        return Target(Settings(**names_from_info(info)), f"local stack {local} (moto {info['moto_endpoint']})",
                      emulated=True)
    if endpoint:
        _point_at(endpoint, region)
        sqs = aws.client("sqs")
        names = names_by_convention(name_prefix, lambda name: sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return Target(Settings(**names), f"moto {endpoint} (names {name_prefix}-*)", emulated=True)
    if stack_name:
        os.environ.setdefault("AWS_REGION", region)
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        return Target(Settings(**names_from_stack(stack_name)), f"stack {stack_name} ({region})")
    settings = Settings.load()
    missing = [f.upper() for f in LOGICAL_IDS if not getattr(settings, f)]
    if "BATCHES_TABLE" in missing:
        raise TargetError("no target: give --local URL, --endpoint URL or --stack-name NAME "
                          f"(or set {', '.join(missing)})")
    return Target(settings, "resources named in the environment", emulated=bool(os.environ.get("AWS_ENDPOINT_URL")))
