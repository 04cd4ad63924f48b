"""Helpers for the account tests: calls from a given client address, restarting the functions
with other settings (a new cold start), reading the Applicants table, emailed links."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import boto3

from prakerja_local.functions import FunctionRegistry
from tests.integration import harness
from tests.integration.harness import Response, Stack
from tests.integration.support import mailbox


def call_from(stack: Stack, address: str, method: str, path: str, route: str, body: Any = None,
              function_id: str = "RegisterFunction", headers: dict[str, str] | None = None) -> Response:
    """Invoke ``function_id`` as API Gateway would for a client at ``address``."""
    hdrs = {"content-type": "application/json", **(headers or {})}
    event = harness.http_event(method, path, f"{method} {route}", {}, hdrs,
                               None if body is None else json.dumps(body))
    event["requestContext"]["http"]["sourceIp"] = address
    out = stack.registry.invoke(function_id, event)
    text = out.get("body") or ""
    if out.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return Response(out["statusCode"], out.get("headers") or {}, json.loads(text) if text else None)


def restart(stack: Stack, monkeypatch: Any, **settings: Any) -> None:
    """Set (or with None, unset) settings in the environment and cold-start every function anew."""
    for name, value in settings.items():
        if value is None:
            monkeypatch.delenv(name.upper(), raising=False)
        else:
            monkeypatch.setenv(name.upper(), str(value))
    stack.registry = FunctionRegistry(stack.template, stack.resources.environments)


def items(stack: Stack) -> list[dict]:
    """Every item of the Applicants table."""
    table = boto3.resource("dynamodb", region_name=harness.REGION).Table(stack.env("APPLICANTS_TABLE"))
    found, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def kinds(stack: Stack) -> dict[str, int]:
    """How many items of each kind (``PROFILE``, ``EMAIL``, ``TOKEN``, ``OUTBOX``...) the table holds."""
    counted: dict[str, int] = {}
    for item in items(stack):
        kind = item["sk"] if item["pk"].startswith("APP#") else item["pk"].split("#")[0]
        counted[kind] = counted.get(kind, 0) + 1
    return counted


def mails_to(stack: Stack, address: str) -> list[dict]:
    """Emails sent to ``address`` after draining the transactional queue."""
    stack.drain("EmailQueue", "EmailSenderFunction")
    return [m for m in mailbox() if m["to"] == address]


def link(body: str, path: str) -> str:
    """The token of the emailed link under ``path`` (``password-resets`` or ``email-verifications``)."""
    # the web client's pages carry the token in the fragment
    web = r"|/verifikasi-email#token=" if path == "email-verifications" else r"|/lupa-kata-sandi#token="
    found = re.search(rf"(?:/v1/{path}/{web})([A-Za-z0-9_\-]+)", body)
    assert found, f"no /v1/{path}/ link in the email"
    return found.group(1)


def header(response: Response, name: str) -> str | None:
    """A response header, whatever its case."""
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())
