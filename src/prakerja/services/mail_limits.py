"""Limits on the emails a request can cause (issue 16 item 3, issue 15 item 7).

Every request that can queue an email to an address the caller types (sign-up, email change,
password reset, verification resend) passes two limits, in windows of ``mail_window_seconds``
(1 hour), counted in the Limits table (:class:`prakerja.adapters.counters.WindowCounters`,
TTL'd items):

* **per client address** (the caller's address from :func:`prakerja.api.auth.client_ip`):
  ``mail_max_per_client`` requests that may cause email, of every kind together. Over it the
  answer is 429 ``TOO_MANY_ATTEMPTS`` with Retry-After. Counted for every such request, whether
  or not the address has an account, so the 429 reveals nothing about accounts. The default is
  high because carrier NAT puts many Indonesian phones behind one address; it bounds one
  address's share of the SES rate, the per-target limit protects each inbox.
* **per target address** (the normalised email, as an HMAC): ``mail_max_per_target`` emails
  of one kind. Over it the request is answered exactly as before (the same neutral 202) and
  no email is queued, so the limit reveals nothing either.

Each check is one conditional UpdateItem (1 write, no read); a request pays 1 write for the
client limit and 1 per target it would mail.
"""

from __future__ import annotations

from collections.abc import Callable

from prakerja.adapters.counters import WindowCounters
from prakerja.adapters.secrets import Keys
from prakerja.domain.errors import TooMany
from prakerja.services.security import lookup_key
from prakerja.settings import Settings


class MailLimits:
    """The per-client and per-target email limits; ``keys`` gives the HMAC key for the subjects."""

    def __init__(self, table_name: str, keys: Callable[[], Keys], max_per_target: int, max_per_client: int,
                 window_seconds: int) -> None:
        self.keys, self.max_per_target, self.max_per_client = keys, max_per_target, max_per_client
        self.client = WindowCounters(table_name, "mail-client", window_seconds)
        self.target = WindowCounters(table_name, "mail-target", window_seconds)

    @classmethod
    def from_settings(cls, settings: Settings, keys: Callable[[], Keys]) -> MailLimits:
        """The limits configured by ``mail_max_per_target``, ``mail_max_per_client`` and
        ``mail_window_seconds`` (counters in ``limits_table``)."""
        return cls(settings.limits_table, keys, settings.mail_max_per_target, settings.mail_max_per_client,
                   settings.mail_window_seconds)

    def client_request(self, client_ip: str) -> None:
        """Count one request that may cause email from ``client_ip``.

        Raises TooMany(TOO_MANY_ATTEMPTS, retry_after = seconds to the window's end) when the
        address has reached ``max_per_client`` in this window (nothing is counted then)."""
        if self.client.take(lookup_key(self.keys(), f"mail-client|{client_ip}")[0], self.max_per_client) is None:
            raise TooMany("TOO_MANY_ATTEMPTS", retry_after=self.client.retry_after())

    def target_allows(self, kind: str, normalised_email: str) -> bool:
        """Take one email of ``kind`` (a template name) to ``normalised_email``; False (nothing
        counted) when that address has had ``max_per_target`` of them in this window."""
        subject = lookup_key(self.keys(), f"mail-target|{kind}|{normalised_email}")[0]
        return self.target.take(subject, self.max_per_target) is not None
