"""register: sign-up, sign-in, sessions and the applicant's own status (HTTP API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from prakerja.adapters.batches import BatchStore
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.services import status
from prakerja.services.accounts import Accounts
from prakerja.services.security import AccessClaims, Passwords
from prakerja.services.wiring import build

w = build("applicants_table", "batches_table", "email_queue_url", "secrets_name")
accounts = Accounts(w, Passwords(w.settings.argon2_memory_kib, w.settings.argon2_iterations,
                                 w.settings.argon2_parallelism))
batches = BatchStore(w.settings.batches_table, w.settings.member_shards)
signed_in = bearer(w.access_tokens)

app = create_app("prakerja register")


class SignUp(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    consent: bool
    consent_version: str | None = Field(default=None, max_length=40)


class SignIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class Refresh(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


def _tokens(pair) -> dict:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "token_type": pair.token_type, "expires_in": pair.expires_in}


@app.post("/v1/accounts", status_code=202)
def create_account(body: SignUp) -> dict:
    accounts.register(body.email, body.password, body.consent, body.consent_version)
    return {"message": "Jika alamat ini dapat menerima email, tautan konfirmasi sudah dikirim. "
                       "/ If this address can receive email, a confirmation link has been sent."}


@app.post("/v1/sessions")
def sign_in(body: SignIn) -> dict:
    return _tokens(accounts.sign_in(body.email, body.password))


@app.post("/v1/sessions/refresh")
def refresh(body: Refresh) -> dict:
    return _tokens(accounts.refresh(body.refresh_token))


@app.delete("/v1/sessions", status_code=204)
def sign_out(claims: Annotated[AccessClaims, Depends(signed_in)]) -> None:
    accounts.sign_out(claims.family)


@app.get("/v1/me")
def me(claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return status.me(w.store, batches, claims.applicant_id)


handler = lambda_handler(app)
