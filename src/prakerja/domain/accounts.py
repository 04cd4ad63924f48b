"""Account rules: email normalisation and the password policy.

Sources: NIST SP 800-63B section 5.1.1.2 and the OWASP Authentication Cheat Sheet (length 8 to
at least 64, any Unicode, checked against common passwords, no composition rules). Email syntax:
email-validator (RFC 5321/5322 addresses without quoted local parts or domain literals, IDNA 2008
domains, no control, bidi or other unsafe characters), without a DNS lookup: deliverability is
proven by the verification link.
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

# The check of addresses accepted before email-validator: one @, a dot in the domain, no
# spaces. Only for finding accounts made then (sign-in, bounces, operators), never for new input.
_LEGACY_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def _invalid() -> InvalidInput:
    return InvalidInput("VALIDATION_FAILED", [FieldIssue("email", "EMAIL_INVALID")])


def _folded(typed: str) -> str:
    return unicodedata.normalize("NFKC", typed.strip()).lower()


def normalise_email(typed: str) -> str:
    """The one form of an address: the form stored, mailed and keyed (HMAC) for lookups.

    Trimmed, Unicode NFKC, lower-case, then checked and normalised by email-validator (syntax,
    IDNA; ``check_deliverability=False``, so no DNS). A full-width ``ｖｉｃｔｉｍ@example.id``
    becomes ``victim@example.id``: one account, one mailbox. ``+`` and dots are kept
    (``a+b@example.id`` and ``ab@example.id`` are different accounts). For plain ASCII the result
    is the trimmed lower-case text, as before email-validator, so lookup keys did not change.

    Raises InvalidInput(VALIDATION_FAILED, ``email``: EMAIL_INVALID) for anything else: control,
    bidi or other unsafe characters, empty or hyphen-edged labels, ``<``, spaces, special-use
    domains (``.test``, ``.local``...), more than 254 characters."""
    from email_validator import EmailNotValidError, validate_email  # loaded where addresses are read

    value = _folded(typed)
    if len(value) > EMAIL_MAX:
        raise _invalid()
    try:
        # allow_smtputf8=False: SES sends to 7-bit local parts only (a domain may be IDN: the
        # mailer sends to its Punycode form, adapters/mailer.py)
        return validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        raise _invalid() from exc


def lookup_email(typed: str) -> str:
    """The form under which an existing account is found: :func:`normalise_email`, or for an
    address accepted by the looser check of earlier releases (stored on old profiles), its
    trimmed NFKC lower-case text. For sign-in, bounces, operator commands and the re-key; never
    for an address being registered or changed to.

    Raises InvalidInput(VALIDATION_FAILED, ``email``: EMAIL_INVALID) when neither accepts it."""
    try:
        return normalise_email(typed)
    except InvalidInput:
        value = _folded(typed)
        if len(value) > EMAIL_MAX or not _LEGACY_EMAIL.match(value):
            raise
        return value


def mail_address(stored: str) -> str:
    """Where to send mail for a profile's stored address: its normalised form (profiles written
    before addresses were stored normalised hold the text as typed), or the stored text when
    that no longer passes the check (nothing better is known)."""
    try:
        return lookup_email(stored)
    except InvalidInput:
        return stored


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
