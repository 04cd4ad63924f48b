"""Use cases of the account step: sign up, sign in, sessions, own status.

Sign-up answers the same whether or not the address already had an account (the owner of an
existing account gets an email instead): the one documented exception to "a conflict is 409".
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from prakerja import clock
from prakerja.domain import applicant as states
from prakerja.domain.accounts import normalise_email, password_issue
from prakerja.domain.errors import FieldIssue, InvalidInput, Unauthorized
from prakerja.services import mail
from prakerja.services.security import Passwords, lookup_key, new_token, token_hash
from prakerja.services.wiring import Wiring


@dataclass(frozen=True)
class TokenPair:
    """What sign-in and refresh return (``expires_in`` in seconds)."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def verification_link(base_url: str, raw_token: str) -> str:
    """The emailed link for a verification token (``{base}/v1/email-verifications/{token}``)."""
    return f"{base_url.rstrip('/')}/v1/email-verifications/{quote(raw_token, safe='')}"


class Accounts:
    """Accounts, sessions and status. ``w`` carries settings, store, outbox and keys."""

    def __init__(self, w: Wiring, passwords: Passwords) -> None:
        self.w = w
        self.s = w.settings
        self.passwords = passwords

    # ------------------------------------------------------------------ sign-up
    def register(self, email: str, password: str, consent: bool, consent_version: str | None) -> None:
        """Create the account and queue its verification email, or email the existing owner.

        Raises InvalidInput listing every field that breaks a rule."""
        issues = []
        try:
            normalised = normalise_email(email)
        except InvalidInput as exc:
            issues += exc.fields
            normalised = ""
        if code := password_issue(password):
            issues.append(FieldIssue("password", code))
        if not consent:
            issues.append(FieldIssue("consent", "CONSENT_REQUIRED"))
        version = consent_version or self.s.consent_version
        if version != self.s.consent_version:
            issues.append(FieldIssue("consent_version", "CONSENT_VERSION_UNKNOWN"))
        if issues:
            raise InvalidInput("VALIDATION_FAILED", issues)
        email_key, kid = lookup_key(self.w.keys(), normalised)
        if self.w.store.applicant_for_email(email_key) or not self._create(email.strip(), normalised,
                                                                           email_key, kid, password, version):
            self._notify_existing(email.strip())

    def _create(self, typed: str, normalised: str, email_key: str, kid: str, password: str, version: str) -> bool:
        now = clock.now()
        at = clock.iso(now)
        aid = uuid.uuid4().hex
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.s.email_token_seconds)
        message = mail.email_message(mail.TRANSACTIONAL, "verify_email", typed,
                                     {"link": verification_link(self.s.public_base_url, raw)}, ref=aid)
        profile = {
            "applicant_id": aid, "email": typed, "email_key": email_key, "email_kid": kid,
            "password_hash": self.passwords.hash(password), "consent_version": version, "consent_at": at,
            "created_at": at,
            "steps": {step: {"status": status, "reason": None, "updated_at": at}
                      for step, status in states.INITIAL.items() if step != "batch"},
        }
        token_item = self.w.store.token_put(hashed, {
            "purpose": "verify_email", "applicant_id": aid, "email_key": email_key,
            "expires_at": clock.iso(expires), "ttl": int(expires.timestamp()) + 86400,
        })
        extra = [token_item, *self.w.outbox.put_items([message], now)]
        if not self.w.store.create_account(profile, email_key, kid, extra):
            return False
        self.w.outbox.dispatch([message])
        return True

    def _notify_existing(self, typed: str) -> None:
        message = mail.email_message(mail.TRANSACTIONAL, "already_registered", typed,
                                     {"base": self.s.public_base_url}, ref=secrets.token_hex(8))
        now = clock.now()
        self.w.store.transact(self.w.outbox.put_items([message], now))
        self.w.outbox.dispatch([message])

    # ------------------------------------------------------------------ sessions
    def sign_in(self, email: str, password: str) -> TokenPair:
        """Tokens for a correct email and password; Unauthorized(INVALID_CREDENTIALS) otherwise.

        Wrong password and unknown email fail alike, in about the same time."""
        try:
            normalised = normalise_email(email)
        except InvalidInput:
            normalised = ""
        profile = None
        if normalised:
            aid = self.w.store.applicant_for_email(lookup_key(self.w.keys(), normalised)[0])
            profile = self.w.store.get_profile(aid) if aid else None
        if not self.passwords.verify(profile["password_hash"] if profile else None, password) or profile is None:
            raise Unauthorized("INVALID_CREDENTIALS")
        if self.passwords.needs_rehash(profile["password_hash"]):
            self.w.store.update_profile(profile["applicant_id"], {"password_hash": self.passwords.hash(password)})
        return self._issue(profile["applicant_id"], family=uuid.uuid4().hex)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token. Reusing a rotated one revokes its whole family.

        Raises Unauthorized(REFRESH_INVALID)."""
        old_hash = token_hash(refresh_token)
        item = self.w.store.get_refresh(old_hash)
        now = clock.now()
        if not item or item["expires_at"] <= clock.iso(now) or self.w.store.family_revoked(item["family"]):
            raise Unauthorized("REFRESH_INVALID")
        if item.get("rotated_at"):
            self.w.store.revoke_family(item["family"], clock.iso(now), self._family_ttl())
            raise Unauthorized("REFRESH_INVALID")
        raw, new_hash = new_token()
        new_item = self._refresh_item(item["applicant_id"], item["family"])
        if not self.w.store.rotate_refresh(old_hash, new_hash, new_item, clock.iso(now)):
            self.w.store.revoke_family(item["family"], clock.iso(now), self._family_ttl())
            raise Unauthorized("REFRESH_INVALID")
        access = self.w.access_tokens.issue(item["applicant_id"], item["family"])
        return TokenPair(access, raw, self.s.access_token_seconds)

    def sign_out(self, family: str) -> None:
        """Revoke the session (every refresh token of its family)."""
        if family:
            self.w.store.revoke_family(family, clock.iso(clock.now()), self._family_ttl())

    def _issue(self, applicant_id: str, family: str) -> TokenPair:
        raw, hashed = new_token()
        self.w.store.put_refresh(hashed, self._refresh_item(applicant_id, family))
        access = self.w.access_tokens.issue(applicant_id, family)
        return TokenPair(access, raw, self.s.access_token_seconds)

    def _refresh_item(self, applicant_id: str, family: str) -> dict:
        expires = clock.now() + timedelta(seconds=self.s.refresh_token_seconds)
        return {"applicant_id": applicant_id, "family": family, "expires_at": clock.iso(expires),
                "ttl": int(expires.timestamp())}

    def _family_ttl(self) -> int:
        return clock.epoch() + self.s.refresh_token_seconds
