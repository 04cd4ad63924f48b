"""SES (v2) sending and the email queues' controls: the only code that calls SES or changes an
email message's visibility.

The SES client makes exactly one attempt per send (no botocore retries): every attempt must be
paid for with a token of the shared bucket, so a throttled send goes back to its queue instead
of being retried behind the bucket's back (see :mod:`prakerja.services.sender`).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from prakerja.adapters.aws import client, error_code

# SES v1 and v2 spellings of "too fast" (per-second rate) and "quota used up" (24-hour quota)
THROTTLE_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceeded",
                            "LimitExceededException", "MaxSendRateExceeded"})

_SES_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def ascii_address(address: str) -> str:
    """``address`` with its domain in IDNA (Punycode) form, as SES requires (``a@bücher.de`` ->
    ``a@xn--bcher-kva.de``); an ASCII address is returned unchanged. New addresses have ASCII
    local parts (``prakerja.domain.accounts.normalise_email``)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    import idna  # email-validator's own dependency; only for the rare IDN domain

    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address


class SendThrottled(RuntimeError):
    """SES refused the send for its rate or quota (``code`` is SES's error code); retry later."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Mailer:
    """Sends one email with a plain-text and an HTML part from the configured sender, through
    the configuration set when one is given (it publishes bounces and complaints to SNS)."""

    def __init__(self, sender: str, configuration_set: str = "") -> None:
        self.sender = sender
        self.configuration_set = configuration_set
        self._client: Any = None

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        """Send and return SES's message id. Raises SendThrottled, or botocore errors otherwise."""
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [ascii_address(to)]},
            "Content": {"Simple": {
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
            }},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self._send_email(request)
        except Exception as exc:
            code = error_code(exc)
            if code in THROTTLE_CODES:
                raise SendThrottled(code) from exc
            raise
        return str(response.get("MessageId", ""))

    def _send_email(self, request: dict[str, Any]) -> dict[str, Any]:
        """The one SES call (tests replace it with a stub that throttles some sends)."""
        if self._client is None:
            self._client = boto3.session.Session().client("sesv2", config=_SES_CONFIG)
        return dict(self._client.send_email(**request))


def _queue_name(url_or_arn: str) -> str:
    """The queue name at the end of a queue URL (``.../name``) or ARN (``...:name``)."""
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class MailQueues:
    """The transactional and bulk email queues as the sender sees them: which queue a record
    came from, the transactional backlog, and putting a record back for a while."""

    def __init__(self, transactional_url: str, bulk_url: str) -> None:
        self.transactional_url = transactional_url
        self.bulk_url = bulk_url
        self._urls = {_queue_name(u): u for u in (transactional_url, bulk_url) if u}

    def is_bulk(self, source_arn: str) -> bool:
        """Whether a record came from the bulk queue (anything else counts as transactional)."""
        return bool(self.bulk_url) and _queue_name(source_arn) == _queue_name(self.bulk_url)

    def transactional_backlog(self) -> int:
        """Messages waiting (visible) on the transactional queue (SQS's approximate count)."""
        attributes = client("sqs").get_queue_attributes(QueueUrl=self.transactional_url,
                                                         AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def defer(self, source_arn: str, receipt_handle: str, seconds: int) -> bool:
        """Make a received record visible again in ``seconds`` (0..43200). False when that was
        not possible (unknown queue, stale receipt handle): the queue's own visibility timeout
        then applies."""
        url = self._urls.get(_queue_name(source_arn))
        if not url:
            return False
        try:
            client("sqs").change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle,
                                                    VisibilityTimeout=max(0, min(int(seconds), 43200)))
        except Exception as exc:
            if error_code(exc):
                return False
            raise
        return True
