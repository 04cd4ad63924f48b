"""verify_email (HTTP): describe and confirm emailed links; resend a verification link."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.services.email_verification import EmailVerification
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build

w = build("applicants_table", "email_queue_url", "secrets_name")
links = EmailVerification(w)
signed_in = bearer(w.access_tokens)

app = create_app("prakerja verify_email")

Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]


@app.get("/v1/email-verifications/{token}")
def describe(token: Token) -> dict:
    return links.describe(token)


@app.post("/v1/email-verifications/{token}")
def confirm(token: Token) -> dict:
    return links.confirm(token)


@app.post("/v1/email-verifications", status_code=202)
def resend(claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    links.resend(claims.applicant_id)
    return {"message": "Tautan baru dikirim bila email belum terverifikasi. / A new link was sent if the "
                       "email is not verified yet."}


handler = lambda_handler(app)
