"""Builds the objects a function needs from its settings, once per cold start.

Functions call :func:`build` with their settings model at module scope; the result holds the
repositories, the outbox and the key material (fetched lazily and cached by Powertools
Parameters). Each dependency reads only the settings of the parts it needs, when first used, so a
function whose model lacks a part never builds what needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.funnel import FunnelCounters
from prakerja.adapters.outbox import Outbox
from prakerja.adapters.secrets import Keys, load_keys, load_text
from prakerja.services.funnel import Funnel
from prakerja.settings import FunctionSettings

if TYPE_CHECKING:
    from prakerja.services.security import AccessTokens


@dataclass
class Wiring:
    """Shared dependencies for one function, built from its settings model (a
    :class:`~prakerja.settings.FunctionSettings`, or :class:`~prakerja.settings.Settings` for
    the operator CLI)."""

    #: the function's model: services read the fields of the parts it is composed of
    settings: Any

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
        # the queues this function's model names (and its policy grants); a model without a
        # queue's part sends nothing there
        urls = {k: getattr(s, f"{k}_queue_url", "") for k in ("email", "bulk_email", "nik")}
        return Outbox(s.applicants_table, {k: v for k, v in urls.items() if v}, shards=s.outbox_shards)

    def keys(self) -> Keys:
        """The current key material (cached for a few minutes by Powertools)."""
        return load_keys(self.settings.secrets_name)

    def origin_secret(self) -> str:
        """The value CloudFront adds to requests for the API (``origin_secret_name``; cached
        for a few minutes), or "" when no secret is configured (then no header is trusted)."""
        name = getattr(self.settings, "origin_secret_name", "")
        return load_text(name) if name else ""

    @cached_property
    def access_tokens(self) -> AccessTokens:
        """Access tokens (JWT); imported here so the queue and schedule workers, which never see a
        token, do not load PyJWT and cryptography at cold start (``make bench-coldstart``)."""
        from prakerja.services.security import AccessTokens

        s = self.settings
        return AccessTokens(self.keys, s.access_token_seconds, s.access_token_issuer, s.access_token_audience)


def build(model: type[FunctionSettings]) -> Wiring:
    """Load the function's settings ``model`` from the environment (failing the cold start with
    SettingsError if a setting is missing or malformed) and wire them."""
    return Wiring(model.load())
