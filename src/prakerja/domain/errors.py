"""Domain errors: each carries a stable ``code`` that clients and tests rely on.

The API layer (``prakerja.api.errors``) maps the error's class to an HTTP status and the code to
an Indonesian/English message (``prakerja.api.i18n``). Every code is listed in docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one input field: ``field`` is the JSON name, ``code`` a stable code."""

    field: str
    code: str


@dataclass
class DomainError(Exception):
    """Base of every expected failure. ``code`` is stable; ``fields`` lists field problems."""

    code: str
    fields: list[FieldIssue] = field(default_factory=list)
    retry_after: int | None = None
    detail: dict | None = None

    def __str__(self) -> str:  # codes only: never personal data
        return self.code


class InvalidInput(DomainError):
    """The request is well-formed JSON but breaks a rule (HTTP 422)."""


class Unauthorized(DomainError):
    """Missing, bad or expired credentials (HTTP 401)."""


class Forbidden(DomainError):
    """Signed in, but this step is not open to the applicant yet (HTTP 403)."""


class NotFound(DomainError):
    """The thing asked for does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The request conflicts with stored state, e.g. a conditional write lost (HTTP 409)."""


class Gone(DomainError):
    """A single-use thing was used or expired (HTTP 410)."""


class TooMany(DomainError):
    """A per-client limit was hit (HTTP 429, with Retry-After)."""


class Unavailable(DomainError):
    """Capacity problem: throttling, a partner overloaded, registration paused (HTTP 503)."""


# pydantic error types -> stable field codes
_PYDANTIC_CODES = {
    "missing": "REQUIRED",
    "string_too_short": "TOO_SHORT",
    "string_too_long": "TOO_LONG",
    "too_short": "TOO_SHORT",
    "too_long": "TOO_LONG",
}


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _field_code(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind in _PYDANTIC_CODES:
        return _PYDANTIC_CODES[kind]
    if kind.isupper():  # PydanticCustomError with a stable code
        return kind
    if kind == "json_invalid":
        return "INVALID_JSON"
    return "INVALID"


def validation_issues(errors: Sequence[Mapping[str, Any]]) -> list[FieldIssue]:
    """Turn pydantic errors (``ValidationError.errors()``: dicts with ``loc`` and ``type``) into field
    issues, one per field (first problem wins). Pure; used by the API's 422 handler and by the
    biodata check, so both give the same field codes."""
    seen: dict[str, FieldIssue] = {}
    for err in errors:
        name = _field_name(tuple(err.get("loc", ())))
        seen.setdefault(name, FieldIssue(name, _field_code(err)))
    return list(seen.values())
