"""Fixtures for integration tests: a fresh moto world per test, resources from template.yaml,
the real handlers, and a movable clock."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))

from harness import Stack, start_stack  # noqa: E402
from prakerja_local.ministry import MinistryServer  # noqa: E402

from prakerja import clock as prakerja_clock  # noqa: E402
from prakerja.adapters import aws as aws_adapter  # noqa: E402


class MovableClock:
    """A test clock: starts at a fixed UTC time and moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Iterator[MovableClock]:
    c = MovableClock(datetime(2026, 4, 11, 3, 0, tzinfo=UTC))
    prakerja_clock.set_source(lambda: c.now)
    yield c
    prakerja_clock.set_source(None)


@pytest.fixture(scope="session")
def ministry() -> Iterator[MinistryServer]:
    """The ministry simulator on a free loopback port (state reset per test by ``stack``)."""
    server = MinistryServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(clock: MovableClock, ministry: MinistryServer) -> Iterator[Stack]:
    ministry.simulator.__init__()  # fresh population, counters and settings
    with mock_aws():
        aws_adapter.reset()
        yield start_stack({"MinistryUrl": ministry.url})
        aws_adapter.reset()


def mailbox() -> list[dict]:
    """Emails SES accepted in this moto world: ``[{to, subject, body}]``."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["ap-southeast-3"]
    return [{"to": m.destinations["ToAddresses"][0] if isinstance(m.destinations, dict) else m.destinations[0],
             "subject": m.subject, "body": m.body} for m in backend.sent_messages]


def link_token(body: str) -> str:
    """The token in an emailed verification link."""
    found = re.search(r"/v1/email-verifications/([A-Za-z0-9_\-]+)", body)
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
