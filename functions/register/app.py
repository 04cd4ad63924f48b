"""register: sign-up, sign-in, sessions, the applicant's own status and self-service (HTTP API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request
from pydantic import BaseModel, Field

from prakerja.adapters.batches import BatchStore
from prakerja.adapters.switch import SwitchStore
from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer, client_ip, trust_cloudfront
from prakerja.services import status
from prakerja.services.accounts import Accounts
from prakerja.services.registration import Registration
from prakerja.services.security import AccessClaims, Passwords
from prakerja.services.self_service import SelfService
from prakerja.services.wiring import build
from prakerja.settings import RegisterSettings

# ktp_bucket: DELETE /v1/me erases every version of the KTP photos (services/privacy.py)
w = build(RegisterSettings)
accounts = Accounts(w, Passwords(w.settings.argon2_memory_kib, w.settings.argon2_iterations,
                                 w.settings.argon2_parallelism))
own = SelfService(w, accounts)
batches = BatchStore(w.settings.batches_table, w.settings.member_shards)
registration = Registration(SwitchStore(w.settings.registration_switch_parameter,
                                        w.settings.registration_switch_max_age_seconds))
signed_in = bearer(w.access_tokens, w.store)
Claims = Annotated[AccessClaims, Depends(signed_in)]
Token = Annotated[str, Path(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)]

app = create_app("prakerja register")
trust_cloudfront(app, w.origin_secret)

NEUTRAL_SIGN_UP = ("Jika alamat ini dapat menerima email, tautan konfirmasi sudah dikirim. "
                   "/ If this address can receive email, a confirmation link has been sent.")
NEUTRAL_RESET = ("Jika alamat ini terdaftar, tautan untuk mengatur ulang kata sandi sudah dikirim. "
                 "/ If this address is registered, a password reset link has been sent.")
NEUTRAL_CHANGE = ("Tautan konfirmasi dikirim ke alamat baru; perubahan berlaku setelah dikonfirmasi. "
                  "/ A confirmation link was sent to the new address; the change takes effect once confirmed.")


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


class ResetRequest(BaseModel):
    email: str = Field(max_length=320)


class NewPassword(BaseModel):
    password: str = Field(max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class EmailChange(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class PasswordConfirm(BaseModel):
    password: str = Field(max_length=1024)


class Consent(BaseModel):
    consent: bool
    consent_version: str | None = Field(default=None, max_length=40)


def _tokens(pair) -> dict:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "token_type": pair.token_type, "expires_in": pair.expires_in}


def registration_open() -> None:
    """503 REGISTRATION_PAUSED with Retry-After while an operator has paused sign-up."""
    registration.ensure_open()


@app.post("/v1/accounts", status_code=202, dependencies=[Depends(registration_open)],
          response_model=r.Message)
def create_account(body: SignUp, request: Request, idempotency_key: IdempotencyKey = None) -> dict:
    accounts.sign_up(body.email, body.password, body.consent, body.consent_version,
                     idempotency_key=idempotency_key, lambda_context=request.scope.get("aws.context"),
                     client_ip=client_ip(request))
    return {"message": NEUTRAL_SIGN_UP}


@app.post("/v1/sessions", response_model=r.Tokens)
def sign_in(body: SignIn, request: Request) -> dict:
    return _tokens(accounts.sign_in(body.email, body.password, client_ip(request)))


@app.post("/v1/sessions/refresh", response_model=r.Tokens)
def refresh(body: Refresh) -> dict:
    return _tokens(accounts.refresh(body.refresh_token))


@app.delete("/v1/sessions", status_code=204, response_model=None)
def sign_out(claims: Claims) -> None:
    accounts.sign_out(claims.applicant_id, claims.family)


@app.get("/v1/me", response_model=r.Me, response_model_exclude_unset=True)
def me(claims: Claims) -> dict:
    return status.me(w.store, batches, claims.applicant_id, profile=claims.profile)


@app.delete("/v1/me", status_code=204, response_model=None)
def delete_me(body: PasswordConfirm, claims: Claims, request: Request) -> None:
    own.delete_account(claims.applicant_id, body.password, client_ip(request))


@app.put("/v1/me/password", response_model=r.Tokens)
def change_password(body: PasswordChange, claims: Claims, request: Request) -> dict:
    return _tokens(own.change_password(claims.applicant_id, body.current_password, body.new_password,
                                       client_ip(request)))


@app.put("/v1/me/email", status_code=202, response_model=r.Message)
def change_email(body: EmailChange, claims: Claims, request: Request) -> dict:
    own.request_email_change(claims.applicant_id, body.email, body.password, client_ip(request))
    return {"message": NEUTRAL_CHANGE}


@app.delete("/v1/me/consent", response_model=r.ConsentState)
def withdraw_consent(claims: Claims) -> dict:
    return {"consent": own.withdraw_consent(claims.applicant_id)}


@app.put("/v1/me/consent", response_model=r.ConsentState)
def give_consent(body: Consent, claims: Claims) -> dict:
    return {"consent": own.give_consent(claims.applicant_id, body.consent, body.consent_version)}


@app.post("/v1/password-resets", status_code=202, response_model=r.Message)
def request_reset(body: ResetRequest, request: Request) -> dict:
    own.request_password_reset(body.email, client_ip(request))
    return {"message": NEUTRAL_RESET}


@app.get("/v1/password-resets/{token}", response_model=r.LinkDescription)
def describe_reset(token: Token) -> dict:
    return own.describe_reset(token)


@app.post("/v1/password-resets/{token}", response_model=r.PasswordReset)
def reset_password(token: Token, body: NewPassword) -> dict:
    return own.reset_password(token, body.password)


handler = lambda_handler(app)
