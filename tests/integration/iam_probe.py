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

Fine-grained DynamoDB grants (issue 16 item 11): given the reviewed list (``IamProbe(needs)``),
each item call (GetItem, PutItem, UpdateItem, DeleteItem, a transaction's items) of a function
whose listed grant carries ``dynamodb:`` condition keys is also checked against that condition
as IAM would evaluate it, from the request's context (:func:`dynamodb_context`): the top-level
attribute names it names (key, projection, update, condition expressions, every expression
attribute name), its leading (partition) key, ``Select`` (GetItem: ``SPECIFIC_ATTRIBUTES``
with a projection, else ``ALL_ATTRIBUTES``) and ``ReturnValues`` (``NONE`` when absent). A call
the condition refuses is recorded as ``<resource> refused: <why>``, which no listed resource
covers, so ``missing`` reports it. Under a ``dynamodb:Attributes`` condition a
``ReturnValuesOnConditionCheckFailure`` other than ``NONE`` is refused too: it would return the
whole item on a failed condition and no IAM condition key names it.

Cost: a walk up the Python stack, a dictionary look-up and a set insertion per AWS call of a
function; nothing per test.
"""

from __future__ import annotations

import contextvars
import fnmatch
import functools
import re
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


_ITEM_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}
_TOKEN = re.compile(r"[#:]?[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\S")
_WORDS = {"set", "add", "remove", "delete", "and", "or", "not", "between", "in"}
_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size",
              "if_not_exists", "list_append"}


def expression_attributes(expression: str | None, names: dict[str, str] | None = None) -> set[str]:
    """The top-level attribute names one DynamoDB expression names (a nested path ``a.b[0].c``
    counts as ``a``, as IAM's ``dynamodb:Attributes`` does), ``#placeholders`` resolved."""
    names = names or {}
    tokens = _TOKEN.findall(expression or "")
    found: set[str] = set()
    for i, token in enumerate(tokens):
        if token.startswith(":") or not (token[0] == "#" or token[0].isalpha() or token[0] == "_"):
            continue
        if i and tokens[i - 1] == ".":  # a map member, not a top-level attribute
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token[0] != "#" and (token.lower() in _WORDS or (token.lower() in _FUNCTIONS and following == "(")):
            continue
        found.add(names.get(token, token) if token[0] == "#" else token)
    return found


def dynamodb_context(kind: str, body: dict[str, Any]) -> dict[str, list[str]]:
    """The IAM condition context of one item request (``kind``: GetItem, PutItem, UpdateItem,
    DeleteItem, ConditionCheckItem; ``body``: its parameters). Keys as in IAM:
    ``dynamodb:Attributes``, ``dynamodb:LeadingKeys`` (the ``pk`` value: every table of
    template.yaml is keyed on ``pk`` but the idempotency table, which no fine-grained grant
    names), ``dynamodb:Select`` (GetItem), ``dynamodb:ReturnValues`` (writes), and the probe's own
    ``ReturnValuesOnConditionCheckFailure``."""
    names = body.get("ExpressionAttributeNames") or {}
    key = body.get("Key") or body.get("Item") or {}
    attributes = set(key) | set(names.values()) | set(body.get("AttributesToGet") or [])
    attributes |= set(body.get("AttributeUpdates") or {}) | set(body.get("Expected") or {})  # legacy parameters
    for field in ("ProjectionExpression", "UpdateExpression", "ConditionExpression"):
        attributes |= expression_attributes(body.get(field), names)
    context: dict[str, list[str]] = {"dynamodb:Attributes": sorted(attributes)}
    if "pk" in key:
        context["dynamodb:LeadingKeys"] = [str(key["pk"])]
    if kind == "GetItem":
        specific = body.get("ProjectionExpression") or body.get("AttributesToGet")
        context["dynamodb:Select"] = ["SPECIFIC_ATTRIBUTES" if specific else "ALL_ATTRIBUTES"]
    elif kind in {"PutItem", "UpdateItem", "DeleteItem"}:
        context["dynamodb:ReturnValues"] = [str(body.get("ReturnValues") or "NONE")]
    context["ReturnValuesOnConditionCheckFailure"] = [str(body.get("ReturnValuesOnConditionCheckFailure") or "NONE")]
    return context


def _matcher(base: str, allowed: list[str]) -> Any:
    if base == "StringEquals":
        return lambda v: v in allowed
    if base == "StringLike":
        return lambda v: any(fnmatch.fnmatchcase(v, p) for p in allowed)
    raise AssertionError(f"the probe cannot evaluate {base}: add it")


def _key_refusal(operator: str, key: str, allowed: Any, values: list[str] | None) -> str | None:
    """Why one condition key refuses ``values`` (the request's, None when absent), or None."""
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in {"", "ForAllValues"}:  # ForAnyValue: another meaning, not evaluated here
        raise AssertionError(f"the probe cannot evaluate {operator}: add it")
    match = _matcher(base.removesuffix("IfExists"), [allowed] if isinstance(allowed, str) else list(allowed))
    if qualifier == "ForAllValues":  # holds for an absent key, as in IAM
        bad = sorted(v for v in values or [] if not match(v))
        return f"{key} {','.join(bad)}" if bad else None
    if values is None:
        return None if base.endswith("IfExists") else f"no {key}"
    return None if all(match(v) for v in values) else f"{key} {','.join(values)}"


def refusal(condition: dict[str, Any] | None, context: dict[str, list[str]]) -> str | None:
    """Why IAM would refuse a request with ``context`` under the ``dynamodb:`` keys of a grant's
    ``condition`` (None when it allows it, or the condition has no ``dynamodb:`` key). Operators:
    ``[ForAllValues:]StringEquals``, ``[ForAllValues:]StringLike``, with or without ``IfExists``."""
    keys = [(op, key, allowed) for op, pairs in (condition or {}).items() for key, allowed in pairs.items()
            if key.startswith("dynamodb:")]
    for operator, key, allowed in keys:
        if why := _key_refusal(operator, key, allowed, context.get(key)):
            return why
    failure = context.get("ReturnValuesOnConditionCheckFailure", ["NONE"])
    if any(key == "dynamodb:Attributes" for _, key, _ in keys) and failure != ["NONE"]:
        return "ReturnValuesOnConditionCheckFailure " + ",".join(failure)
    return None


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

    def __init__(self, needs: dict[str, Any] | None = None) -> None:
        self.calls: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
        #: the reviewed list (parsed iam_needs.yaml) whose ``dynamodb:`` conditions are checked
        self.needs = needs or {}
        #: function -> (action, resource, attributes, Select or ReturnValues) of its item calls
        #: on DynamoDB, for a test to inspect (leading keys left out: they name applicants)
        self.item_calls: dict[str, set[tuple[str, str, tuple[str, ...], str]]] = defaultdict(set)
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
        actions = list(self.actions(service, operation, params, response))
        for action, resource in actions:
            self._add(function_id, action, resource)
        if service == "dynamodb":
            for action, resource, context in self._item_contexts(operation, params):
                mode = (context.get("dynamodb:Select") or context.get("dynamodb:ReturnValues") or [""])[0]
                with self._lock:
                    self.item_calls[function_id].add((action, resource, tuple(context["dynamodb:Attributes"]), mode))
                why = refusal(self._condition(function_id, resource, action), context)
                if why:
                    self._add(function_id, action, f"{resource} refused: {why}")
            if operation not in _ITEM_OPERATIONS | {"TransactWriteItems", "TransactGetItems"}:
                # Query, Scan, the Batch* calls, PartiQL: a fine-grained grant on them is not
                # evaluated here, so it is reported rather than passed unchecked
                for action, resource in actions:
                    condition = self._condition(function_id, resource, action)
                    if any(key.startswith("dynamodb:") for pairs in (condition or {}).values() for key in pairs):
                        self._add(function_id, action, f"{resource} refused: the probe does not evaluate "
                                                       f"dynamodb: conditions of {operation}")

    def _condition(self, function_id: str, resource: str, action: str) -> dict[str, Any] | None:
        """The ``condition`` the reviewed list gives ``action`` on ``resource`` (None without one)."""
        spec = ((self.needs.get(function_id) or {}).get(resource) or {}).get(action)
        return spec.get("condition") if isinstance(spec, dict) else None

    def _item_contexts(self, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, dict]]:
        """(action, table resource, IAM condition context) of each item a call reads or writes."""
        if operation in _ITEM_OPERATIONS:
            yield (f"dynamodb:{operation}", f"dynamodb:table/{self._logical(params.get('TableName'))}",
                   dynamodb_context(operation, params))
        elif operation in {"TransactWriteItems", "TransactGetItems"}:
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    action = _TRANSACT_ITEM[kind]
                    yield (f"dynamodb:{action}", f"dynamodb:table/{self._logical(body.get('TableName'))}",
                           dynamodb_context(action, body))

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
