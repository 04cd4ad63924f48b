"""Builds the objects a function needs from its settings, once per cold start.

Functions call :func:`build` at module scope; the result holds the repositories, the outbox and
the key material (fetched lazily and cached by Powertools Parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.funnel import FunnelCounters
from prakerja.adapters.outbox import Outbox
from prakerja.adapters.secrets import Keys, load_keys, load_text
from prakerja.services.funnel import Funnel
from prakerja.settings import Settings

if TYPE_CHECKING:
    from prakerja.services.security import AccessTokens


@dataclass
class Wiring:
    """Shared dependencies for one function (built from :class:`Settings`)."""

    settings: Settings

    @cached_property
    def store(self) -> ApplicantStore:
        return ApplicantStore(self.settings.applicants_table)

    @cached_property
    def funnel(self) -> Funnel:
        """Funnel metrics and the live counters (in the Applicants table)."""
        return Funnel(FunnelCounters(self.settings.applicants_table))

    @cached_property
    def outbox(self) -> Outbox:
        s = self.settings
        urls = {"email": s.email_queue_url, "bulk_email": s.bulk_email_queue_url, "nik": s.nik_queue_url}
        return Outbox(s.applicants_table, {k: v for k, v in urls.items() if v}, shards=s.outbox_shards)

    def keys(self) -> Keys:
        """The current key material (cached for a few minutes by Powertools)."""
        return load_keys(self.settings.secrets_name)

    def origin_secret(self) -> str:
        """The value CloudFront adds to requests for the API (``origin_secret_name``; cached
        for a few minutes), or "" when no secret is configured (then no header is trusted)."""
        return load_text(self.settings.origin_secret_name) if self.settings.origin_secret_name else ""

    @cached_property
    def access_tokens(self) -> AccessTokens:
        """Access tokens (JWT); imported here so the queue and schedule workers, which never see a
        token, do not load PyJWT and cryptography at cold start (``make bench-coldstart``)."""
        from prakerja.services.security import AccessTokens

        s = self.settings
        return AccessTokens(self.keys, s.access_token_seconds, s.access_token_issuer, s.access_token_audience)


def build(*required: str) -> Wiring:
    """Load settings (failing the cold start if any of ``required`` is missing) and wire them."""
    return Wiring(Settings.load(*required))
