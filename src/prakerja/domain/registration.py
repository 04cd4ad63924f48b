"""The registration switch: whether sign-up is paused, and what a paused sign-up tells clients.

The switch is a small JSON document kept outside the code (the SSM parameter
``RegistrationSwitch`` in template.yaml), e.g. ``{"paused": false, "retry_after": 900}``; while
``paused`` is true, sign-up (``POST /v1/accounts``) answers 503 ``REGISTRATION_PAUSED`` with
``Retry-After: retry_after``. Nothing else stops: sign-in, email links, biodata, the NIK queue and
every worker keep going. Pure rules only (no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prakerja.domain.errors import InvalidInput, Unavailable

PAUSED_CODE = "REGISTRATION_PAUSED"
DEFAULT_RETRY_AFTER = 900
MIN_RETRY_AFTER = 1
MAX_RETRY_AFTER = 86_400


@dataclass(frozen=True)
class SwitchState:
    """One state of the switch.

    ``paused``: sign-up answers 503; ``retry_after``: seconds sent as ``Retry-After`` (1..86,400);
    ``changed_at``: UTC ISO 8601 time of the last change by an operator, or None.
    """

    paused: bool = False
    retry_after: int = DEFAULT_RETRY_AFTER
    changed_at: str | None = None

    @classmethod
    def parse(cls, value: Any) -> SwitchState:
        """The state in a stored document (a dict). Raises ValueError when it is not one: callers
        decide what an unreadable switch means (sign-up fails open)."""
        if not isinstance(value, dict) or not isinstance(value.get("paused", False), bool):
            raise ValueError("the registration switch is not {\"paused\": bool, \"retry_after\": int}")
        retry_after = value.get("retry_after", DEFAULT_RETRY_AFTER)
        if isinstance(retry_after, bool) or not isinstance(retry_after, int):
            raise ValueError("retry_after is not a whole number of seconds")
        changed_at = value.get("changed_at")
        return cls(bool(value.get("paused", False)), clamp_retry_after(retry_after),
                   str(changed_at) if changed_at else None)

    def to_json(self) -> dict[str, Any]:
        """The stored document (``changed_at`` only when known)."""
        doc: dict[str, Any] = {"paused": self.paused, "retry_after": self.retry_after}
        if self.changed_at:
            doc["changed_at"] = self.changed_at
        return doc


def clamp_retry_after(seconds: int) -> int:
    """``seconds`` within 1..86,400 (a day: clients should not be told to wait longer)."""
    return max(MIN_RETRY_AFTER, min(MAX_RETRY_AFTER, int(seconds)))


def check_retry_after(seconds: int) -> int:
    """``seconds`` if an operator may set it; raises InvalidInput(RETRY_AFTER_INVALID) otherwise."""
    if not MIN_RETRY_AFTER <= seconds <= MAX_RETRY_AFTER:
        raise InvalidInput("RETRY_AFTER_INVALID", detail={"min": MIN_RETRY_AFTER, "max": MAX_RETRY_AFTER})
    return seconds


def ensure_open(state: SwitchState) -> None:
    """Raise Unavailable(REGISTRATION_PAUSED, retry_after) when the switch says paused."""
    if state.paused:
        raise Unavailable(PAUSED_CODE, retry_after=state.retry_after)
