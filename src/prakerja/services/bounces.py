"""Hard bounces and complaints: SES notifications (through SNS and the BounceQueue) mark the
applicant's email step ``UNDELIVERABLE`` so ``GET /v1/me`` shows it and the applicant can change
the address.

A record's body is an SNS envelope (``{"Type": "Notification", "Message": "<json>", ...}``) or,
with raw delivery, the SES notification itself. Both SES shapes are understood: identity
notifications (``notificationType``) and configuration-set event publishing (``eventType``).
Only ``Bounce`` with ``bounceType: Permanent`` (reason ``BOUNCED``) and ``Complaint`` (reason
``COMPLAINED``) act; anything else (transient bounces, deliveries, subscription confirmations)
is ignored. A body that is not JSON, or a Bounce/Complaint that does not validate, is reported
failed (DLQ after retries): it is looked at, never silently lost.

Each affected address is normalised as at sign-up and found through its email sentinel
(``EMAIL#<hmac>`` with the current HMAC key); an address no account holds is ignored. The step
moves only from ``PENDING`` or ``VERIFIED`` and only while the profile still has that address
(a late bounce for an address the applicant has since changed marks nothing), so a redelivered
notification is harmless.

Metrics (partner health): ``SesBounce`` per hard-bounced recipient and ``SesComplaint`` per
complaining recipient, whether or not an account holds the address (SES's own bounce and
complaint rates count them all).
"""

from __future__ import annotations

import json
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from prakerja import clock
from prakerja.domain import applicant as states
from prakerja.domain.accounts import lookup_email
from prakerja.domain.errors import InvalidInput
from prakerja.observability import count
from prakerja.services.lookups import find_email
from prakerja.services.wiring import Wiring

BOUNCED = "BOUNCED"
COMPLAINED = "COMPLAINED"


class InvalidNotification(ValueError):
    """The record is not JSON, or claims to be a bounce or complaint but does not validate."""


class _Model(BaseModel):
    """SES's own field names (camelCase); unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Recipient(_Model):
    emailAddress: str


class Bounce(_Model):
    bounceType: str
    bouncedRecipients: list[Recipient]


class Complaint(_Model):
    complainedRecipients: list[Recipient]


class BounceNotification(_Model):
    bounce: Bounce


class ComplaintNotification(_Model):
    complaint: Complaint


def unwrap(body: str) -> dict[str, Any]:
    """The SES notification inside an SQS body (SNS envelope or raw). Raises InvalidNotification."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"])
    except json.JSONDecodeError as exc:
        raise InvalidNotification("not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidNotification("not an object")
    return data


def affected(body: str) -> tuple[str, list[str]] | None:
    """``(reason, addresses)`` for a hard bounce or a complaint; None for anything else.

    Raises InvalidNotification."""
    data = unwrap(body)
    kind = data.get("notificationType") or data.get("eventType")
    try:
        if kind == "Bounce":
            bounce = BounceNotification.model_validate(data).bounce
            if bounce.bounceType != "Permanent":
                return None
            return BOUNCED, [r.emailAddress for r in bounce.bouncedRecipients]
        if kind == "Complaint":
            complaint = ComplaintNotification.model_validate(data).complaint
            return COMPLAINED, [r.emailAddress for r in complaint.complainedRecipients]
    except ValidationError as exc:
        raise InvalidNotification(f"malformed {kind}") from exc
    return None


class Bounces:
    """Applies SES bounce and complaint notifications to applicants."""

    def __init__(self, w: Wiring) -> None:
        self.w = w

    def handle(self, body: str) -> int:
        """Mark every affected address's applicant; returns how many applicants changed.

        Raises InvalidNotification."""
        found = affected(body)
        if not found:
            return 0
        reason, addresses = found
        count("SesBounce" if reason == BOUNCED else "SesComplaint", len(addresses))
        return sum(self.mark(address, reason) for address in addresses)

    def mark(self, address: str, reason: str) -> bool:
        """Move the email step of the account holding ``address`` to UNDELIVERABLE."""
        try:
            normalised = lookup_email(parseaddr(address)[1] or address)
        except InvalidInput:
            return False
        found = find_email(self.w.store, self.w.keys(), normalised)  # under any key id
        if not found:
            return False
        applicant_id, email_key = found
        return self.w.store.mark_email_undeliverable(
            applicant_id, email_key, reason, clock.iso(clock.now()),
            states.allowed_from("email", "UNDELIVERABLE"))
