"""The email sender: renders queued email messages and sends them through SES, at SES's pace,
transactional mail first.

Each SQS record is one message (``services.mail`` body). Nothing is dropped: every record either
reaches SES or is reported failed and comes back from its queue (finally to its DLQ).

**Rate.** Before each send the sender takes a token from the shared bucket ``ses`` in the Limits
table (:class:`prakerja.adapters.rate_limit.TokenBucket`, ``SES_SEND_RATE`` per second, bursts of
``SES_BURST``, default one second's worth), so all concurrent instances together stay within
SES's send rate: in every window of W seconds, sends <= rate x W + burst. Without a token the
sender waits in-process (an injectable ``sleep``) for at most ``SES_MAX_WAIT_SECONDS`` per
record; past that the record is reported failed with its visibility set to the wait, so it
comes back when a token will exist instead of holding the Lambda. SES throttling
(``Throttling``, ``TooManyRequestsException``, ``LimitExceeded``...) is reported failed with an
exponential backoff by receive count (``SES_THROTTLE_BACKOFF_SECONDS`` doubling, at most
``SES_BACKOFF_MAX_SECONDS``); the SES client itself never retries, so no attempt skips the
bucket. A malformed message is reported failed as is (the queue's visibility timeout spaces the
retries; maxReceiveCount sends it to the DLQ).

**Transactional first (the choice).** Verification and reset mail (``EmailQueue``) and
announcements (``BulkEmailQueue``) are two event sources of this one function and share the one
bucket. Transactional records are always served. A bulk record is sent only when the
transactional queue has no visible backlog (``ApproximateNumberOfMessages``, read at most once
per ``EMAIL_BACKLOG_CACHE_SECONDS`` per instance); otherwise the bulk record is reported failed
with a short visibility (``BULK_DEFER_SECONDS``, doubling with its receive count up to
``BULK_DEFER_MAX_SECONDS``) and comes back later. So a bulk send can run ahead of a verification
email only by what was already in flight when that email was queued (at most the cache period
at the send rate, plus one batch). Transactional messages in flight (being sent, or backing off
after a throttle) are not counted as backlog: they are served by their own consumer. Because a
deferral is a receive, the bulk queue's maxReceiveCount is set high in template.yaml so that
announcements outlast a long transactional peak before reaching the DLQ (redrive from there).
The alternatives rejected: a priority inside one queue (SQS has none), pausing the bulk event
source mapping (slow to take effect, a control-plane call under load), and re-queueing deferred
copies (a second message per deferral, duplicates when the delete fails).

Metrics (partner health): ``SesSent`` per email SES accepted, ``SesThrottled`` per send SES
refused for its rate.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from prakerja import clock
from prakerja.adapters.mailer import Mailer, MailQueues, SendThrottled
from prakerja.adapters.rate_limit import TokenBucket
from prakerja.observability import count
from prakerja.services import mail
from prakerja.settings import SendRules

BUCKET_NAME = "ses"


class InvalidEmailMessage(ValueError):
    """The queued message is not a renderable email (goes to the DLQ after retries)."""


class Deferred(RuntimeError):
    """The record was put back on its queue for ``seconds`` (reported failed; not the message's
    fault). ``why``: ``no_token``, ``ses_throttled`` or ``transactional_first``."""

    def __init__(self, why: str, seconds: int) -> None:
        super().__init__(f"{why}: back in {seconds} s")
        self.why = why
        self.seconds = seconds


@dataclass(frozen=True)
class SendPolicy:
    """The sender's pacing (seconds unless named otherwise), from the settings part
    :class:`~prakerja.settings.SendRules` (where the defaults are: ``SendPolicy.from_settings(SendRules())``)."""

    rate: float
    burst: float
    max_wait: float
    throttle_backoff: int
    backoff_max: int
    bulk_defer: int
    bulk_defer_max: int
    backlog_cache: float

    @classmethod
    def from_settings(cls, s: SendRules) -> SendPolicy:
        # a bucket must hold at least one whole token, or nothing is ever sent
        return cls(rate=s.ses_send_rate, burst=max(1.0, s.ses_burst or s.ses_send_rate),
                   max_wait=s.ses_max_wait_seconds, throttle_backoff=s.ses_throttle_backoff_seconds,
                   backoff_max=s.ses_backoff_max_seconds,
                   bulk_defer=s.bulk_defer_seconds, bulk_defer_max=s.bulk_defer_max_seconds,
                   backlog_cache=s.email_backlog_cache_seconds)


@dataclass(frozen=True)
class QueuedEmail:
    """One received record: its body, where it came from and how often it was received."""

    body: str
    receipt_handle: str
    source_arn: str
    receive_count: int = 1


def parse(body: str) -> dict[str, Any]:
    """Validate a queued email body; raises InvalidEmailMessage."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidEmailMessage("not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("to"), str) or not isinstance(data.get("params"), dict):
        raise InvalidEmailMessage("missing fields")
    return data


def prepare(body: str) -> tuple[str, mail.Rendered]:
    """The recipient and the rendered email of a queued body. Raises InvalidEmailMessage."""
    data = parse(body)
    try:
        rendered = mail.render(str(data.get("template")), data["params"])
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidEmailMessage("unknown template or parameters") from exc
    return data["to"], rendered


def backoff(base: int, receive_count: int, cap: int) -> int:
    """``base`` doubled for every earlier receive, at most ``cap`` (whole seconds, >= 1)."""
    return max(1, min(cap, base * 2 ** min(max(receive_count, 1) - 1, 16)))


class EmailSender:
    """Sends queued emails within the shared SES rate, transactional first.

    ``sleep`` waits for a token (``time.sleep`` on Lambda; tests pass one that moves their
    clock)."""

    def __init__(self, mailer: Mailer, bucket: TokenBucket, queues: MailQueues, policy: SendPolicy,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.mailer = mailer
        self.bucket = bucket
        self.queues = queues
        self.policy = policy
        self.sleep = sleep
        self._backlog: tuple[float, int] | None = None  # (read at, epoch seconds), count

    def handle(self, item: QueuedEmail) -> str:
        """Send one record's email; returns SES's message id.

        Raises InvalidEmailMessage (malformed), Deferred (put back on its queue for a while) or
        the mailer's errors (the queue's visibility timeout applies)."""
        to, rendered = prepare(item.body)
        if self.queues.is_bulk(item.source_arn) and self.transactional_waiting():
            self._defer(item, "transactional_first",
                        backoff(self.policy.bulk_defer, item.receive_count, self.policy.bulk_defer_max))
        self._take_token(item)
        try:
            message_id = self.mailer.send(to, rendered.subject, rendered.text, rendered.html)
        except SendThrottled:
            count("SesThrottled")
            self._defer(item, "ses_throttled",
                        backoff(self.policy.throttle_backoff, item.receive_count, self.policy.backoff_max))
        count("SesSent")
        return message_id

    def transactional_waiting(self) -> bool:
        """Whether verification/reset mail is waiting (cached ``backlog_cache`` seconds)."""
        now = clock.now().timestamp()
        if self._backlog is None or now - self._backlog[0] >= self.policy.backlog_cache or now < self._backlog[0]:
            self._backlog = (now, self.queues.transactional_backlog())
        return self._backlog[1] > 0

    def _take_token(self, item: QueuedEmail) -> None:
        waited = 0.0
        while True:
            got = self.bucket.try_acquire()
            if got.ok:
                return
            wait = max(got.wait_seconds, 0.001)
            if waited + wait > self.policy.max_wait:
                self._defer(item, "no_token", math.ceil(wait))
            self.sleep(wait)
            waited += wait

    def _defer(self, item: QueuedEmail, why: str, seconds: int) -> NoReturn:
        self.queues.defer(item.source_arn, item.receipt_handle, seconds)
        raise Deferred(why, seconds)
