"""Single-use email links: describe (GET, does not spend), confirm (POST, spends), resend.

Tokens are 32 random bytes, stored only as a SHA-256 hash, single use, and expire after
``email_token_seconds`` (24 hours by default). Reads treat an expired item as gone (TTL deletion
is late on AWS and absent on moto). A mail scanner that fetches the link (GET) spends nothing.
"""

from __future__ import annotations

from datetime import timedelta

from prakerja import clock
from prakerja.domain import applicant as states
from prakerja.domain.errors import Gone, NotFound
from prakerja.services import mail
from prakerja.services.accounts import verification_link
from prakerja.services.security import new_token, token_hash
from prakerja.services.wiring import Wiring

PURPOSES = {"verify_email"}


class EmailVerification:
    """Use cases of the email step."""

    def __init__(self, w: Wiring) -> None:
        self.w = w

    def _live(self, raw: str) -> tuple[str, dict]:
        hashed = token_hash(raw)
        item = self.w.store.get_token(hashed)
        if not item or item.get("purpose") not in PURPOSES:
            raise NotFound("TOKEN_UNKNOWN")
        if item.get("used_at"):
            raise Gone("TOKEN_USED")
        if item["expires_at"] <= clock.iso(clock.now()):
            raise Gone("TOKEN_EXPIRED")
        return hashed, item

    def describe(self, raw: str) -> dict:
        """What confirming will do: ``{purpose, expires_at}``. Raises NotFound/Gone."""
        _, item = self._live(raw)
        return {"purpose": item["purpose"], "expires_at": item["expires_at"], "status": "VALID"}

    def confirm(self, raw: str) -> dict:
        """Spend the token and mark the email VERIFIED, atomically. Raises NotFound/Gone."""
        hashed, item = self._live(raw)
        at = clock.iso(clock.now())
        step = self.w.store.step_update(item["applicant_id"], "email", "VERIFIED", None, at,
                                        states.allowed_from("email", "VERIFIED") | {"VERIFIED"})
        if not self.w.store.transact([self.w.store.token_spend(hashed, at), step]):
            raise Gone("TOKEN_USED")
        return {"status": "VERIFIED", "verified_at": at}

    def resend(self, applicant_id: str) -> None:
        """Queue a new verification link for a signed-in applicant whose email is not verified."""
        profile = self.w.store.get_profile(applicant_id)
        if not profile or profile["steps"]["email"]["status"] == "VERIFIED":
            return
        now = clock.now()
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.w.settings.email_token_seconds)
        message = mail.email_message(mail.TRANSACTIONAL, "verify_email", profile["email"],
                                     {"link": verification_link(self.w.settings.public_base_url, raw)},
                                     ref=applicant_id)
        token = self.w.store.token_put(hashed, {"purpose": "verify_email", "applicant_id": applicant_id,
                                                "email_key": profile["email_key"],
                                                "expires_at": clock.iso(expires),
                                                "ttl": int(expires.timestamp()) + 86400})
        self.w.store.transact([token, *self.w.outbox.put_items([message], now)])
        self.w.outbox.dispatch([message])
