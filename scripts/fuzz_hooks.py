"""schemathesis hooks of ``make fuzz`` (loaded by scripts/fuzz.py through ``SCHEMATHESIS_HOOKS``;
runs in the fuzz virtualenv, requirements/fuzz.lock, so it imports nothing of prakerja).

- :class:`SignedInApplicant`: every request carries the bearer token of the applicant that
  scripts/fuzz.py signed up and verified (``PRAKERJA_FUZZ_EMAIL`` / ``PRAKERJA_FUZZ_PASSWORD``
  at ``PRAKERJA_FUZZ_BASE_URL``). A fuzzed ``DELETE /v1/sessions`` ends the session: schemathesis
  then sees a 401, calls :meth:`SignedInApplicant.get` again and replays the request.
- :func:`error_shape`: every error reply (4xx, 5xx) is JSON ``{code, message, fields}`` with
  ``fields`` a list of ``{field, code, message}``, and every code (top level and per field) is one
  of docs/errors.md, the catalogue. The only non-JSON error is the confirmation page of
  ``GET /v1/email-verifications/{token}`` asked for as HTML.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import requests
import schemathesis

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = frozenset(re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "docs" / "errors.md").read_text(encoding="utf-8"),
                                 flags=re.MULTILINE))
HTML_ERRORS = {("GET", "/v1/email-verifications/{token}")}


@schemathesis.auth()
class SignedInApplicant:
    """The fuzz applicant's access token (signed in again whenever a response is 401)."""

    def get(self, case, ctx):
        base = os.environ["PRAKERJA_FUZZ_BASE_URL"].rstrip("/")
        reply = requests.post(f"{base}/v1/sessions", timeout=30, json={
            "email": os.environ["PRAKERJA_FUZZ_EMAIL"], "password": os.environ["PRAKERJA_FUZZ_PASSWORD"]})
        if reply.status_code != 200:
            raise RuntimeError(f"sign-in of the fuzz applicant: {reply.status_code} {reply.text[:300]}")
        return reply.json()["access_token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _problems(body: object) -> list[str]:
    """What is wrong with an error body (empty when it has the contract's shape and codes)."""
    if not isinstance(body, dict):
        return [f"the body is {type(body).__name__}, not an object"]
    problems = [f"no {key!r}" for key in ("code", "message", "fields") if key not in body]
    code, message, fields = body.get("code"), body.get("message"), body.get("fields", [])
    if "code" in body and code not in CATALOGUE:
        problems.append(f"code {code!r} is not in docs/errors.md")
    if "message" in body and (not isinstance(message, str) or not message):
        problems.append("message is not a non-empty string")
    if not isinstance(fields, list):
        return [*problems, "fields is not a list"]
    for issue in fields:
        if not isinstance(issue, dict) or not all(isinstance(issue.get(k), str) for k in ("field", "code", "message")):
            problems.append(f"field issue {issue!r} is not {{field, code, message}}")
        elif issue["code"] not in CATALOGUE:
            problems.append(f"field code {issue['code']!r} is not in docs/errors.md")
    return problems


@schemathesis.check
def error_shape(ctx, response, case):
    """Every error reply has the one error shape and documented codes (docs/errors.md)."""
    if response.status_code < 400:
        return None
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip().lower()
    if media == "text/html" and (case.operation.method.upper(), case.operation.path) in HTML_ERRORS:
        return None
    if media != "application/json":
        raise AssertionError(f"{response.status_code} error reply is {media or 'without a type'}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} error reply is not JSON: {exc}") from exc
    problems = _problems(body)
    if problems:
        raise AssertionError(f"{response.status_code} error reply breaks the error contract: {'; '.join(problems)}")
    return None
