"""boto3 clients and resources, created once per process (module scope, reused across invokes).

The endpoint comes from the standard ``AWS_ENDPOINT_URL`` variable when set (the local stack
and tests point it at moto); on AWS it is unset and the regional endpoints are used.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

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


def reset() -> None:
    """Forget cached clients and cached secrets (tests that start a fresh emulator call this)."""
    client.cache_clear()
    quick_client.cache_clear()
    table.cache_clear()
    from prakerja.adapters import secrets

    secrets.reset()


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError, or "" for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
