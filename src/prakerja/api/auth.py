"""The signed-in applicant as a FastAPI dependency (``Authorization: Bearer <access token>``)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from prakerja.domain.errors import Unauthorized
from prakerja.services.security import AccessClaims, AccessTokens


def bearer(tokens: AccessTokens) -> Callable[[Request], AccessClaims]:
    """A dependency returning the caller's claims; raises Unauthorized(UNAUTHENTICATED) without a token."""

    def dependency(request: Request) -> AccessClaims:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("UNAUTHENTICATED")
        return tokens.check(token.strip())

    return dependency


def client_ip(request: Request) -> str:
    """The caller's address as API Gateway saw it (requestContext.http.sourceIp)."""
    event = request.scope.get("aws.event") or {}
    return str(event.get("requestContext", {}).get("http", {}).get("sourceIp") or "0.0.0.0")
