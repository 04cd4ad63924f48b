"""In-process harness for integration tests: moto (mock_aws), resources from template.yaml,
the real handlers loaded as the local stack loads them, and API Gateway v2 events."""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from prakerja_local.functions import FunctionRegistry
from prakerja_local.provision import provision
from prakerja_local.template import Template
from prakerja_ops.target import LOGICAL_IDS

REGION = "ap-southeast-3"


def aws_env() -> dict[str, str]:
    """Dummy credentials and the Jakarta region, set explicitly (never real AWS)."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_METRICS_DISABLED": "1"}


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Stack:
    """Provisioned resources and the function registry, inside one mock_aws context."""

    template: Template
    resources: Any
    registry: FunctionRegistry
    routes: dict[str, str] = field(default_factory=dict)

    def env(self, name: str) -> str:
        """The variable ``name`` as the functions that have it see it (a resource's name or URL:
        since issue 14 each function is given only its own, so few are shared by all)."""
        values = {env[name] for env in self.registry.environments.values() if name in env}
        assert len(values) == 1, f"{name}: {'no function has it' if not values else 'functions disagree'}"
        return values.pop()

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> Response:
        """Invoke the function routed for ``method path`` with an HTTP API v2 event."""
        function_id, route_key, params = self._route(method, path)
        hdrs = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
        if token:
            hdrs["authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        event = http_event(method, path, route_key, params, hdrs, raw)
        out = self.registry.invoke(function_id, event)
        text = out.get("body") or ""
        if out.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        return Response(out["statusCode"], out.get("headers") or {}, json.loads(text) if text else None)

    def _route(self, method: str, path: str) -> tuple[str, str, dict[str, str]]:
        for route in self.template.routes():
            params = _match(route.path, path)
            if route.method.upper() == method.upper() and params is not None:
                return route.function_id, route.route_key, params
        raise AssertionError(f"no route for {method} {path}")

    def sqs_event(self, queue_logical_id: str, max_messages: int = 10) -> dict:
        """Receive what is on a queue as a Lambda SQS event (messages stay in flight)."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        url = self.resources.ref(queue_logical_id)
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
                                  MessageAttributeNames=["All"])
        arn = self.resources.att(queue_logical_id, "Arn")
        return {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                             "attributes": m.get("Attributes", {}),
                             "messageAttributes": {k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                                                   for k, v in m.get("MessageAttributes", {}).items()},
                             "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
                             "awsRegion": REGION} for m in got.get("Messages", [])]}

    def release(self, queue_logical_id: str, event: dict) -> None:
        """Make the records of ``event`` visible again at once (as after their visibility timeout).
        A record already deleted (its deferral ran out on a slow machine and a drain handled it)
        has nothing to release and is skipped; what the test asserts afterwards still counts it."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        for record in event["Records"]:
            try:
                sqs.change_message_visibility(QueueUrl=self.resources.ref(queue_logical_id),
                                              ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0)
            except sqs.exceptions.ReceiptHandleIsInvalid:
                continue

    def drain(self, queue_logical_id: str, function_id: str, rounds: int = 20) -> int:
        """Feed a queue to its function until empty, deleting what succeeded. Returns messages handled."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        url = self.resources.ref(queue_logical_id)
        handled = 0
        for _ in range(rounds):
            event = self.sqs_event(queue_logical_id)
            if not event["Records"]:
                return handled
            result = self.registry.invoke(function_id, event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for record in event["Records"]:
                if record["messageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
                    handled += 1
                else:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=record["receiptHandle"],
                                                  VisibilityTimeout=0)
        return handled


def http_event(method: str, path: str, route_key: str, params: dict[str, str], headers: dict[str, str],
               raw: str | bytes | None) -> dict:
    """An API Gateway HTTP API (payload v2.0) event."""
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": "", "headers": headers,
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "127.0.0.1",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "pytest"},
                           "requestId": uuid.uuid4().hex, "routeKey": route_key, "stage": "$default",
                           "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
        "pathParameters": params, "isBase64Encoded": False,
    }
    if raw is not None:
        event["body"] = raw if isinstance(raw, str) else base64.b64encode(raw).decode()
        event["isBase64Encoded"] = isinstance(raw, bytes)
    return event


def _match(template_path: str, path: str) -> dict[str, str] | None:
    t_parts, p_parts = template_path.strip("/").split("/"), path.split("?")[0].strip("/").split("/")
    if len(t_parts) != len(p_parts):
        return None
    params = {}
    for t, p in zip(t_parts, p_parts, strict=True):
        if t.startswith("{") and t.endswith("}"):
            params[t[1:-1]] = p
        elif t != p:
            return None
    return params


def start_stack(parameters: dict[str, str] | None = None) -> Stack:
    """Provision the template inside the active mock_aws and build the registry.

    ``parameters`` override template parameters (e.g. MinistryUrl)."""
    os.environ.update(aws_env())
    template = Template.load()
    resources = provision(None, template, parameters=parameters)
    registry = FunctionRegistry(template, resources.environments)
    os.environ.update(registry.shared_environment())
    # the operator's environment (prakerja-ops without --local/--stack-name reads its target
    # from it): every resource a function is given (each function imports with its own only)
    os.environ.update({k: v for env in resources.environments.values() for k, v in env.items()
                       if k.lower() in LOGICAL_IDS})
    return Stack(template, resources, registry)
