"""The consent gate: steps that process personal data call :func:`require_active` first.

An applicant may withdraw consent (``DELETE /v1/me/consent``); until it is given again, biodata,
the test and joining a batch are refused with 403 ``CONSENT_WITHDRAWN``.
"""

from __future__ import annotations

from prakerja.domain.accounts import consent_active
from prakerja.domain.errors import Forbidden


def require_active(profile: dict | None) -> None:
    """Raise Forbidden(CONSENT_WITHDRAWN) when ``profile`` (the PROFILE item) records a withdrawal.

    A missing profile passes: the caller's own checks deal with it."""
    if profile and not consent_active(profile):
        raise Forbidden("CONSENT_WITHDRAWN")
