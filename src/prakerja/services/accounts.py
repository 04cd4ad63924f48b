"""Use cases of the account step: sign up, sign in, sessions, own status.

Sign-up answers the same whether or not the address already had an account (the owner of an
existing account gets an email instead): the one documented exception to "a conflict is 409".
With an ``Idempotency-Key`` a sign-up runs once per key (Powertools Idempotency; records kept
``idempotency_seconds``): a replay gets the first answer and sends no second email.

Sign-in attempts are reserved before the password check, per (account, client address), per
account and per client address, in windows of ``signin_window_seconds`` (:class:`SignInLimits`);
over ``signin_max_failures`` (or the per-account cap, or the per-address ceiling, high because of
carrier NAT) the answer is 429 ``TOO_MANY_ATTEMPTS`` with Retry-After, never a sleep.

Sessions: a refresh token belongs to a family (one sign-in); refresh and access tokens carry
the profile's ``session_generation`` at issue; raising the generation (sign-out, password reset
or change) kills every refresh and access token issued before, at once (access tokens are
checked against the profile on every request: :func:`prakerja.services.security.signed_in`).
Each refresh token also carries the secret's ``session_epoch``: an emergency JWT rotation
raises it and so kills every refresh token of every applicant issued before.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from prakerja import clock
from prakerja.adapters.counters import WindowCounters
from prakerja.adapters.idempotency import persistence_layer
from prakerja.adapters.secrets import Keys
from prakerja.domain import applicant as states
from prakerja.domain.accounts import lookup_email, normalise_email, password_issue
from prakerja.domain.errors import Conflict, FieldIssue, InvalidInput, TooMany, Unauthorized
from prakerja.services import mail
from prakerja.services.lookups import find_email, previous_guards
from prakerja.services.mail_limits import MailLimits
from prakerja.services.security import Passwords, lookup_key, new_token, token_hash
from prakerja.services.wiring import Wiring

ACCEPTED = {"status": "ACCEPTED"}
IN_PROGRESS_RETRY_SECONDS = 2


@dataclass(frozen=True)
class TokenPair:
    """What sign-in and refresh return (``expires_in`` in seconds)."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def verification_link(base_url: str, raw_token: str) -> str:
    """The emailed link for a verification token: the web client's confirmation page,
    ``{base}/verifikasi-email#token={token}``. The token rides in the fragment, which browsers
    never send, so it stays out of access logs; the page describes the link (GET) and confirms
    it (POST ``/v1/email-verifications/{token}``) only when the person presses its button."""
    return f"{base_url.rstrip('/')}/verifikasi-email#token={quote(raw_token, safe='')}"


class SignInLimits:
    """Password checks per (account, client address), per account and per client address.

    ``account`` is the email's HMAC (for unknown addresses too, so limits reveal nothing);
    counters are keyed by HMACs of it and of the address, never by the values themselves.

    Every attempt first *reserves* a unit under all three limits, before the password hash is
    checked (one conditional update each: concurrent guesses can never pass more than the limit
    between them); a wrong password keeps its reservations (they are the failure counts), a
    correct one gives them back and clears the (account, address) count.

    The per-account cap ignores the address, so guesses spread over many addresses (a botnet)
    are bounded too: at most ``max_per_account`` per window. The trade-off: someone who floods an
    account with wrong passwords from many addresses locks its owner out as well, but only until
    the window ends (``signin_window_seconds``, 15 minutes) and only by keeping up that flood; the
    cap is set well above the per-(account, address) limit so that the owner's own mistakes never
    reach it. Cost per attempt: up to 3 conditional writes on the Limits table (and 1 more for
    each one given back when a later limit refuses); a success adds 3 writes (1 delete, 2 releases)."""

    def __init__(self, table_name: str, keys: Callable[[], Keys], max_failures: int, max_per_address: int,
                 window_seconds: int, max_per_account: int | None = None) -> None:
        self.keys = keys
        self.max_failures, self.max_per_address = max_failures, max_per_address
        self.max_per_account = max_per_account if max_per_account is not None else 5 * max_failures
        self.pair = WindowCounters(table_name, "signin", window_seconds)
        self.account = WindowCounters(table_name, "signin-account", window_seconds)
        self.address = WindowCounters(table_name, "signin-address", window_seconds)

    def _subjects(self, account: str, address: str) -> tuple[str, str, str]:
        keys = self.keys()
        return (lookup_key(keys, f"{account}|{address}")[0], lookup_key(keys, f"account|{account}")[0],
                lookup_key(keys, f"address|{address}")[0])

    def reserve(self, account: str, address: str) -> list[tuple[WindowCounters, dict]]:
        """Reserve this attempt under every limit, before the password is checked.

        Returns the reservations (for :meth:`succeeded`). Raises TooMany(TOO_MANY_ATTEMPTS,
        retry_after = seconds to the window's end) when any limit is reached; the units already
        taken by this attempt are given back then."""
        held: list[tuple[WindowCounters, dict]] = []
        subjects = self._subjects(account, address)
        limits = (self.max_failures, self.max_per_account, self.max_per_address)
        for counter, subject, limit in zip((self.pair, self.account, self.address), subjects, limits, strict=True):
            key = counter.take(subject, limit)
            if key is None:
                for taken, taken_key in held:
                    taken.release(taken_key)
                raise TooMany("TOO_MANY_ATTEMPTS", retry_after=counter.retry_after())
            held.append((counter, key))
        return held

    def succeeded(self, held: list[tuple[WindowCounters, dict]]) -> None:
        """After a correct password: forget the (account, address) failures, give back the
        per-account and per-address reservations (successes do not count)."""
        for counter, key in held:
            if counter is self.pair:
                counter.forget(key)
            else:
                counter.release(key)


class Accounts:
    """Accounts, sessions and status. ``w`` carries settings, store, outbox and keys; the
    settings must name the Limits and Idempotency tables."""

    def __init__(self, w: Wiring, passwords: Passwords) -> None:
        self.w = w
        self.s = w.settings
        self.passwords = passwords
        self.limits = SignInLimits(self.s.limits_table, w.keys, self.s.signin_max_failures,
                                   self.s.signin_max_failures_per_address, self.s.signin_window_seconds,
                                   self.s.signin_max_failures_per_account)
        self.mail_limits = MailLimits.from_settings(self.s, w.keys)
        self.idempotency = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="fingerprint",
                                             expires_after_seconds=self.s.idempotency_seconds,
                                             hash_function="sha256")
        self._register_once = idempotent_function(
            self._register_keyed, data_keyword_argument="request", config=self.idempotency,
            persistence_store=persistence_layer(self.s.idempotency_table), key_prefix="accounts.register")

    # ------------------------------------------------------------------ sign-up
    def sign_up(self, email: str, password: str, consent: bool, consent_version: str | None,
                idempotency_key: str | None = None, lambda_context: Any = None, client_ip: str = "0.0.0.0") -> dict:
        """:meth:`register`, at most once per ``idempotency_key`` when one is given. ``{"status": "ACCEPTED"}``.

        ``lambda_context`` (the invocation's Lambda context) lets a timed-out attempt be retried
        with the same key. Raises InvalidInput (nothing is recorded for the key then),
        Conflict(IDEMPOTENCY_KEY_REUSED) when the key came earlier with another body, and
        Conflict(REQUEST_IN_PROGRESS, retry_after) while the first request with the key runs,
        TooMany(TOO_MANY_ATTEMPTS) over the per-client mail limit (nothing recorded for the key
        then either). A replay is answered from the record: it counts against no limit again.

        The body's fingerprint is keyed with the HMAC key; after a rotation a replay's
        fingerprint is tried under the previous key ids too, so a replay is still a replay."""
        if not idempotency_key:
            self.register(email, password, consent, consent_version, client_ip)
            return dict(ACCEPTED)
        if lambda_context is not None:
            self.idempotency.register_lambda_context(lambda_context)
        # the body is validated through a keyed hash: no password-derived plain hash is stored
        body = json.dumps({"email": email, "password": password, "consent": consent,
                           "consent_version": consent_version}, sort_keys=True, ensure_ascii=False)
        keys = self.w.keys()
        for kid in keys.hmac_kids:
            request = {"key": idempotency_key, "fingerprint": lookup_key(keys, body, kid)[0]}
            try:
                return self._register_once(request=request, email=email, password=password, consent=consent,
                                           consent_version=consent_version, client_ip=client_ip)
            except IdempotencyValidationError:
                continue
            except IdempotencyAlreadyInProgressError as exc:
                raise Conflict("REQUEST_IN_PROGRESS", retry_after=IN_PROGRESS_RETRY_SECONDS) from exc
        raise Conflict("IDEMPOTENCY_KEY_REUSED")

    def _register_keyed(self, request: dict, email: str, password: str, consent: bool,
                        consent_version: str | None, client_ip: str = "0.0.0.0") -> dict:
        self.register(email, password, consent, consent_version, client_ip)
        return dict(ACCEPTED)

    def register(self, email: str, password: str, consent: bool, consent_version: str | None,
                 client_ip: str = "0.0.0.0") -> None:
        """Create the account and queue its verification email, or email the existing owner
        (at most ``mail_max_per_target`` such notices per address per mail window; past it the
        caller's answer is the same and no email is queued).

        Raises InvalidInput listing every field that breaks a rule, TooMany(TOO_MANY_ATTEMPTS)
        over the per-client mail limit (:class:`prakerja.services.mail_limits.MailLimits`)."""
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
        self.mail_limits.client_request(client_ip)  # every valid sign-up mails someone: 1 write
        keys = self.w.keys()
        email_key, kid = lookup_key(keys, normalised)
        # under any key id: an address registered before a rotation is still registered
        guards = previous_guards(self.w.store, keys, "EMAIL", normalised)
        # the normalised form is stored and mailed (a full-width variant is the same address)
        if find_email(self.w.store, keys, normalised) or not self._create(normalised, email_key, kid, password,
                                                                          version, guards):
            # a new account's one verification email needs no limit (one account per address)
            if self.mail_limits.target_allows("already_registered", normalised):  # 1 write
                self._notify_existing(normalised)

    def _create(self, normalised: str, email_key: str, kid: str, password: str, version: str,
                guards: list[dict]) -> bool:
        now = clock.now()
        at = clock.iso(now)
        aid = uuid.uuid4().hex
        raw, hashed = new_token()
        expires = now + timedelta(seconds=self.s.email_token_seconds)
        message = mail.email_message(mail.TRANSACTIONAL, "verify_email", normalised,
                                     {"link": verification_link(self.s.public_base_url, raw)}, ref=aid)
        profile = {
            "applicant_id": aid, "email": normalised, "email_key": email_key, "email_kid": kid,
            "password_hash": self.passwords.hash(password), "consent_version": version, "consent_at": at,
            "created_at": at, "session_generation": 0,
            "steps": {step: {"status": status, "reason": None, "updated_at": at}
                      for step, status in states.INITIAL.items() if step != "batch"},
        }
        token_item = self.w.store.token_put(hashed, {
            "purpose": "verify_email", "applicant_id": aid, "email_key": email_key,
            "expires_at": clock.iso(expires), "ttl": int(expires.timestamp()) + 86400,
        })
        extra = [token_item, *self.w.outbox.put_items([message], now), *guards]
        if not self.w.store.create_account(profile, email_key, kid, extra):
            return False
        self.w.funnel.registered()
        self.w.outbox.dispatch([message])
        return True

    def _notify_existing(self, normalised: str) -> None:
        message = mail.email_message(mail.TRANSACTIONAL, "already_registered", normalised,
                                     {"base": self.s.public_base_url}, ref=secrets.token_hex(8))
        now = clock.now()
        self.w.store.transact(self.w.outbox.put_items([message], now))
        self.w.outbox.dispatch([message])

    # ------------------------------------------------------------------ sessions
    def sign_in(self, email: str, password: str, client_ip: str = "0.0.0.0") -> TokenPair:
        """Tokens for a correct email and password; Unauthorized(INVALID_CREDENTIALS) otherwise.

        Wrong password and unknown email fail alike, in about the same time, and count alike
        against the limits. Raises TooMany(TOO_MANY_ATTEMPTS, retry_after) while over a limit
        (checked before the password, so a correct password is refused too)."""
        try:  # lenient: accounts made under the looser check of earlier releases still sign in
            normalised = lookup_email(email)
        except InvalidInput:
            normalised = ""
        keys = self.w.keys()
        email_key = lookup_key(keys, normalised)[0] if normalised else ""
        account = email_key or lookup_key(keys, email.strip().lower())[0]
        held = self.limits.reserve(account, client_ip)  # before argon2: concurrent guesses cannot race it
        profile = None
        if email_key:
            found = find_email(self.w.store, keys, normalised)
            profile = self.w.store.get_profile(found[0]) if found else None
        if not self.passwords.verify(profile["password_hash"] if profile else None, password) or profile is None:
            raise Unauthorized("INVALID_CREDENTIALS")  # the reservations stay: they count the failure
        self.limits.succeeded(held)
        if self.passwords.needs_rehash(profile["password_hash"]):
            self.w.store.update_profile(profile["applicant_id"], {"password_hash": self.passwords.hash(password)})
        return self.issue(profile)

    def check_password(self, profile: dict, password: str, client_ip: str, field: str = "password") -> None:
        """Confirm a signed-in applicant's password before a sensitive change.

        Failures count against the same limits as sign-in. Raises TooMany(TOO_MANY_ATTEMPTS) while
        over a limit, InvalidInput(VALIDATION_FAILED, ``field``: PASSWORD_WRONG) on a wrong password."""
        held = self.limits.reserve(profile["email_key"], client_ip)
        if not self.passwords.verify(profile["password_hash"], password):
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue(field, "PASSWORD_WRONG")])
        self.limits.succeeded(held)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token. Reusing a rotated one revokes its whole family; a token from an
        older session generation (before a password reset or change) or of a deleted account is dead.

        Raises Unauthorized(REFRESH_INVALID)."""
        old_hash = token_hash(refresh_token)
        item = self.w.store.get_refresh(old_hash)
        now = clock.now()
        if not item or item["expires_at"] <= clock.iso(now) or self.w.store.family_revoked(item["family"]):
            raise Unauthorized("REFRESH_INVALID")
        if item.get("rotated_at"):
            self.w.store.revoke_family(item["family"], clock.iso(now), self._family_ttl())
            raise Unauthorized("REFRESH_INVALID")
        keys = self.w.keys()  # cached: no extra read
        if int(item.get("epoch", 0)) < keys.session_epoch:
            raise Unauthorized("REFRESH_INVALID")
        profile = self.w.store.get_profile(item["applicant_id"])
        generation = int(item.get("generation", 0))
        if not profile or generation != int(profile.get("session_generation", 0)):
            raise Unauthorized("REFRESH_INVALID")
        raw, new_hash = new_token()
        new_item = self._refresh_item(item["applicant_id"], item["family"], generation)
        if not self.w.store.rotate_refresh(old_hash, new_hash, new_item, clock.iso(now)):
            self.w.store.revoke_family(item["family"], clock.iso(now), self._family_ttl())
            raise Unauthorized("REFRESH_INVALID")
        access = self.w.access_tokens.issue(item["applicant_id"], item["family"], generation)
        return TokenPair(access, raw, self.s.access_token_seconds)

    def sign_out(self, applicant_id: str, family: str) -> None:
        """End every session of the account: its ``session_generation`` goes up by one, so every
        access and refresh token issued before is refused from the next request (a sign-out on
        a shared computer also ends a session left open elsewhere), and this session's refresh
        family is revoked as before. One UpdateItem and one PutItem."""
        self.w.store.end_sessions(applicant_id)
        if family:
            self.w.store.revoke_family(family, clock.iso(clock.now()), self._family_ttl())

    def issue(self, profile: dict, generation: int | None = None) -> TokenPair:
        """A new session (family) for the applicant of ``profile``, at its session generation
        (or ``generation`` when the caller has just raised it)."""
        raw, hashed = new_token()
        applicant_id, family = profile["applicant_id"], uuid.uuid4().hex
        if generation is None:
            generation = int(profile.get("session_generation", 0))
        self.w.store.put_refresh(hashed, self._refresh_item(applicant_id, family, generation))
        access = self.w.access_tokens.issue(applicant_id, family, generation)
        return TokenPair(access, raw, self.s.access_token_seconds)

    def _refresh_item(self, applicant_id: str, family: str, generation: int) -> dict:
        expires = clock.now() + timedelta(seconds=self.s.refresh_token_seconds)
        item = {"applicant_id": applicant_id, "family": family, "generation": generation,
                "expires_at": clock.iso(expires), "ttl": int(expires.timestamp())}
        epoch = self.w.keys().session_epoch
        if epoch:  # 0 (no emergency rotation yet) is left out, as in items written before epochs
            item["epoch"] = epoch
        return item

    def _family_ttl(self) -> int:
        return clock.epoch() + self.s.refresh_token_seconds
