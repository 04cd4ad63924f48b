"""Account rules: email normalisation and the password policy.

Sources: NIST SP 800-63B section 5.1.1.2 and the OWASP Authentication Cheat Sheet (length 8 to
at least 64, any Unicode, checked against common passwords, no composition rules).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from prakerja.domain.errors import FieldIssue, InvalidInput

PASSWORD_MIN = 8
PASSWORD_MAX = 128
EMAIL_MAX = 254

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is proven by the
# verification link, not by a regular expression.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def normalise_email(typed: str) -> str:
    """The lookup form of an address: trimmed, Unicode NFKC, lower-case.

    ``+`` and dots are kept (``a+b@example.id`` and ``ab@example.id`` are different accounts).
    Raises InvalidInput(EMAIL_INVALID) when the result is not an address."""
    value = unicodedata.normalize("NFKC", typed.strip()).lower()
    if len(value) > EMAIL_MAX or not _EMAIL.match(value):
        raise InvalidInput("VALIDATION_FAILED", [FieldIssue("email", "EMAIL_INVALID")])
    return value


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("prakerja.data").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_issue(password: str) -> str | None:
    """The field code for a password that breaks the policy, or None when it is acceptable.

    Length is counted in Unicode code points after NFKC (so composed and decomposed forms
    count alike)."""
    value = unicodedata.normalize("NFKC", password)
    if len(value) < PASSWORD_MIN:
        return "PASSWORD_TOO_SHORT"
    if len(value) > PASSWORD_MAX:
        return "PASSWORD_TOO_LONG"
    if value.lower() in _common_passwords():
        return "PASSWORD_COMMON"
    return None


# ---------------------------------------------------------------- counting windows
def window_start(epoch: int, window_seconds: int) -> int:
    """The start (epoch seconds) of the clock-aligned window of ``window_seconds`` holding ``epoch``.

    Limits count events in fixed windows (``[start, start + window_seconds)``): at most N per
    window, so at most 2N across any span of one window length that straddles a boundary."""
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    return epoch - epoch % window_seconds


def seconds_left(epoch: int, window_seconds: int) -> int:
    """Whole seconds until the window holding ``epoch`` ends (1..window_seconds): a Retry-After."""
    return window_start(epoch, window_seconds) + window_seconds - epoch


# ---------------------------------------------------------------- consent
def consent_view(profile: dict) -> dict:
    """The consent as shown in ``GET /v1/me``: ``{version, given_at, withdrawn_at}`` (ISO UTC or None).

    ``profile`` is the stored PROFILE item (``consent_version``, ``consent_at``,
    ``consent_withdrawn_at``)."""
    return {"version": profile.get("consent_version"), "given_at": profile.get("consent_at"),
            "withdrawn_at": profile.get("consent_withdrawn_at")}


def consent_active(profile: dict) -> bool:
    """Whether the applicant's consent stands (not withdrawn; every account is created with it)."""
    return not profile.get("consent_withdrawn_at")
