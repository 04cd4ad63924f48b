"""boto3 clients and resources, created once per process (module scope, reused across invokes).

The endpoint comes from the standard ``AWS_ENDPOINT_URL`` variable when set (the local stack
and tests point it at moto); on AWS it is unset and the regional endpoints are used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5,
                 max_pool_connections=32)


@functools.cache
def client(service: str) -> Any:
    """A cached boto3 client for ``service`` (thread-safe once created)."""
    return boto3.session.Session().client(service, config=_CONFIG)


_QUICK_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=0.5, read_timeout=1,
                      max_pool_connections=32)


@functools.cache
def quick_client(service: str) -> Any:
    """A cached boto3 client that gives up fast (0.5 s to connect, 1 s to answer, no retry):
    for reads on a request's path whose failure has a safe default (the registration switch)."""
    return boto3.session.Session().client(service, config=_QUICK_CONFIG)


@functools.cache
def table(name: str) -> Any:
    """A cached DynamoDB Table resource for the table ``name``."""
    return boto3.session.Session().resource("dynamodb", config=_CONFIG).Table(name)


_RESET_HOOKS: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> None:
    """Call ``hook`` on every :func:`reset` (caches built on these clients register here, e.g.
    :mod:`prakerja.adapters.secrets`, so this module needs to know none of them)."""
    if hook not in _RESET_HOOKS:
        _RESET_HOOKS.append(hook)


def reset() -> None:
    """Forget cached clients and whatever registered with :func:`on_reset` (cached secrets), as
    tests that start a fresh emulator do."""
    client.cache_clear()
    quick_client.cache_clear()
    table.cache_clear()
    for hook in list(_RESET_HOOKS):
        hook()


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError, or "" for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


#: error codes AWS gives when it is busy or failing, not when the request is wrong (DynamoDB,
#: SQS, KMS, S3, Secrets Manager, SSM: each service's "Common errors" / "Errors" reference):
#: retrying later succeeds, so the citizen gets 503 with Retry-After and a queue redelivers
CAPACITY_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "TransactionConflictException", "TransactionInProgressException",
    "ServiceUnavailable", "ServiceUnavailableException", "InternalServerError", "InternalError",
    "InternalFailure", "InternalServiceError", "InternalServiceErrorException", "RequestThrottled",
    "TooManyRequestsException", "LimitExceededException", "KMSInternalException", "DependencyTimeoutException",
    "SlowDown", "RequestTimeout", "RequestTimeoutException", "503", "500",
    "AWS.SimpleQueueService.ServiceUnavailable", "AWS.SimpleQueueService.InternalError",
})
#: reasons of a cancelled DynamoDB transaction that are capacity, not a failed condition
_CAPACITY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def is_capacity_problem(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from, e.g. a Powertools idempotency or
    parameters error wrapping botocore's) is AWS being busy or unreachable rather than a bug:
    a ``ClientError`` with a code in ``CAPACITY_CODES``, a cancelled transaction whose reasons
    are only conflicts or throttling (no failed condition), or a connection / timeout error.
    The API answers these with 503 ``SERVICE_BUSY`` + Retry-After; nothing is stored half."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoConnectionError | HTTPClientError):
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code in CAPACITY_CODES:
                return True
            if code == "TransactionCanceledException":
                reasons = {r.get("Code") for r in response.get("CancellationReasons") or [] if r.get("Code")}
                reasons.discard("None")
                if reasons and reasons <= _CAPACITY_REASONS:
                    return True
        current = current.__cause__ or current.__context__
    return False
