"""The signed-in applicant as a FastAPI dependency (``Authorization: Bearer <access token>``),
and the caller's address that every per-client limit is keyed on (:func:`client_ip`)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from fastapi import FastAPI, Request

from prakerja.adapters.applicants import ApplicantStore
from prakerja.domain.errors import Unauthorized
from prakerja.observability import logger
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


# CloudFront adds ORIGIN_HEADER (value: the OriginVerifySecret of template.yaml) to every request
# it sends to the API origin, overwriting any header of that name a viewer sent, and forwards
# VIEWER_HEADER ("<viewer ip>:<port>", set by CloudFront itself) through the /v1/* behaviour's
# origin request policy. See docs/runbook.md, "Client addresses behind CloudFront".
ORIGIN_HEADER = "x-prakerja-origin"
VIEWER_HEADER = "cloudfront-viewer-address"


def trust_cloudfront(app: FastAPI, origin_secret: Callable[[], str]) -> None:
    """Let :func:`client_ip` believe CloudFront's viewer address on requests that carry
    ``origin_secret()`` (read per request; cache it in the callable) in ORIGIN_HEADER."""
    app.state.origin_secret = origin_secret


def viewer_ip(value: str) -> str | None:
    """The address of a CloudFront-Viewer-Address value (``198.51.100.7:443``,
    ``2001:db8::1:443``), normalised; None when it is not ``<ip>:<port>``."""
    host, _, port = value.strip().rpartition(":")
    if not port.isdigit():
        return None
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def client_ip(request: Request) -> str:
    """The caller's real address: the one rule for every per-client limit.

    API Gateway's ``requestContext.http.sourceIp`` is the address that opened the connection to
    API Gateway: behind CloudFront that is a CloudFront edge server shared by every viewer it
    serves, so limits keyed on it would let one edge lock out everyone behind it. CloudFront's
    ``CloudFront-Viewer-Address`` is believed only when the request also carries the origin secret
    in ORIGIN_HEADER, which only the distribution adds (a caller that goes to the execute-api
    endpoint directly can forge the viewer header, not the secret); otherwise, and when the app
    was not told to trust CloudFront (:func:`trust_cloudfront`), it is ``sourceIp``. Never any
    other header (X-Forwarded-For is client-controlled). Costs no AWS call beyond the secret's
    cached read (Powertools, 5 minutes)."""
    event = request.scope.get("aws.event") or {}
    source = str(event.get("requestContext", {}).get("http", {}).get("sourceIp") or "0.0.0.0")
    secret = getattr(request.app.state, "origin_secret", None)
    presented = request.headers.get(ORIGIN_HEADER)
    if secret is None or not presented:
        return source
    try:
        expected = secret()
    except Exception as exc:  # unreadable secret: the edge address is the safe (stricter) answer
        logger.warning("origin secret unreadable", extra={"error_type": type(exc).__name__})
        return source
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        return source
    return viewer_ip(request.headers.get(VIEWER_HEADER, "")) or source
