"""Self-service on one's own account: password reset by email, change password, change email,
delete the account, withdraw and give consent.

Emailed links use the single-use token machinery of the email step (32 random bytes, stored as
a SHA-256 hash, ``TOKEN#<hash>`` items with a ``purpose``):

* ``password_reset``: ``{public_base_url}/v1/password-resets/{token}``, valid
  ``password_reset_seconds`` (1 hour); spending it sets the password and ends every session. It
  records the profile's ``password_generation`` and dies once the password changes (another
  link, the signed-in change).
* ``change_email``: sent to the NEW address as ``/v1/email-verifications/{token}`` (GET describes,
  POST confirms, like a verification link), valid ``email_token_seconds``; the change takes
  effect only on that confirmation, which swaps the email sentinels atomically (the new address
  must still be free). The old address is told when the change is asked for.

Reset requests answer the same whether or not the address has an account (202); at most
``password_reset_max`` reset emails per account per ``resend_window_seconds`` (more are dropped
silently, so the reply stays neutral). Reset and email-change requests also pass the email
limits of :mod:`prakerja.services.mail_limits` (per client address: 429; per target address:
the same reply, no email).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import quote

from prakerja import clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.counters import WindowCounters
from prakerja.adapters.outbox import Message
from prakerja.domain.accounts import consent_view, lookup_email, mail_address, normalise_email, password_issue
from prakerja.domain.errors import Conflict, FieldIssue, Gone, InvalidInput, NotFound, Unauthorized
from prakerja.services import mail
from prakerja.services.accounts import Accounts, TokenPair, verification_link
from prakerja.services.lookups import address_unchanged, find_email, previous_guards, same_address
from prakerja.services.privacy import PersonalData
from prakerja.services.security import lookup_key, new_token, token_hash
from prakerja.services.wiring import Wiring

RESET = "password_reset"
CHANGE_EMAIL = "change_email"


def reset_link(base_url: str, raw_token: str) -> str:
    """The emailed password-reset link: the web client's page ``{base}/lupa-kata-sandi#token={token}``
    (the token in the fragment stays out of access logs; the page calls the API's GET and POST
    ``/v1/password-resets/{token}``)."""
    return f"{base_url.rstrip('/')}/lupa-kata-sandi#token={quote(raw_token, safe='')}"


def live_token(store: ApplicantStore, raw: str, purposes: set[str]) -> tuple[str, dict]:
    """The stored hash and item of an unused, unexpired token of one of ``purposes``.

    An expired item counts as gone even if TTL has not deleted it yet. Raises
    NotFound(TOKEN_UNKNOWN), Gone(TOKEN_USED | TOKEN_EXPIRED)."""
    hashed = token_hash(raw)
    item = store.get_token(hashed)
    if not item or item.get("purpose") not in purposes:
        raise NotFound("TOKEN_UNKNOWN")
    if item.get("used_at"):
        raise Gone("TOKEN_USED")
    if item["expires_at"] <= clock.iso(clock.now()):
        raise Gone("TOKEN_EXPIRED")
    return hashed, item


def confirm_email_change(w: Wiring, hashed: str, item: dict) -> dict:
    """Spend a ``change_email`` token and move the account to the new address, atomically.

    Returns ``{status: VERIFIED, verified_at, email_changed: true}``. Raises Gone(TOKEN_USED) when
    the token was spent meanwhile, Conflict(EMAIL_TAKEN) when the new address got an account
    meanwhile, Gone(TOKEN_EXPIRED) when the account's address changed since the link was sent.

    The HMACs are computed afresh under the current key id (the link may predate a rotation):
    the token's keys only prove which addresses it was issued for."""
    store, at, keys = w.store, clock.iso(clock.now()), w.keys()
    aid = item["applicant_id"]
    profile = store.get_profile(aid)
    if not profile or not address_unchanged(keys, profile, item):
        raise Gone("TOKEN_EXPIRED")
    new_normalised = lookup_email(item["new_email"])  # links sent before this release hold the typed form
    new_key, new_kid = lookup_key(keys, new_normalised)
    swap = store.email_swap(aid, profile["email_key"], new_key, new_kid, new_normalised, at)
    guards = previous_guards(store, keys, "EMAIL", new_normalised, skip=frozenset({profile["email_key"]}))
    if store.transact([store.token_spend(hashed, at), *swap, *guards]):
        w.funnel.reached(aid, "email_verified")
        return {"status": "VERIFIED", "verified_at": at, "email_changed": True}
    spent = store.get_token(hashed)
    if spent and spent.get("used_at"):
        raise Gone("TOKEN_USED")
    found = find_email(store, keys, new_normalised)
    owner = found[0] if found else None
    if owner and owner != aid:
        raise Conflict("EMAIL_TAKEN", [FieldIssue("email", "EMAIL_TAKEN")])
    raise Gone("TOKEN_EXPIRED")


class SelfService:
    """The signed-in applicant's own account, and password reset by email."""

    def __init__(self, w: Wiring, accounts: Accounts, erasure: PersonalData | None = None) -> None:
        self.w, self.s, self.accounts = w, w.settings, accounts
        self.erasure = erasure or PersonalData.from_wiring(w)
        self.reset_mails = WindowCounters(self.s.limits_table, "reset-mail", self.s.resend_window_seconds)

    def _profile(self, applicant_id: str) -> dict:
        profile = self.w.store.get_profile(applicant_id)
        if not profile:
            raise Unauthorized("TOKEN_INVALID")
        return profile

    def _send(self, messages: list, extra: list[dict] | None = None) -> None:
        now = clock.now()
        self.w.store.transact([*(extra or []), *self.w.outbox.put_items(messages, now)])
        self.w.outbox.dispatch(messages)

    # ------------------------------------------------------------------ password reset
    def request_password_reset(self, email: str, client_ip: str = "0.0.0.0") -> None:
        """Email a reset link if the address has an account (and is under the mail limit); else
        nothing. The caller answers 202 either way. Raises InvalidInput(EMAIL_INVALID) only for
        text that is not an address, TooMany(TOO_MANY_ATTEMPTS) over the per-client mail limit
        (counted for every valid request, known address or not, so it reveals nothing)."""
        try:
            normalised = normalise_email(email)
        except InvalidInput:
            # an account whose address only the earlier, looser check accepted can still reset
            # it; any other text that is not an address stays a 422
            normalised = lookup_email(email)
            if not find_email(self.w.store, self.w.keys(), normalised):
                raise
        self.accounts.mail_limits.client_request(client_ip)  # 1 write
        found = find_email(self.w.store, self.w.keys(), normalised)
        profile = self.w.store.get_profile(found[0]) if found else None
        # the per-account limit is a single conditional write, so concurrent requests cannot pass it
        if not profile or self.reset_mails.take(profile["applicant_id"], self.s.password_reset_max) is None:
            return
        now = clock.now()
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.s.password_reset_seconds)
        message = mail.email_message(mail.TRANSACTIONAL, "password_reset", mail_address(profile["email"]),
                                     {"link": reset_link(self.s.public_base_url, raw)}, ref=profile["applicant_id"])
        token = self.w.store.token_put(hashed, {"purpose": RESET, "applicant_id": profile["applicant_id"],
                                                "email_key": profile["email_key"],
                                                "email_generation": int(profile.get("email_generation", 0)),
                                                "password_generation": int(profile.get("password_generation", 0)),
                                                "expires_at": clock.iso(expires),
                                                "ttl": int(expires.timestamp()) + 86400})
        self._send([message], [token])

    def describe_reset(self, raw: str) -> dict:
        """``{purpose, expires_at, status: VALID}`` for a live reset link (spends nothing).
        Raises NotFound(TOKEN_UNKNOWN), Gone(TOKEN_USED | TOKEN_EXPIRED; expired also when the
        account's address or password changed since the link was sent)."""
        _, item = live_token(self.w.store, raw, {RESET})
        profile = self.w.store.get_profile(item["applicant_id"])
        if not profile:
            raise NotFound("TOKEN_UNKNOWN")
        if not address_unchanged(self.w.keys(), profile, item) or not self._password_unchanged(profile, item):
            raise Gone("TOKEN_EXPIRED")
        return {"purpose": item["purpose"], "expires_at": item["expires_at"], "status": "VALID"}

    def reset_password(self, raw: str, password: str) -> dict:
        """Set a new password with a reset link, once; every session of the account ends.

        Returns ``{status: PASSWORD_RESET}``. Raises InvalidInput (password policy),
        NotFound(TOKEN_UNKNOWN), Gone(TOKEN_USED | TOKEN_EXPIRED; expired also when the account's
        address or password changed since the link was sent)."""
        if code := password_issue(password):
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue("password", code)])
        hashed, item = live_token(self.w.store, raw, {RESET})
        profile = self.w.store.get_profile(item["applicant_id"])
        if not profile:
            raise NotFound("TOKEN_UNKNOWN")
        if not address_unchanged(self.w.keys(), profile, item) or not self._password_unchanged(profile, item):
            raise Gone("TOKEN_EXPIRED")
        at = clock.iso(clock.now())
        store = self.w.store
        # conditional on the hash read above: a password changed meanwhile (another link, the
        # signed-in change) kills this link too
        notice = self._password_changed(profile)  # stored with the change, as in change_password
        if not store.transact([store.token_spend(hashed, at),
                               store.password_set(profile["applicant_id"], self.accounts.passwords.hash(password),
                                                  at, expect_hash=profile["password_hash"]),
                               *self.w.outbox.put_items([notice], clock.now())]):
            spent = store.get_token(hashed)
            raise Gone("TOKEN_USED" if spent and spent.get("used_at") else "TOKEN_EXPIRED")
        self.w.outbox.dispatch([notice])
        return {"status": "PASSWORD_RESET"}

    def _password_unchanged(self, profile: dict, item: dict) -> bool:
        """Whether the password is the one the reset link (``item``) was issued under: links
        record the profile's ``password_generation`` (one up per reset and change). Links issued
        before that field existed compare the last change time with their issue time."""
        if "password_generation" in item:
            return int(item["password_generation"]) == int(profile.get("password_generation", 0))
        changed = profile.get("password_changed_at") or ""
        issued = clock.parse_iso(item["expires_at"]) - timedelta(seconds=self.s.password_reset_seconds)
        return not changed or clock.parse_iso(changed) < issued

    def _password_changed(self, profile: dict) -> Message:
        return mail.email_message(mail.TRANSACTIONAL, "password_changed", mail_address(profile["email"]),
                                  {"base": self.s.public_base_url}, ref=profile["applicant_id"])

    # ------------------------------------------------------------------ signed in
    def change_password(self, applicant_id: str, current: str, new: str, client_ip: str) -> TokenPair:
        """Replace the password; every other session ends and a new one is returned for the caller.

        Raises InvalidInput (``new_password`` policy; ``current_password``: PASSWORD_WRONG),
        TooMany(TOO_MANY_ATTEMPTS), Conflict(ACCOUNT_CHANGED) when the password changed meanwhile."""
        profile = self._profile(applicant_id)
        if code := password_issue(new):
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue("new_password", code)])
        self.accounts.check_password(profile, current, client_ip, field="current_password")
        item = self.w.store.password_set(applicant_id, self.accounts.passwords.hash(new), clock.iso(clock.now()),
                                         expect_hash=profile["password_hash"])
        # the notice is stored with the change (one transaction): a busy queue cannot leave a
        # changed password without its notice, nor a notice without the change
        notice = self._password_changed(profile)
        if not self.w.store.transact([item, *self.w.outbox.put_items([notice], clock.now())]):
            raise Conflict("ACCOUNT_CHANGED")
        self.w.outbox.dispatch([notice])
        return self.accounts.issue(profile, generation=int(profile.get("session_generation", 0)) + 1)

    def request_email_change(self, applicant_id: str, email: str, password: str, client_ip: str) -> None:
        """Send a confirmation link to the new address and a notice to the current one.

        If the new address already has an account it gets a notice instead of a link (the reply
        is the same). At most ``mail_max_per_target`` of these per new address and of notices per
        current address in a mail window: past it that email is not sent (the reply is the same).
        Raises InvalidInput (``email``: EMAIL_INVALID | EMAIL_UNCHANGED; ``password``:
        PASSWORD_WRONG), TooMany(TOO_MANY_ATTEMPTS: sign-in limits, or the per-client mail limit)."""
        profile = self._profile(applicant_id)
        keys = self.w.keys()
        normalised = normalise_email(email)
        new_key, kid = lookup_key(keys, normalised)
        if new_key == profile["email_key"] or same_address(keys, profile["email"], new_key):
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue("email", "EMAIL_UNCHANGED")])
        self.accounts.check_password(profile, password, client_ip)
        limits = self.accounts.mail_limits
        limits.client_request(client_ip)  # 1 write; each target below 1 more
        base = self.s.public_base_url
        notices = [mail.email_message(mail.TRANSACTIONAL, "email_change_notice", mail_address(profile["email"]),
                                      {"base": base}, ref=applicant_id)]
        # the stored address may predate the strict check (mail_address never raises)
        if not limits.target_allows("email_change_notice", mail_address(profile["email"])):
            notices = []
        if not limits.target_allows("change_email", normalised):  # the link and email_in_use alike
            if notices:
                self._send(notices)
            return
        if find_email(self.w.store, keys, normalised):
            taken = mail.email_message(mail.TRANSACTIONAL, "email_in_use", normalised, {"base": base},
                                       ref=secrets.token_hex(8))
            self._send([taken, *notices])
            return
        now = clock.now()
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.s.email_token_seconds)
        link = mail.email_message(mail.TRANSACTIONAL, "change_email", normalised,
                                  {"link": verification_link(base, raw)}, ref=applicant_id)
        token = self.w.store.token_put(hashed, {
            "purpose": CHANGE_EMAIL, "applicant_id": applicant_id, "email_key": profile["email_key"],
            "email_generation": int(profile.get("email_generation", 0)),
            "new_email": normalised, "new_email_key": new_key, "new_email_kid": kid,
            "expires_at": clock.iso(expires), "ttl": int(expires.timestamp()) + 86400})
        self._send([link, *notices], [token])

    def delete_account(self, applicant_id: str, password: str, client_ip: str) -> None:
        """Erase everything held about the applicant, as an operator's ``applicant delete`` does
        (:meth:`prakerja.services.privacy.PersonalData.erase`: every item, the email and NIK
        sentinels, tokens, batch memberships, every version of the KTP photos), which frees the
        email and the NIK.

        Raises InvalidInput(``password``: PASSWORD_WRONG), TooMany(TOO_MANY_ATTEMPTS)."""
        profile = self._profile(applicant_id)
        self.accounts.check_password(profile, password, client_ip)
        self.erasure.erase(applicant_id)

    # ------------------------------------------------------------------ consent
    def withdraw_consent(self, applicant_id: str) -> dict:
        """Record the withdrawal (the first one counts); returns ``{version, given_at, withdrawn_at}``."""
        profile = self._profile(applicant_id)
        if not profile.get("consent_withdrawn_at"):
            profile["consent_withdrawn_at"] = clock.iso(clock.now())
            self.w.store.update_profile(applicant_id, {"consent_withdrawn_at": profile["consent_withdrawn_at"]})
        return consent_view(profile)

    def give_consent(self, applicant_id: str, consent: bool, version: str | None) -> dict:
        """Consent (again) to the current text; returns the consent view.

        Raises InvalidInput(``consent``: CONSENT_REQUIRED; ``consent_version``: CONSENT_VERSION_UNKNOWN)."""
        profile = self._profile(applicant_id)
        version = version or self.s.consent_version
        issues = [] if consent else [FieldIssue("consent", "CONSENT_REQUIRED")]
        if version != self.s.consent_version:
            issues.append(FieldIssue("consent_version", "CONSENT_VERSION_UNKNOWN"))
        if issues:
            raise InvalidInput("VALIDATION_FAILED", issues)
        values = {"consent_version": version, "consent_at": clock.iso(clock.now()), "consent_withdrawn_at": None}
        self.w.store.update_profile(applicant_id, values)
        return consent_view(profile | values)
