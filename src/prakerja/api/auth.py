"""The signed-in applicant as a FastAPI dependency (``Authorization: Bearer <access token>``)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from prakerja.adapters.applicants import ApplicantStore
from prakerja.domain.errors import Unauthorized
from prakerja.services.security import AccessClaims, AccessTokens, signed_in


def bearer(tokens: AccessTokens, store: ApplicantStore) -> Callable[[Request], AccessClaims]:
    """A dependency returning the caller's claims (with the profile, see
    :func:`prakerja.services.security.signed_in`: one profile read per request); raises
    Unauthorized(UNAUTHENTICATED) without a token, TOKEN_INVALID or TOKEN_EXPIRED_SESSION for a
    bad token, an erased account or an ended session."""

    def dependency(request: Request) -> AccessClaims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("UNAUTHENTICATED")
        return signed_in(tokens, store, token.strip())

    return dependency


def client_ip(request: Request) -> str:
    """The caller's address as API Gateway saw it (requestContext.http.sourceIp)."""
    event = request.scope.get("aws.event") or {}
    return str(event.get("requestContext", {}).get("http", {}).get("sourceIp") or "0.0.0.0")
