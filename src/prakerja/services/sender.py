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

**At most once per message (issue 15).** Every copy of one email carries the same ``dedupe_id``
message attribute (the outbox id, :data:`prakerja.adapters.outbox.DEDUPE_ATTRIBUTE`): the API's
post-commit dispatch, the sweeper's resend after a delete that failed, SQS's at-least-once
redelivery, a DLQ redrive. The token and the SES call run inside Powertools idempotency
(``idempotent_function`` over the Idempotency table, key ``email.sender#<sha256 of the id>``,
records kept ``idempotency_seconds``: 7 days in template.yaml, the outbox items' TTL, so any
resend of an outbox item is inside the window). The outcomes:

- first copy: a conditional PutItem writes the record INPROGRESS (expiring after the Lambda's
  remaining time, ``in_progress_expiration``), the email is sent, an UpdateItem marks it
  COMPLETED with SES's message id;
- a copy after COMPLETED: the conditional put fails and returns the record; the record is
  acknowledged without a token and without a send;
- a copy while the first is INPROGRESS: reported failed and put back for
  ``IN_PROGRESS_RETRY_SECONDS`` (``Deferred("in_progress")``), never dropped; once the first
  completes it is acknowledged, or, if the first died, it is sent after the record expired;
- the send fails (throttled, no token, SES error): Powertools deletes the record and the
  record is retried by its queue as before;
- the Idempotency table is unreachable before the send (the put fails): nothing was sent, the
  record is reported failed and comes back;
- the process dies after the put (before or during the send): the record stays INPROGRESS until
  its in-progress expiry (the invocation's remaining time, at most the 30 s timeout; without a
  Lambda context :data:`IN_PROGRESS_FALLBACK_SECONDS`), always before the queue's 180 s
  visibility timeout brings the message back, so the redelivery sends it: retried, not lost.
  If the death came after SES accepted, that redelivery is a second email: the one window
  left, milliseconds wide (exactly once is impossible across SES and DynamoDB; not lost wins);
- SES accepted but the COMPLETED update failed (the email went): the record is acknowledged,
  not retried (a retry would be the duplicate); the record stays INPROGRESS until its
  in-progress expiry, so only a further copy arriving after that (a second failure: the
  sweeper's delete failing too) could send again.

A message without ``dedupe_id`` (queued by an earlier release, or by hand) is sent without the
check, at least once as before; a malformed one is an InvalidEmailMessage. Bulk announcements
carry one too: a stable id per member and batch (``services/batches.py``), so a redelivered
fan-out chunk and SQS duplicates send one result email.

Cost: one conditional PutItem and one UpdateItem on the on-demand Idempotency table per email
sent (about 2 WCU, records under 1 KB), one PutItem (1 WCU) per duplicate acknowledged; nothing
for a record deferred before its send (bulk behind transactional). At 2 WCU per email this is
about 2.5 % of SES's price per email (docs/capacity.md).

Metrics (partner health): ``SesSent`` per email SES accepted, ``SesThrottled`` per send SES
refused for its rate.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from prakerja import clock
from prakerja.adapters.mailer import Mailer, MailQueues, SendThrottled
from prakerja.adapters.rate_limit import TokenBucket
from prakerja.observability import count, logger
from prakerja.services import mail
from prakerja.settings import SendRules

BUCKET_NAME = "ses"
#: how long a copy that met an INPROGRESS record is put back for (seconds; the function's timeout)
IN_PROGRESS_RETRY_SECONDS = 30
#: the in-progress expiry when no Lambda context was given (seconds; the function's timeout)
IN_PROGRESS_FALLBACK_SECONDS = 30
#: a dedupe id: what Outbox and mail.stable_dedupe_id make (hex), with room for other opaque ids
DEDUPE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class InvalidEmailMessage(ValueError):
    """The queued message is not a renderable email (goes to the DLQ after retries)."""


class Deferred(RuntimeError):
    """The record was put back on its queue for ``seconds`` (reported failed; not the message's
    fault). ``why``: ``no_token``, ``ses_throttled``, ``transactional_first`` or ``in_progress``
    (another copy of the same email is being sent)."""

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
    """One received record: its body, where it came from, how often it was received, and its
    ``dedupe_id`` message attribute (``None`` when it has none)."""

    body: str
    receipt_handle: str
    source_arn: str
    receive_count: int = 1
    dedupe_id: str | None = None


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


def checked_dedupe_id(value: str | None) -> str | None:
    """``value`` when it is a well-formed dedupe id (:data:`DEDUPE_ID`), ``None`` when absent.
    Raises InvalidEmailMessage for anything else (empty, too long, other characters)."""
    if value is None:
        return None
    if not isinstance(value, str) or not DEDUPE_ID.fullmatch(value):
        raise InvalidEmailMessage("malformed dedupe_id")
    return value


class _NoLambdaContext:
    """Stands in for a Lambda context outside Lambda: an in-progress record expires after
    :data:`IN_PROGRESS_FALLBACK_SECONDS`."""

    def get_remaining_time_in_millis(self) -> int:
        return IN_PROGRESS_FALLBACK_SECONDS * 1000


def backoff(base: int, receive_count: int, cap: int) -> int:
    """``base`` doubled for every earlier receive, at most ``cap`` (whole seconds, >= 1)."""
    return max(1, min(cap, base * 2 ** min(max(receive_count, 1) - 1, 16)))


class EmailSender:
    """Sends queued emails within the shared SES rate, transactional first, once per dedupe id.

    ``sleep`` waits for a token (``time.sleep`` on Lambda; tests pass one that moves their
    clock). ``records``: the idempotency store (``adapters.idempotency.persistence_layer`` of
    the Idempotency table), records kept ``dedupe_seconds``; without it (unit tests) every copy
    is sent."""

    def __init__(self, mailer: Mailer, bucket: TokenBucket, queues: MailQueues, policy: SendPolicy,
                 sleep: Callable[[float], None] = time.sleep, records: BasePersistenceLayer | None = None,
                 dedupe_seconds: int = 7 * 24 * 3600) -> None:
        self.mailer = mailer
        self.bucket = bucket
        self.queues = queues
        self.policy = policy
        self.sleep = sleep
        self._backlog: tuple[float, int] | None = None  # (read at, epoch seconds), count
        self.dedupe = IdempotencyConfig(event_key_jmespath="dedupe_id", expires_after_seconds=dedupe_seconds,
                                        hash_function="sha256")
        self.dedupe.register_lambda_context(_NoLambdaContext())
        self._send_once = None if records is None else idempotent_function(
            self._send, data_keyword_argument="message", config=self.dedupe, persistence_store=records,
            key_prefix="email.sender")

    def invoked(self, lambda_context: Any) -> None:
        """The invocation's Lambda context: an INPROGRESS record written in it expires when the
        invocation would time out (call at the start of every invocation)."""
        self.dedupe.register_lambda_context(lambda_context if lambda_context is not None else _NoLambdaContext())

    def handle(self, item: QueuedEmail) -> str:
        """Send one record's email, unless a copy with its ``dedupe_id`` was sent; returns SES's
        message id (the first copy's, for a duplicate).

        Raises InvalidEmailMessage (malformed, or a malformed dedupe id), Deferred (put back on
        its queue for a while; ``in_progress`` while another copy is being sent), Powertools'
        IdempotencyPersistenceLayerError (the record could not be written: nothing was sent) or
        the mailer's errors (the queue's visibility timeout applies)."""
        to, rendered = prepare(item.body)
        dedupe_id = checked_dedupe_id(item.dedupe_id)
        if self.queues.is_bulk(item.source_arn) and self.transactional_waiting():
            self._defer(item, "transactional_first",
                        backoff(self.policy.bulk_defer, item.receive_count, self.policy.bulk_defer_max))
        sent: list[str] = []
        if dedupe_id is None or self._send_once is None:
            return self._send(message={}, item=item, to=to, rendered=rendered, sent=sent)
        try:
            message_id = self._send_once(message={"dedupe_id": dedupe_id}, item=item, to=to, rendered=rendered,
                                         sent=sent)
        except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
            self._defer(item, "in_progress", IN_PROGRESS_RETRY_SECONDS)
        except IdempotencyPersistenceLayerError:
            if not sent:  # the INPROGRESS record was not written, or a failed send's not removed
                raise
            # SES accepted; only the COMPLETED update failed: acknowledge (a retry would resend)
            logger.warning("email sent; its dedupe record was not completed")
            return sent[0]
        if not sent:
            logger.info("duplicate email acknowledged, not sent again")
        return str(message_id)

    def _send(self, message: dict, item: QueuedEmail, to: str, rendered: mail.Rendered, sent: list[str]) -> str:
        """Take a token and send (``message``: the idempotency payload); SES's message id is
        also appended to ``sent`` (so a failure after the send is told from one before it)."""
        self._take_token(item)
        try:
            message_id = self.mailer.send(to, rendered.subject, rendered.text, rendered.html)
        except SendThrottled:
            count("SesThrottled")
            self._defer(item, "ses_throttled",
                        backoff(self.policy.throttle_backoff, item.receive_count, self.policy.backoff_max))
        sent.append(message_id)
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
