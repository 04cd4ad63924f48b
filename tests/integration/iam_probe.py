"""Record the AWS calls each function makes in the integration tests, as IAM actions on resources.

``IamProbe.install`` patches ``botocore.client.BaseClient._make_api_call`` (every boto3 client
and resource call goes through it, before moto answers) and ``FunctionRegistry.handler`` (every
in-process invocation, including the cold-start import, goes through it), so each call is known
by the function that made it. Calls made outside a function (the tests' own set-up, ops tools)
are not recorded, nor calls whose innermost project frame is in tests/ (a test standing in for
another actor during an invocation). A call on a thread the function started (its thread pool,
s3transfer's upload threads: no tests/ or local/ frame on it) is charged to the one function
running at the time, and not recorded when several are.

Each call becomes the IAM actions it is authorised by, on a resource written as in
``tests/infra/iam_needs.yaml`` (``dynamodb:table/ApplicantsTable``, ``s3:KtpBucket/uploads/<key>``):
a ``TransactWriteItems`` is one ``PutItem``/``UpdateItem``/``DeleteItem``/``ConditionCheckItem``
per item and table, a ``DeleteObjects`` one ``DeleteObject(Version)`` per key, a ``*Batch`` SQS
call its single-message action, a ``Query`` with ``IndexName`` is on the index.
``missing(needs)`` lists what was recorded but is not in the reviewed list.

Cost: a walk up the Python stack, a dictionary look-up and a set insertion per AWS call of a
function; nothing per test.
"""

from __future__ import annotations

import contextvars
import fnmatch
import functools
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client

from prakerja_local import provision as provision_module
from prakerja_local.functions import FunctionRegistry

_REPO = str(Path(__file__).resolve().parents[2]) + "/"
_TESTS = _REPO + "tests/"
_LOCAL = _REPO + "local/"
_ENTRIES: set[Any] = set()  # code of the wrappers an invocation (or a cold start) enters by
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_probe_function", default=None)

_S3_OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}
_S3_BUCKET_ACTIONS = {"ListObjectVersions": "s3:ListBucketVersions", "ListObjectsV2": "s3:ListBucket",
                      "ListObjects": "s3:ListBucket"}
_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}
_TRANSACT_ITEM = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                  "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _made_by_a_test() -> bool:
    """Whether test code stands between the current call and the invocation it is made in (a
    test standing in for another actor inside a function, e.g. a monkeypatched adapter erasing
    the account or writing what a racing worker would): those calls are not the function's."""
    frame = sys._getframe(3)
    while frame is not None and frame.f_code not in _ENTRIES:
        if frame.f_code.co_filename.startswith(_TESTS):
            return True
        frame = frame.f_back
    return False


def _on_a_functions_thread() -> bool:
    """For a call on a thread no invocation started: whether the thread runs only the
    function's code and libraries (its own thread pool, s3transfer's upload threads), not a
    test's or the local stack's (a queue pump, a server thread)."""
    frame = sys._getframe(3)
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith((_TESTS, _LOCAL)):
            return False
        frame = frame.f_back
    return True


class IamProbe:
    """The recorder: ``calls[function_id][(action, resource)]`` = the first test that made it."""

    def __init__(self) -> None:
        self.calls: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
        self.test = ""
        self._lock = threading.Lock()
        self._active: dict[str, int] = defaultdict(int)
        self._names: dict[str, str] = {}  # physical name, URL, ARN or key id -> logical id
        self._resources: list[Any] = []

    # ------------------------------------------------------------------ installation
    def install(self, monkeypatch: Any) -> None:
        """Patch botocore and the function registry (undone by ``monkeypatch``)."""
        probe = self
        original_call = botocore.client.BaseClient._make_api_call
        original_handler = FunctionRegistry.handler
        original_init = provision_module.Resources.__init__

        def _make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            response = original_call(client, operation, params)
            function_id = probe._function()
            if function_id:
                try:
                    probe._record(function_id, client.meta.service_model.service_name, operation, params, response)
                except Exception as exc:  # a bug in the probe must not change what the test sees
                    probe._add(function_id, f"probe-error:{operation}", repr(exc))
            return response

        def handler(registry: FunctionRegistry, function_id: str) -> Any:
            with probe.running(function_id):
                inner = original_handler(registry, function_id)

            @functools.wraps(inner)
            def run(event: Any, context: Any) -> Any:
                with probe.running(function_id):
                    return inner(event, context)

            return run

        def resources_init(resources: Any, *args: Any, **kwargs: Any) -> None:
            original_init(resources, *args, **kwargs)
            with probe._lock:
                probe._resources.append(resources)

        # the invocation's frames start at ``run`` (and a cold start's at ``handler``)
        nested = handler.__code__.co_consts
        _ENTRIES.update({handler.__code__, *(c for c in nested if getattr(c, "co_name", "") == "run")})
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _make_api_call)
        monkeypatch.setattr(FunctionRegistry, "handler", handler)
        monkeypatch.setattr(provision_module.Resources, "__init__", resources_init)

    class _Running:
        def __init__(self, probe: IamProbe, function_id: str) -> None:
            self.probe, self.function_id = probe, function_id

        def __enter__(self) -> None:
            self.token = _current.set(self.function_id)
            with self.probe._lock:
                self.probe._active[self.function_id] += 1

        def __exit__(self, *exc: object) -> None:
            _current.reset(self.token)
            with self.probe._lock:
                self.probe._active[self.function_id] -= 1

    def running(self, function_id: str) -> IamProbe._Running:
        """A context in which AWS calls are charged to ``function_id``."""
        return IamProbe._Running(self, function_id)

    def _function(self) -> str | None:
        """The function that makes the current call, or None (a test's or the local stack's)."""
        found = _current.get()
        if found:
            return None if _made_by_a_test() else found
        with self._lock:
            active = [f for f, n in self._active.items() if n > 0]
        return active[0] if len(active) == 1 and _on_a_functions_thread() else None

    # ------------------------------------------------------------------ naming
    def _logical(self, value: str | None) -> str:
        if not value:
            return "?"
        if value not in self._names:
            with self._lock:
                for resources in self._resources:
                    for logical, attributes in resources.physical.items():
                        for physical in attributes.values():
                            if isinstance(physical, str):
                                self._names.setdefault(physical, logical)
                                if physical.startswith("arn:aws:secretsmanager:"):
                                    self._names.setdefault(physical.rsplit("-", 1)[0], logical)
        return self._names.get(value, value)

    def _add(self, function_id: str, action: str, resource: str) -> None:
        with self._lock:
            self.calls[function_id].setdefault((action, resource), self.test)

    # ------------------------------------------------------------------ calls -> actions
    def _record(self, function_id: str, service: str, operation: str, params: dict[str, Any],
                response: Any) -> None:
        for action, resource in self.actions(service, operation, params, response):
            self._add(function_id, action, resource)

    def actions(self, service: str, operation: str, params: dict[str, Any], response: Any) -> Iterator[tuple[str, str]]:
        """The (IAM action, resource) pairs one call is authorised by."""
        if service == "dynamodb":
            yield from self._dynamodb(operation, params)
        elif service == "s3":
            yield from self._s3(operation, params)
        elif service == "sqs":
            queue = self._logical(params.get("QueueUrl") or params.get("QueueName"))
            yield f"sqs:{_SQS_BATCH.get(operation, operation)}", f"sqs:{queue}"
        elif service == "secretsmanager":
            yield f"secretsmanager:{operation}", f"secretsmanager:secret:{self._logical(params.get('SecretId'))}"
        elif service == "ssm":
            for name in params.get("Names") or [params.get("Name")]:
                yield f"ssm:{operation}", f"ssm:parameter/{self._logical(name)}"
        elif service == "kms":
            key = params.get("KeyId") or (response or {}).get("KeyId")
            yield f"kms:{operation}", f"kms:key/{self._logical(key)}"
        elif service == "sesv2":
            yield f"ses:{operation}", "ses:identity"
        else:
            yield f"{service}:{operation}", "*"

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
        def table(name: str | None, index: str | None = None) -> str:
            return f"dynamodb:table/{self._logical(name)}" + (f"/index/{index}" if index else "")

        if operation in {"TransactWriteItems", "TransactGetItems"}:
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    yield f"dynamodb:{_TRANSACT_ITEM[kind]}", table(body.get("TableName"))
        elif operation in {"BatchGetItem", "BatchWriteItem"}:
            for name in params.get("RequestItems", {}):
                yield f"dynamodb:{operation}", table(name)
        else:
            yield f"dynamodb:{operation}", table(params.get("TableName"), params.get("IndexName"))

    def _s3(self, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
        bucket = self._logical(params.get("Bucket"))
        if operation in _S3_BUCKET_ACTIONS:  # the listed prefix is what the grant's s3:prefix condition sees
            yield _S3_BUCKET_ACTIONS[operation], f"s3:{bucket} prefix={params.get('Prefix', '')}"
        elif operation == "DeleteObjects":
            for entry in params.get("Delete", {}).get("Objects", []):
                action = "s3:DeleteObjectVersion" if entry.get("VersionId") else "s3:DeleteObject"
                yield action, f"s3:{bucket}/{entry['Key']}"
        elif operation in {"GetObject", "HeadObject"}:
            yield "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject", f"s3:{bucket}/{params['Key']}"
        elif operation == "DeleteObject" and params.get("VersionId"):
            yield "s3:DeleteObjectVersion", f"s3:{bucket}/{params['Key']}"
        elif operation in _S3_OBJECT_ACTIONS:
            yield _S3_OBJECT_ACTIONS[operation], f"s3:{bucket}/{params['Key']}"
        else:
            yield f"s3:{operation}", f"s3:{bucket}"

    # ------------------------------------------------------------------ comparison
    def missing(self, needs: dict[str, Any]) -> list[str]:
        """Recorded calls not covered by ``needs`` (the parsed iam_needs.yaml), one line each.
        Functions the list does not name (a test's own small template) are not checked: that
        every function of template.yaml is listed is tests/infra/test_iam_policies.py's check."""
        out = []
        for function_id, calls in sorted(self.calls.items()):
            if function_id not in needs:
                continue
            listed = needs[function_id] or {}
            for (action, resource), test in sorted(calls.items()):
                if not _covered(listed, action, resource):
                    out.append(f"{function_id}: {action} on {resource} (first in {test})")
        return out


def _covered(listed: dict[str, Any], action: str, resource: str) -> bool:
    """Whether the listed needs of one function (resource -> action -> why or {why, condition})
    cover one recorded call. SES is matched on the action (the local sender is not the deployed
    one); a listing by prefix must match the grant's ``s3:prefix`` condition when it has one."""
    if action.startswith("ses:"):
        return any(action in actions for r, actions in listed.items() if r.startswith("ses:"))
    resource, _, prefix = resource.partition(" prefix=")
    for pattern, actions in listed.items():
        if action not in actions or not fnmatch.fnmatchcase(resource, pattern):
            continue
        spec = actions[action]
        condition = spec.get("condition") if isinstance(spec, dict) else None
        allowed = (condition or {}).get("StringLike", {}).get("s3:prefix")
        if allowed is None:
            return True
        if any(fnmatch.fnmatchcase(prefix, p) for p in ([allowed] if isinstance(allowed, str) else allowed)):
            return True
    return False
