"""Password hashing (argon2id), session tokens (JWT HS256 with ``kid``), single-use tokens and
keyed lookups (HMAC). Times come from :mod:`prakerja.clock`, never from PyJWT's own clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from prakerja import clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.secrets import Keys
from prakerja.domain.errors import Unauthorized

if TYPE_CHECKING:
    from argon2 import PasswordHasher


class Passwords:
    """argon2id hashing with parameters from settings (OWASP minimum: 19 MiB, 2 iterations, 1 lane).

    ``verify`` spends about the same time whether or not the account exists (a dummy hash is
    verified for unknown accounts).

    Cold start: argon2 is imported, and the dummy hash (one full argon2id hash, about 0.1 s of
    CPU) made, on the first password operation, not when the function imports: most requests of
    the register function (sessions, refresh, ``GET /v1/me``) never check a password."""

    def __init__(self, memory_kib: int, iterations: int, parallelism: int) -> None:
        self.memory_kib, self.iterations, self.parallelism = memory_kib, iterations, parallelism

    @cached_property
    def hasher(self) -> PasswordHasher:
        """The argon2id hasher with these parameters (created on first use)."""
        from argon2 import PasswordHasher

        return PasswordHasher(memory_cost=self.memory_kib, time_cost=self.iterations, parallelism=self.parallelism)

    @cached_property
    def _dummy(self) -> str:
        # verified in place of an unknown account's hash; two threads racing here each make a valid one
        return self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """An encoded argon2id hash of ``password``."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash`` (None = unknown account: always False)."""
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

        try:
            self.hasher.verify(stored_hash or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than the current ones."""
        return self.hasher.check_needs_rehash(stored_hash)


def new_token() -> tuple[str, str]:
    """A fresh single-use token (32 random bytes, URL-safe) and its SHA-256 hex (what is stored)."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def token_hash(raw: str) -> str:
    """SHA-256 hex of a token as given by a client."""
    return hashlib.sha256(raw.encode()).hexdigest()


def lookup_key(keys: Keys, value: str, kid: str | None = None) -> tuple[str, str]:
    """Keyed HMAC-SHA256 hex of ``value`` with key ``kid`` (default: the current one) and the kid.

    Writes always use the current kid; lookups use :func:`lookup_keys`."""
    kid = kid or keys.hmac_kid
    return hmac.new(keys.hmac_key(kid), value.encode(), hashlib.sha256).hexdigest(), kid


def lookup_keys(keys: Keys, value: str) -> list[tuple[str, str]]:
    """``(hmac hex, kid)`` of ``value`` under every kid a lookup must try: the current one first,
    then the previous ones (until ``prakerja-ops keys rekey`` has moved every item off them)."""
    return [lookup_key(keys, value, kid) for kid in keys.hmac_kids]


@dataclass(frozen=True)
class AccessClaims:
    """What an access token proves: the applicant, the refresh-token family (session) and the
    profile's ``session_generation`` at issue (tokens from before generations: 0).

    ``profile`` is the PROFILE item read by :func:`signed_in` to check the generation, for a
    route that needs it anyway (``GET /v1/me``); None on claims from :meth:`AccessTokens.check`.
    Left out of ``repr`` (it holds personal data)."""

    applicant_id: str
    family: str
    generation: int = 0
    profile: dict | None = field(default=None, repr=False, compare=False)


class AccessTokens:
    """Issues and checks short-lived access tokens (JWT, HS256, ``kid`` header).

    ``keys`` is a callable so that the cached secret can rotate under a running function: tokens
    are signed with the current kid and verify under the current or a previous kid (a token
    issued just before a rotation keeps working until it expires); any other kid is invalid.
    Expiry, issue and not-before times are checked against :func:`prakerja.clock.now`; ``iss``
    and ``aud`` must be ``issuer`` and ``audience`` (settings ``ACCESS_TOKEN_ISSUER``,
    ``ACCESS_TOKEN_AUDIENCE``), so a token minted for another service or stack with a shared key
    is refused. A token without them (issued before they existed) is TOKEN_EXPIRED_SESSION: the
    client refreshes, as after an expiry. Raises Unauthorized(TOKEN_INVALID | TOKEN_EXPIRED_SESSION)
    on a bad token."""

    def __init__(self, keys: Callable[[], Keys], lifetime_seconds: int, issuer: str, audience: str) -> None:
        self.keys = keys
        self.lifetime = lifetime_seconds
        self.issuer, self.audience = issuer, audience

    def issue(self, applicant_id: str, family: str, generation: int = 0) -> str:
        """A signed token for the applicant at session ``generation`` (the profile's
        ``session_generation``), valid ``lifetime_seconds`` from now."""
        import jwt  # PyJWT loads where tokens are handled, not in every importer of this module

        keys = self.keys()
        now = clock.epoch()
        claims = {"sub": applicant_id, "fam": family, "gen": generation, "iat": now, "nbf": now,
                  "exp": now + self.lifetime, "typ": "access", "iss": self.issuer, "aud": self.audience}
        return jwt.encode(claims, keys.jwt_key(keys.jwt_kid), algorithm="HS256", headers={"kid": keys.jwt_kid})

    def check(self, token: str) -> AccessClaims:
        """Verify signature and times; returns the claims."""
        import jwt

        try:
            kid = jwt.get_unverified_header(token).get("kid")
            keys = self.keys()
            if not isinstance(kid, str) or kid not in keys.jwt_kids:
                raise Unauthorized("TOKEN_INVALID")
            claims = jwt.decode(token, keys.jwt_key(kid), algorithms=["HS256"], issuer=self.issuer,
                                audience=self.audience,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["sub", "exp", "iat"]})
        except jwt.MissingRequiredClaimError as exc:
            # signature good (PyJWT checks it first) but no iss/aud: one of ours from before them
            if exc.claim in ("iss", "aud"):
                raise Unauthorized("TOKEN_EXPIRED_SESSION") from exc
            raise Unauthorized("TOKEN_INVALID") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("TOKEN_INVALID") from exc
        now = clock.epoch()
        if claims.get("typ") != "access" or int(claims.get("nbf", 0)) > now + 30:
            raise Unauthorized("TOKEN_INVALID")
        if int(claims["exp"]) <= now:
            raise Unauthorized("TOKEN_EXPIRED_SESSION")
        generation = claims.get("gen", 0)
        if not isinstance(generation, int) or isinstance(generation, bool):
            raise Unauthorized("TOKEN_INVALID")
        return AccessClaims(applicant_id=str(claims["sub"]), family=str(claims.get("fam", "")), generation=generation)


def signed_in(tokens: AccessTokens, store: ApplicantStore, token: str) -> AccessClaims:
    """The claims of a valid access token whose session still stands, with the profile read.

    A session ends for every token at once when the profile's ``session_generation`` moves past
    the token's (sign-out, password reset or change) or the profile is gone (erasure).

    Cost: one strongly consistent GetItem of the PROFILE (under 4 KB: 1 RCU) per authenticated
    request; strongly consistent so that a sign-out is final at once (eventually consistent
    would be 0.5 RCU and let a signed-out token through for up to about a second).
    ``GET /v1/me`` uses this read instead of its own, so status polling costs nothing more. Every
    other authenticated route (KTP upload, biodata, the test's answers, joining: about 20 calls
    per applicant, which follow the email link, so they spread over the hours after sign-up)
    reads 1 RCU more per call, beside the writes each call already makes. Sign-up itself is not
    authenticated: the 2,700 sign-ups/s of launch day add nothing here. The reads fall on one
    partition key per applicant (no hot key); see the runbook's warm-throughput item.

    Raises Unauthorized(TOKEN_INVALID | TOKEN_EXPIRED_SESSION): TOKEN_INVALID also when the
    account no longer exists, TOKEN_EXPIRED_SESSION when its session ended."""
    claims = tokens.check(token)
    profile = store.get_profile(claims.applicant_id)
    if not profile:
        raise Unauthorized("TOKEN_INVALID")
    if claims.generation != int(profile.get("session_generation", 0)):
        raise Unauthorized("TOKEN_EXPIRED_SESSION")
    return replace(claims, profile=profile)
