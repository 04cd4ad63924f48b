"""Per-function settings, read once at cold start from the environment.

Each function builds the settings model it needs (:class:`Settings` holds every field; a
function lists the ones it requires with :meth:`Settings.load`). A missing or malformed setting
fails the cold start loudly (``SettingsError``) instead of failing a citizen's request later.
Logic never reads ``os.environ``: it receives these values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """A required setting is missing or malformed (raised at cold start)."""


class Settings(BaseModel):
    """Every setting a prakerja function can read; environment names are upper case.

    Durations are in seconds unless the name says otherwise; rates are per second.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    # resources (names or URLs filled in by template.yaml)
    applicants_table: str = ""
    batches_table: str = ""
    idempotency_table: str = ""
    limits_table: str = ""
    email_queue_url: str = ""
    bulk_email_queue_url: str = ""
    nik_queue_url: str = ""
    draw_queue_url: str = ""
    ktp_bucket: str = ""
    audit_bucket: str = ""
    secrets_name: str = ""
    # the secret CloudFront adds to API requests (api.auth.client_ip trusts its viewer address
    # only with it); unset = the API Gateway source address is the client address
    origin_secret_name: str = ""
    # the other queues and the DLQs (prakerja-ops queues / dlq redrive; nik_dlq_url is below)
    upload_queue_url: str = ""
    # the photo parser's verdicts (KtpProcessFunction sends, KtpVerdictFunction records)
    ktp_verdict_queue_url: str = ""
    bounce_queue_url: str = ""
    email_dlq_url: str = ""
    bulk_email_dlq_url: str = ""
    upload_dlq_url: str = ""
    ktp_verdict_dlq_url: str = ""
    draw_dlq_url: str = ""
    bounce_dlq_url: str = ""
    # registration switch (issue 8): the SSM parameter sign-up reads, cached this many seconds per
    # instance (a pause reaches every instance within it); unset or unreadable = open (fail open)
    registration_switch_parameter: str = ""
    registration_switch_max_age_seconds: int = Field(10, ge=0, le=300)

    # behaviour
    public_base_url: str = "http://127.0.0.1:8000"
    sender_email: str = "noreply@prakerja.example.id"
    ministry_url: str = "http://127.0.0.1:8010"
    ministry_timeout: float = 5.0
    access_token_seconds: int = 900
    # the access token's ``iss`` and ``aud`` (issue 16): set and checked by every HTTP function
    access_token_issuer: str = Field("prakerja", min_length=1)
    access_token_audience: str = Field("prakerja-api", min_length=1)
    refresh_token_seconds: int = 30 * 24 * 3600
    email_token_seconds: int = 24 * 3600
    consent_version: str = "2020-04"
    argon2_memory_kib: int = 19456
    argon2_iterations: int = 2
    argon2_parallelism: int = 1
    ktp_min_bytes: int = 10_000
    ktp_max_bytes: int = 10_000_000
    ktp_upload_seconds: int = 600
    # presigned KTP uploads per applicant per clock hour (issue 16); past it 429 TOO_MANY_UPLOADS
    ktp_presigns_per_hour: int = Field(10, ge=1)
    assessment_minutes: int = 15
    assessment_grace_seconds: int = 120
    assessment_pass_mark: int = 60
    # retakes (issue 6): attempts allowed in all (1 = no retake) and the wait after a failed
    # attempt is scored before the next may start; a passed test is never retaken
    assessment_max_attempts: int = Field(1, ge=1)
    assessment_retake_after_hours: float = Field(24.0, ge=0)
    outbox_shards: int = 8
    outbox_grace_seconds: int = 60
    member_shards: int = 16
    draw_chunk_size: int = 500
    presign_region: str = "ap-southeast-3"
    # accounts (issue 3): sign-in failures per (account, address) and per address in one window;
    # verification resends, password-reset mails per account; link lifetimes; idempotency records.
    # Issue 16: a per-account cap on failures from any address (a botnet spreads its guesses);
    # kept well above signin_max_failures and over a short window, since a flood of wrong
    # passwords locks the owner out too until the window ends (services.accounts.SignInLimits)
    signin_max_failures: int = Field(20, ge=1)
    signin_max_failures_per_address: int = Field(1000, ge=1)
    signin_max_failures_per_account: int = Field(100, ge=1)
    signin_window_seconds: int = 900
    resend_max: int = 5
    resend_window_seconds: int = 3600
    password_reset_max: int = 5
    # issue 16 (services.mail_limits): emails a request can cause, per window of
    # mail_window_seconds: per target address and kind (over it: the same neutral 202, no
    # email) and per client address, every kind together (over it: 429 with Retry-After; high
    # because of carrier NAT)
    mail_max_per_target: int = Field(3, ge=1)
    mail_max_per_client: int = Field(300, ge=1)
    mail_window_seconds: int = Field(3600, ge=60)
    password_reset_seconds: int = 3600
    idempotency_seconds: int = 3600
    # email sending (services.sender): the shared SES token bucket (rate per second, burst 0 =
    # one second's worth), the longest in-process wait for a token per record, backoffs (seconds,
    # doubling per receive) for SES throttling and for bulk mail waiting behind transactional
    # mail, how long the transactional backlog count is reused; the SES configuration set that
    # publishes bounces and complaints
    ses_send_rate: float = Field(14.0, gt=0)
    ses_burst: float = Field(0.0, ge=0)
    ses_max_wait_seconds: float = Field(1.0, ge=0)
    ses_throttle_backoff_seconds: int = Field(2, ge=1)
    ses_backoff_max_seconds: int = Field(60, ge=1, le=43200)
    bulk_defer_seconds: int = Field(2, ge=1)
    bulk_defer_max_seconds: int = Field(60, ge=1, le=43200)
    email_backlog_cache_seconds: float = Field(1.0, ge=0)
    ses_configuration_set: str = ""
    # biodata / NIK check (issue 5). The ministry's capacity: MINISTRY_RATE_PER_SECOND calls per
    # second (any one-second window) and MINISTRY_MAX_IN_FLIGHT calls at once (the NikWorker event
    # source's MaximumConcurrency x BatchSize in template.yaml: an instance makes its batch's calls
    # at once). The shared token bucket "ministry" refills at rate - burst so that rate x 1 s +
    # burst stays within the capacity; tokens are reserved ahead for at most the token wait
    # (then records go back).
    # Transient failures: at most MINISTRY_MAX_ATTEMPTS real calls, then the worker dead-letters
    # the message; exponential backoff with jitter (base doubling per attempt, capped, never above
    # SQS's 12 h). Circuit breaker: open after N consecutive failures, half-open after the
    # cool-down. Applicants: corrections per WIB day, NIK_ALREADY_USED answers per hour.
    # PII_KEY_ID: the KMS key of the NIK/KK envelopes.
    nik_dlq_url: str = ""
    pii_key_id: str = ""
    ministry_rate_per_second: float = Field(50.0, gt=0)
    ministry_max_in_flight: int = Field(20, ge=1)
    ministry_burst: float = Field(2.0, ge=1)
    ministry_bucket_shards: int = Field(1, ge=1)
    ministry_token_wait_seconds: float = Field(2.0, ge=0)
    ministry_max_attempts: int = Field(8, ge=1)
    ministry_backoff_base_seconds: float = Field(2.0, ge=0)
    ministry_backoff_max_seconds: float = Field(43200.0, ge=0, le=43200)
    ministry_circuit_failures: int = Field(5, ge=1)
    ministry_circuit_cooldown_seconds: float = Field(30.0, ge=0)
    biodata_corrections_per_day: int = Field(5, ge=0)
    nik_used_per_hour: int = Field(5, ge=0)
    # ministry checks of one NIK per WIB day, across every account (issue 16: the check must not
    # be an oracle on a leaked NIK); the Limits table counts by the NIK's keyed HMAC
    nik_checks_per_day: int = Field(3, ge=1)
    # retention (issue 8; docs/runbook.md "Retention"): days the BIODATA item (NIK/KK envelopes,
    # name, address) is kept after its last submission, as its DynamoDB TTL; 0 = until erasure.
    # KTP photos expire by the bucket's lifecycle rule (template parameter KtpPhotoRetentionDays).
    biodata_retention_days: int = Field(730, ge=0)

    @classmethod
    def load(cls, *required: str, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), requiring ``required``.

        Raises SettingsError naming every missing or malformed setting."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise SettingsError(f"malformed settings: {exc}") from exc
        missing = [name.upper() for name in required if not getattr(settings, name)]
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        return settings
