"""The registration switch: what a paused sign-up answers, and that an unreadable switch fails open."""

from __future__ import annotations

import logging

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from prakerja.adapters.switch import SwitchStore, SwitchUnreadable
from prakerja.api.app import create_app
from prakerja.domain.errors import InvalidInput, Unavailable
from prakerja.domain.registration import SwitchState, check_retry_after
from prakerja.services.registration import Registration


class FakeSwitch:
    """A switch store holding ``document`` (None: the parameter is missing); ``broken``: reads fail."""

    def __init__(self, document: dict | None = None, broken: bool = False) -> None:
        self.name, self.document, self.broken, self.writes = "switch", document, broken, []

    def read(self) -> dict:
        if self.broken or self.document is None:
            raise SwitchUnreadable("ThrottlingException")
        return self.document

    def read_fresh(self) -> dict | None:
        return self.document

    def write(self, document: dict) -> None:
        self.writes.append(document)
        self.document = document


def sign_up_app(switch: FakeSwitch) -> TestClient:
    """A one-route app guarded like ``POST /v1/accounts``."""
    registration = Registration(switch)
    app = create_app("test")

    @app.post("/v1/accounts", status_code=202, dependencies=[Depends(registration.ensure_open)])
    def create_account() -> dict:
        return {"message": "ok"}

    return TestClient(app)


def test_a_paused_sign_up_answers_503_with_retry_after_and_the_error_shape():
    # Given a switch paused with a retry of 600 seconds
    client = sign_up_app(FakeSwitch({"paused": True, "retry_after": 600}))
    # When someone signs up (Indonesian by default, English on request)
    reply = client.post("/v1/accounts", json={})
    english = client.post("/v1/accounts", json={}, headers={"Accept-Language": "en"})
    # Then both answer 503 REGISTRATION_PAUSED with Retry-After and the contract's one shape
    assert reply.status_code == 503 and reply.headers["Retry-After"] == "600"
    body = reply.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "REGISTRATION_PAUSED" and body["fields"] == []
    assert "Pendaftaran" in body["message"]
    assert english.status_code == 503 and english.json()["message"].startswith("Sign-up is paused")


def test_an_open_switch_lets_sign_up_through():
    client = sign_up_app(FakeSwitch({"paused": False, "retry_after": 600}))
    assert client.post("/v1/accounts", json={}).status_code == 202


@pytest.mark.parametrize("switch", [FakeSwitch(None), FakeSwitch(broken=True), FakeSwitch({"paused": "yes"}),
                                    FakeSwitch({"paused": True, "retry_after": "soon"})],
                         ids=["missing", "throttled", "not-a-bool", "bad-retry-after"])
def test_an_unreadable_switch_fails_open_and_warns(switch, caplog):
    # Given a switch that cannot be read or parsed
    client = sign_up_app(switch)
    # When someone signs up
    with caplog.at_level(logging.WARNING):
        reply = client.post("/v1/accounts", json={})
    # Then sign-up stays open, and a warning says why (no value, no personal data)
    assert reply.status_code == 202
    assert any("registration switch unreadable" in r.getMessage() for r in caplog.records)


def test_pause_stores_the_retry_and_resume_keeps_it():
    # Given an open switch
    switch = FakeSwitch({"paused": False, "retry_after": 900})
    service = Registration(switch)
    # When an operator pauses with a retry of 120 s, then resumes
    paused = service.pause(120)
    resumed = service.resume()
    # Then the switch was paused with that retry, and resuming keeps it for the next pause
    assert paused["paused"] is True and paused["retry_after"] == 120 and paused["readable"] is True
    assert switch.writes[0]["paused"] is True and switch.writes[0]["changed_at"]
    assert resumed["paused"] is False and resumed["retry_after"] == 120


def test_a_retry_outside_one_second_to_a_day_is_refused():
    with pytest.raises(InvalidInput) as refused:
        check_retry_after(0)
    assert refused.value.code == "RETRY_AFTER_INVALID"
    with pytest.raises(InvalidInput):
        check_retry_after(86_401)
    assert check_retry_after(86_400) == 86_400


def test_a_stored_retry_is_clamped_and_a_paused_state_raises_unavailable():
    state = SwitchState.parse({"paused": True, "retry_after": 10**9})
    assert state.retry_after == 86_400
    with pytest.raises(Unavailable) as paused:
        Registration(FakeSwitch(state.to_json())).ensure_open()
    assert paused.value.code == "REGISTRATION_PAUSED" and paused.value.retry_after == 86_400


class FailingProvider:
    """Stands in for Powertools' SSMProvider: every read fails (SSM throttled), and is counted."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, name: str, **options) -> dict:
        self.calls += 1
        raise RuntimeError("ThrottlingException")


def test_a_failed_read_is_not_retried_or_logged_again_within_the_cache_time(caplog):
    # Given a switch store cached for 10 s whose reads fail
    store = SwitchStore("switch", max_age=10)
    provider = store._provider = FailingProvider()
    registration = Registration(store)
    # When three sign-ups check the switch in a row
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            registration.ensure_open()
    # Then SSM was asked once, one warning was logged, and sign-up stayed open
    assert provider.calls == 1
    assert sum("registration switch unreadable" in r.getMessage() for r in caplog.records) == 1
