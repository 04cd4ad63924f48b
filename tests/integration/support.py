"""Helpers shared by the integration tests (journeys through the real handlers)."""

from __future__ import annotations

import re

from tests.integration.harness import Stack


def mailbox() -> list[dict]:
    """Emails SES accepted in this moto world: ``[{to, subject, body}]``."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["ap-southeast-3"]
    return [{"to": m.destinations["ToAddresses"][0] if isinstance(m.destinations, dict) else m.destinations[0],
             "subject": m.subject, "body": m.body} for m in backend.sent_messages]


def link_token(body: str) -> str:
    """The token in an emailed verification link."""
    found = re.search(r"(?:/verifikasi-email#token=|/v1/email-verifications/)([A-Za-z0-9_\-]+)", body)
    assert found, "no verification link in the email"
    return found.group(1)


PASSWORD = "kucing-oranye-77"


def sign_up(stack: Stack, email: str, password: str = PASSWORD) -> None:
    r = stack.call("POST", "/v1/accounts", {"email": email, "password": password, "consent": True})
    assert r.status == 202, r.body


def sign_in(stack: Stack, email: str, password: str = PASSWORD) -> dict:
    r = stack.call("POST", "/v1/sessions", {"email": email, "password": password})
    assert r.status == 200, r.body
    return r.body


def verified_applicant(stack: Stack, email: str) -> str:
    """Sign up, confirm the emailed link, sign in; returns the access token."""
    sign_up(stack, email)
    stack.drain("EmailQueue", "EmailSenderFunction")
    mail = [m for m in mailbox() if m["to"].lower() == email.lower()][-1]
    confirmed = stack.call("POST", f"/v1/email-verifications/{link_token(mail['body'])}")
    assert confirmed.status == 200, confirmed.body
    return sign_in(stack, email)["access_token"]
