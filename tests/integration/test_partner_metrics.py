"""Partner health as metrics: the ministry's calls, errors and circuit openings from the NIK worker,
SES's sends, throttles, bounces and complaints from the sender and the bounce handler."""

from __future__ import annotations

import json

import pytest

from prakerja.adapters.mailer import SendThrottled
from prakerja.adapters.rate_limit import Acquired
from prakerja.domain.nik import build_nik
from prakerja.observability import flush
from prakerja.services import mail
from prakerja.services.sender import Deferred, EmailSender, QueuedEmail, SendPolicy
from prakerja.settings import SendRules
from tests.integration.test_biodata_nik import DOB, register_person
from tests.integration.test_funnel import emitted
from tests.integration.test_nik_worker import deliver, submit, tune
from tests.integration.test_sender_bounces import BOUNCES, bounce, complaint, publish, topic  # noqa: F401


def counts(capsys) -> dict[str, float]:
    values, _, _ = emitted(capsys.readouterr().out)
    return {name: sum(v) for name, v in values.items()} | {"_latencies": len(values.get("MinistryLatency", []))}


def test_a_ministry_outage_shows_as_errors_and_one_circuit_opening(stack, ministry, published):
    # Given three pending checks and a breaker that opens after two failures in a row
    tune(stack, ministry_circuit_failures=2, ministry_circuit_cooldown_seconds=30, ministry_backoff_base_seconds=0,
         ministry_burst=5, ministry_token_wait_seconds=0)
    for i in range(3):
        nik = build_nik("32.01.01", DOB, "M", i + 1)
        register_person(ministry, nik=nik)
        submit(stack, f"padam{i}@example.id", nik=nik)
    ministry.simulator.settings.update({"outage": True})
    published.readouterr()
    # When the checks are delivered one by one during the outage
    for _ in range(3):
        deliver(stack, max_messages=1)
    # Then two calls were made, both failed with their latency, the breaker opened once, and the
    # third check (held back by the open breaker) made no call
    got = counts(published)
    assert (got.get("MinistryCall"), got.get("MinistryError"), got.get("MinistryCircuitOpen")) == (2, 2, 1)
    assert got["_latencies"] == 2


def test_ses_bounces_and_complaints_are_counted_per_recipient(stack, topic, published):  # noqa: F811
    # When SES reports a hard bounce, a soft bounce and a complaint
    publish(topic, bounce("hilang@example.id"))
    publish(topic, bounce("penuh@example.id", bounce_type="Transient"))
    publish(topic, complaint("marah@example.id"))
    stack.drain("BounceQueue", BOUNCES)
    # Then the hard bounce and the complaint are counted; a soft bounce is not a bounce
    got = counts(published)
    assert (got.get("SesBounce"), got.get("SesComplaint")) == (1, 1)


class _Mailer:
    def __init__(self, throttled: bool) -> None:
        self.throttled = throttled

    def send(self, to, subject, text, html) -> str:
        if self.throttled:
            raise SendThrottled("Throttling")
        return "ses-message-id"


class _Bucket:
    def try_acquire(self) -> Acquired:
        return Acquired(True)


class _Queues:
    def is_bulk(self, arn: str) -> bool:
        return False

    def defer(self, arn: str, receipt: str, seconds: int) -> None:
        pass


def test_ses_sends_and_throttles_are_counted(published):
    # Given a queued verification email
    body = json.dumps(mail.email_message(mail.TRANSACTIONAL, "verify_email", "a@example.id",
                                         {"link": "https://x/verifikasi-email#token=t"}, ref="r").body)
    item = QueuedEmail(body, "receipt", "arn:aws:sqs:ap-southeast-3:0:EmailQueue")
    # When SES accepts it once and refuses the next one for its rate
    EmailSender(_Mailer(False), _Bucket(), _Queues(), SendPolicy.from_settings(SendRules())).handle(item)
    with pytest.raises(Deferred):
        EmailSender(_Mailer(True), _Bucket(), _Queues(), SendPolicy.from_settings(SendRules())).handle(item)
    flush()  # what the sender's handler does when it ends
    metrics_out = counts(published)
    # Then one send and one throttle are counted
    assert (metrics_out.get("SesSent"), metrics_out.get("SesThrottled")) == (1, 1)
