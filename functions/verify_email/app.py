"""verify_email (HTTP): describe and confirm emailed links; resend a verification link."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer, client_ip, trust_cloudfront
from prakerja.api.i18n import message
from prakerja.api.pages import confirm_page, page_response
from prakerja.domain.errors import DomainError
from prakerja.services.email_verification import EmailVerification
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build
from prakerja.settings import VerifyEmailSettings

w = build(VerifyEmailSettings)
links = EmailVerification(w)
signed_in = bearer(w.access_tokens, w.store)

app = create_app("prakerja verify_email")
trust_cloudfront(app, w.origin_secret)

Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@app.get("/v1/email-verifications/{token}", response_model=r.LinkDescription)
def describe(token: Token, request: Request) -> dict | Response:
    if not _wants_html(request):
        return links.describe(token)
    try:
        links.describe(token)
    except DomainError as exc:
        return page_response(confirm_page(False, message(exc.code, "id"), message(exc.code, "en")), status_code=410
                             if exc.code in {"TOKEN_USED", "TOKEN_EXPIRED"} else 404)
    return page_response(confirm_page(True, "Tekan tombol di bawah untuk mengonfirmasi alamat email Anda.",
                                      "Press the button below to confirm your email address."))


@app.post("/v1/email-verifications/{token}", response_model=r.EmailConfirmed,
          response_model_exclude_unset=True)
def confirm(token: Token) -> dict:
    return links.confirm(token)


@app.post("/v1/email-verifications", status_code=202, response_model=r.Message)
def resend(claims: Annotated[AccessClaims, Depends(signed_in)], request: Request) -> dict:
    links.resend(claims.applicant_id, client_ip(request))
    return {"message": "Tautan baru dikirim bila email belum terverifikasi. / A new link was sent if the "
                       "email is not verified yet."}


handler = lambda_handler(app)
