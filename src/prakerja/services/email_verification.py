"""Single-use email links: describe (GET, does not spend), confirm (POST, spends), resend.

Tokens are 32 random bytes, stored only as a SHA-256 hash, single use, and expire after
``email_token_seconds`` (24 hours by default). Reads treat an expired item as gone (TTL deletion
is late on AWS and absent on moto). A mail scanner that fetches the link (GET) spends nothing.
The same links confirm a change of address (purpose ``change_email``, see
:mod:`prakerja.services.self_service`). Resends: at most ``resend_max`` per applicant per
``resend_window_seconds`` (429 ``TOO_MANY_ATTEMPTS`` with Retry-After), and the per-client
email limit of :mod:`prakerja.services.mail_limits`.
"""

from __future__ import annotations

from datetime import timedelta

from prakerja import clock
from prakerja.adapters.counters import WindowCounters
from prakerja.domain import applicant as states
from prakerja.domain.accounts import mail_address
from prakerja.domain.errors import Gone, TooMany
from prakerja.services import mail
from prakerja.services.accounts import verification_link
from prakerja.services.mail_limits import MailLimits
from prakerja.services.security import new_token
from prakerja.services.self_service import CHANGE_EMAIL, confirm_email_change, live_token
from prakerja.services.wiring import Wiring

PURPOSES = {"verify_email", CHANGE_EMAIL}


class EmailVerification:
    """Use cases of the email step."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.resends = WindowCounters(w.settings.limits_table, "resend", w.settings.resend_window_seconds)
        self.mail_limits = MailLimits.from_settings(w.settings, w.keys)

    def _live(self, raw: str) -> tuple[str, dict]:
        return live_token(self.w.store, raw, PURPOSES)

    def describe(self, raw: str) -> dict:
        """What confirming will do: ``{purpose, expires_at}``. Raises NotFound/Gone."""
        _, item = self._live(raw)
        return {"purpose": item["purpose"], "expires_at": item["expires_at"], "status": "VALID"}

    def confirm(self, raw: str) -> dict:
        """Spend the token and mark the email VERIFIED, atomically. Raises NotFound/Gone."""
        hashed, item = self._live(raw)
        if item["purpose"] == CHANGE_EMAIL:
            return confirm_email_change(self.w, hashed, item)
        at = clock.iso(clock.now())
        step = self.w.store.step_update(item["applicant_id"], "email", "VERIFIED", None, at,
                                        states.allowed_from("email", "VERIFIED") | {"VERIFIED"})
        if not self.w.store.transact([self.w.store.token_spend(hashed, at), step]):
            raise Gone("TOKEN_USED")
        self.w.funnel.reached(item["applicant_id"], "email_verified")
        return {"status": "VERIFIED", "verified_at": at}

    def resend(self, applicant_id: str, client_ip: str = "0.0.0.0") -> None:
        """Queue a new verification link for a signed-in applicant whose email is not verified.

        Raises TooMany(TOO_MANY_ATTEMPTS, retry_after) past ``resend_max`` in the window, or past
        the per-client mail limit for ``client_ip``."""
        profile = self.w.store.get_profile(applicant_id)
        if not profile or profile["steps"]["email"]["status"] == "VERIFIED":
            return
        self.mail_limits.client_request(client_ip)  # 1 write
        # one conditional write: concurrent resends cannot pass the limit between them
        if self.resends.take(applicant_id, self.w.settings.resend_max) is None:
            raise TooMany("TOO_MANY_ATTEMPTS", retry_after=self.resends.retry_after())
        now = clock.now()
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.w.settings.email_token_seconds)
        message = mail.email_message(mail.TRANSACTIONAL, "verify_email", mail_address(profile["email"]),
                                     {"link": verification_link(self.w.settings.public_base_url, raw)},
                                     ref=applicant_id)
        token = self.w.store.token_put(hashed, {"purpose": "verify_email", "applicant_id": applicant_id,
                                                "email_key": profile["email_key"],
                                                "expires_at": clock.iso(expires),
                                                "ttl": int(expires.timestamp()) + 86400})
        self.w.store.transact([token, *self.w.outbox.put_items([message], now)])
        self.w.outbox.dispatch([message])
