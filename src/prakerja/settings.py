"""Per-function settings, read once at cold start from the environment.

Each function declares its own small model (:class:`RegisterSettings`, ...: the table of
``FUNCTION_SETTINGS`` below), composed from shared parts: one per resource it uses (a table, a
queue, a bucket, a secret; the name or URL template.yaml fills in, required and never ``""``),
and one per group of rules it applies (tokens, mail limits, the ministry's pacing, ...; each with
its default). A part forbids unknown fields, so a misspelt setting passed to a model fails at once
(``ValidationError``), and a model reads from the environment only the variables of its fields.
A missing or malformed setting fails the cold start loudly (``SettingsError``) instead of
failing a citizen's request later. Logic never reads ``os.environ``: it receives these values.

``tests/infra/test_function_settings.py`` checks each function's model against template.yaml:
every variable the model requires is in the function's environment, the environment has no
variable the model does not read, and every table, queue, bucket, key and secret it names is one
the function's policies grant.

:class:`Settings` holds every field (resources optional): the operator CLI's view of a whole
stack (``prakerja-ops``), which reaches every resource.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """A required setting is missing or malformed (raised at cold start)."""


#: a resource's name, ARN or URL filled in by template.yaml: required, never empty
Name = Annotated[str, Field(min_length=1)]
_S = TypeVar("_S", bound="FunctionSettings")


class Part(BaseModel):
    """A group of settings shared by the functions that use one resource or apply one set of
    rules. Frozen; unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- resources (one part each)
class ApplicantsTable(Part):
    """The Applicants table, and its outbox's write shards (``OutboxIndex``): a layout every
    writer and the sweeper must agree on."""

    applicants_table: Name
    outbox_shards: int = 8


class BatchesTable(Part):
    """The Batches table, and the write shards of each batch's members."""

    batches_table: Name
    member_shards: int = 16


class IdempotencyTable(Part):
    """The Powertools idempotency table and how long a record lives (seconds)."""

    idempotency_table: Name
    idempotency_seconds: int = 3600


class LimitsTable(Part):
    """The Limits table (quotas, token buckets, circuit breakers)."""

    limits_table: Name


class EmailQueue(Part):
    email_queue_url: Name


class BulkEmailQueue(Part):
    bulk_email_queue_url: Name


class KtpVerdictQueue(Part):
    """The queue of the photo parser's verdicts (KtpProcessFunction sends, KtpVerdictFunction records)."""

    ktp_verdict_queue_url: Name


class NikQueue(Part):
    nik_queue_url: Name


class NikDlq(Part):
    """The NIK queue's DLQ (the worker dead-letters a message after its own count of attempts)."""

    nik_dlq_url: Name


class DrawQueue(Part):
    """The queue of draw fan-out chunks, and the rows per chunk."""

    draw_queue_url: Name
    draw_chunk_size: int = 500


class KtpBucket(Part):
    """The KTP photo bucket and the region its presigned POSTs are signed for."""

    ktp_bucket: Name
    presign_region: str = "ap-southeast-3"


class AuditBucket(Part):
    audit_bucket: Name


class AppSecrets(Part):
    """The secret with the HMAC and token keys."""

    secrets_name: Name


class OriginSecret(Part):
    """The secret CloudFront adds to API requests (api.auth.client_ip trusts its viewer address
    only with it); unset = the API Gateway source address is the client address."""

    origin_secret_name: str = ""


class RegistrationSwitch(Part):
    """Registration switch (issue 8): the SSM parameter sign-up reads, cached this many seconds
    per instance (a pause reaches every instance within it); unset or unreadable = open (fail
    open)."""

    registration_switch_parameter: str = ""
    registration_switch_max_age_seconds: int = Field(10, ge=0, le=300)


class PiiKey(Part):
    """PII_KEY_ID: the KMS key of the NIK/KK envelopes."""

    pii_key_id: Name


# ---------------------------------------------------------------- rules (defaults here, and only here)
class Links(Part):
    """The base of every link in an email."""

    public_base_url: str = "http://127.0.0.1:8000"


class AccessTokenRules(Part):
    """Access tokens (seconds); their ``iss`` and ``aud`` (issue 16), set and checked by every
    HTTP function."""

    access_token_seconds: int = 900
    access_token_issuer: str = Field("prakerja", min_length=1)
    access_token_audience: str = Field("prakerja-api", min_length=1)


class AccountRules(Part):
    """Accounts (issue 3): sign-in failures per (account, address) and per address in one window;
    verification resends, password-reset mails per account; link lifetimes. Issue 16: a
    per-account cap on failures from any address (a botnet spreads its guesses); kept well above
    signin_max_failures and over a short window, since a flood of wrong passwords locks the owner
    out too until the window ends (services.accounts.SignInLimits)."""

    refresh_token_seconds: int = 30 * 24 * 3600
    email_token_seconds: int = 24 * 3600
    consent_version: str = "2020-04"
    argon2_memory_kib: int = 19456
    argon2_iterations: int = 2
    argon2_parallelism: int = 1
    signin_max_failures: int = Field(20, ge=1)
    signin_max_failures_per_address: int = Field(1000, ge=1)
    signin_max_failures_per_account: int = Field(100, ge=1)
    signin_window_seconds: int = 900
    resend_max: int = 5
    resend_window_seconds: int = 3600
    password_reset_max: int = 5
    password_reset_seconds: int = 3600


class MailLimitRules(Part):
    """Issue 16 (services.mail_limits): emails a request can cause, per window of
    mail_window_seconds: per target address and kind (over it: the same neutral 202, no email)
    and per client address, every kind together (over it: 429 with Retry-After; high because of
    carrier NAT)."""

    mail_max_per_target: int = Field(3, ge=1)
    mail_max_per_client: int = Field(300, ge=1)
    mail_window_seconds: int = Field(3600, ge=60)


class SesIdentity(Part):
    """What the sender sends as: its address and the SES configuration set that publishes
    bounces and complaints."""

    sender_email: Name
    ses_configuration_set: str = ""


class SendRules(Part):
    """Email sending (services.sender.SendPolicy): the shared SES token bucket (rate per second,
    burst 0 = one second's worth), the longest in-process wait for a token per record, backoffs
    (seconds, doubling per receive) for SES throttling and for bulk mail waiting behind
    transactional mail, how long the transactional backlog count is reused."""

    ses_send_rate: float = Field(14.0, gt=0)
    ses_burst: float = Field(0.0, ge=0)
    ses_max_wait_seconds: float = Field(1.0, ge=0)
    ses_throttle_backoff_seconds: int = Field(2, ge=1)
    ses_backoff_max_seconds: int = Field(60, ge=1, le=43200)
    bulk_defer_seconds: int = Field(2, ge=1)
    bulk_defer_max_seconds: int = Field(60, ge=1, le=43200)
    email_backlog_cache_seconds: float = Field(1.0, ge=0)


class KtpRules(Part):
    """KTP photos: accepted sizes (bytes), how long a presigned POST lives (seconds), presigned
    uploads per applicant per clock hour (issue 16; past it 429 TOO_MANY_UPLOADS)."""

    ktp_min_bytes: int = 10_000
    ktp_max_bytes: int = 10_000_000
    ktp_upload_seconds: int = 600
    ktp_presigns_per_hour: int = Field(10, ge=1)


class AssessmentRules(Part):
    """The test: minutes, grace (seconds), pass mark; retakes (issue 6): attempts allowed in all
    (1 = no retake) and the wait after a failed attempt is scored before the next may start; a
    passed test is never retaken."""

    assessment_minutes: int = 15
    assessment_grace_seconds: int = 120
    assessment_pass_mark: int = 60
    assessment_max_attempts: int = Field(1, ge=1)
    assessment_retake_after_hours: float = Field(24.0, ge=0)


class BiodataRules(Part):
    """Biodata (issue 5): corrections per WIB day, NIK_ALREADY_USED answers per hour; ministry
    checks of one NIK per WIB day, across every account (issue 16: the check must not be an
    oracle on a leaked NIK; the Limits table counts by the NIK's keyed HMAC); retention (issue 8;
    docs/runbook.md "Retention"): days the BIODATA item (NIK/KK envelopes, name, address) is kept
    after its last submission, as its DynamoDB TTL; 0 = until erasure. KTP photos expire by the
    bucket's lifecycle rule (template parameter KtpPhotoRetentionDays)."""

    biodata_corrections_per_day: int = Field(5, ge=0)
    nik_used_per_hour: int = Field(5, ge=0)
    nik_checks_per_day: int = Field(3, ge=1)
    biodata_retention_days: int = Field(730, ge=0)


class MinistryApi(Part):
    """Where the ministry's NIK service is (only the NIK worker calls it)."""

    ministry_url: Name


class MinistryRules(Part):
    """The ministry's capacity (issue 5): MINISTRY_RATE_PER_SECOND calls per second (any
    one-second window) and MINISTRY_MAX_IN_FLIGHT calls at once (the NikWorker event source's
    MaximumConcurrency x BatchSize in template.yaml: an instance makes its batch's calls at once).
    services.nik_check.NikPolicy takes its values from here. The shared token bucket "ministry"
    refills at rate - burst so that rate x 1 s + burst stays within the capacity; tokens are
    reserved ahead for at most the token wait (then records go back). Transient failures: at most
    MINISTRY_MAX_ATTEMPTS real calls, then the worker dead-letters the message; exponential
    backoff with jitter (base doubling per attempt, capped, never above SQS's 12 h). Circuit
    breaker: open after N consecutive failures, half-open after the cool-down. A call times out
    after MINISTRY_TIMEOUT seconds."""

    ministry_timeout: float = 5.0
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


class OutboxSweepRules(Part):
    """How old (seconds) an outbox entry must be before the sweeper queues it."""

    outbox_grace_seconds: int = 60


# ---------------------------------------------------------------- loading
class FunctionSettings(Part):
    """The base of a function's model: :meth:`load` reads it from the environment."""

    @classmethod
    def load(cls: type[_S], environ: Mapping[str, str] | None = None) -> _S:
        """Build the model from ``environ`` (default ``os.environ``): each field from the variable
        of its name in upper case; the other variables are not read.

        Raises SettingsError naming every missing (required, or set to "") or malformed setting."""
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        missing = sorted(name.upper() for name, info in cls.model_fields.items()
                         if info.is_required() and not values.get(name))
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(f"malformed settings: {exc}") from exc

    @classmethod
    def variables(cls) -> set[str]:
        """The environment variables the model reads."""
        return {name.upper() for name in cls.model_fields}

    @classmethod
    def required_variables(cls) -> set[str]:
        """The environment variables the model cannot start without."""
        return {name.upper() for name, info in cls.model_fields.items() if info.is_required()}


# ---------------------------------------------------------------- one model per function
class RegisterSettings(FunctionSettings, ApplicantsTable, BatchesTable, IdempotencyTable, LimitsTable, EmailQueue,
                       KtpBucket, AppSecrets, OriginSecret, RegistrationSwitch, Links, AccessTokenRules,
                       AccountRules, MailLimitRules):
    """RegisterFunction: accounts, sessions, self-service and erasure (batch memberships and KTP
    photos too)."""


class VerifyEmailSettings(FunctionSettings, ApplicantsTable, LimitsTable, EmailQueue, AppSecrets, OriginSecret,
                          Links, AccessTokenRules, AccountRules, MailLimitRules):
    """VerifyEmailFunction: confirm emailed links, resend verification links."""


class EmailSenderSettings(FunctionSettings, IdempotencyTable, LimitsTable, EmailQueue, BulkEmailQueue, SesIdentity,
                          SendRules):
    """EmailSenderFunction: both email queues into SES within the send rate, each email at most
    once per dedupe id (IdempotencyTable: the records, kept ``idempotency_seconds``; 7 days in
    template.yaml, the outbox items' TTL)."""


class EmailBounceSettings(FunctionSettings, ApplicantsTable, AppSecrets):
    """EmailBounceFunction: SES bounces and complaints mark the email step UNDELIVERABLE."""


class KtpUploadSettings(FunctionSettings, ApplicantsTable, LimitsTable, KtpBucket, AppSecrets, AccessTokenRules,
                        KtpRules):
    """KtpUploadFunction: presigned POSTs of KTP photos."""


class KtpProcessSettings(FunctionSettings, KtpBucket, KtpVerdictQueue, KtpRules):
    """KtpProcessFunction, the photo parser: checks and normalises what lands in ``uploads/`` and
    queues its verdict; no table (issue 16 item 11)."""


class KtpVerdictSettings(FunctionSettings, ApplicantsTable, KtpBucket):
    """KtpVerdictFunction, the recorder: the parser's verdicts into the KTP step."""


class BiodataSettings(FunctionSettings, ApplicantsTable, LimitsTable, NikQueue, AppSecrets, PiiKey,
                      AccessTokenRules, BiodataRules):
    """BiodataFunction: biodata checked locally, sealed and queued for the ministry."""


class NikWorkerSettings(FunctionSettings, ApplicantsTable, LimitsTable, NikQueue, NikDlq, AppSecrets, PiiKey,
                        MinistryApi, MinistryRules):
    """NikWorkerFunction: the ministry's checks at its pace (AppSecrets: the HMAC keys of the NIK
    sentinel written on a VERIFIED answer, issue 16)."""


class AssessmentSettings(FunctionSettings, ApplicantsTable, AppSecrets, AccessTokenRules, AssessmentRules):
    """AssessmentFunction: the timed test."""


class BatchesSettings(FunctionSettings, ApplicantsTable, BatchesTable, AppSecrets, AccessTokenRules):
    """BatchesFunction: list batches, join the open one."""


class BatchTickSettings(FunctionSettings, ApplicantsTable, BatchesTable, AuditBucket, DrawQueue, AssessmentRules):
    """BatchTickFunction: close, draw, announce; score overdue tests."""


class DrawResultsSettings(FunctionSettings, ApplicantsTable, BulkEmailQueue, Links):
    """DrawResultsFunction: one fan-out chunk of results, or its announcement emails (never the
    Batches table)."""


class OutboxSweeperSettings(FunctionSettings, ApplicantsTable, EmailQueue, BulkEmailQueue, NikQueue,
                            OutboxSweepRules):
    """OutboxSweeperFunction: queues work written but never queued."""


#: template.yaml function logical id -> its settings model
FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    "RegisterFunction": RegisterSettings, "VerifyEmailFunction": VerifyEmailSettings,
    "EmailSenderFunction": EmailSenderSettings, "EmailBounceFunction": EmailBounceSettings,
    "KtpUploadFunction": KtpUploadSettings, "KtpProcessFunction": KtpProcessSettings,
    "KtpVerdictFunction": KtpVerdictSettings,
    "BiodataFunction": BiodataSettings, "NikWorkerFunction": NikWorkerSettings,
    "AssessmentFunction": AssessmentSettings, "BatchesFunction": BatchesSettings,
    "BatchTickFunction": BatchTickSettings, "DrawResultsFunction": DrawResultsSettings,
    "OutboxSweeperFunction": OutboxSweeperSettings,
}


def defaults(part: type[Part]) -> dict[str, Any]:
    """The default of every field of ``part`` that has one (the one place defaults are written)."""
    return {name: info.default for name, info in part.model_fields.items() if not info.is_required()}


class Settings(ApplicantsTable, BatchesTable, IdempotencyTable, LimitsTable, EmailQueue, BulkEmailQueue, NikQueue,
               NikDlq, DrawQueue, KtpBucket, AuditBucket, AppSecrets, OriginSecret, RegistrationSwitch, PiiKey,
               Links, AccessTokenRules, AccountRules, MailLimitRules, SesIdentity, SendRules, KtpRules, AssessmentRules,
               BiodataRules, MinistryApi, MinistryRules, OutboxSweepRules):
    """Every setting of every part, resources optional (``""`` = not known): the operator CLI's
    view of a whole stack (``prakerja_ops.target``), which reaches every resource. Functions use
    their own model (``FUNCTION_SETTINGS``). Environment names are upper case; durations are in
    seconds unless the name says otherwise; rates are per second."""

    model_config = ConfigDict(frozen=True, extra="ignore")

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
    pii_key_id: str = ""
    nik_dlq_url: str = ""
    # the other queues and the DLQs (prakerja-ops queues / dlq redrive)
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
    # what the local stack uses when nothing is set
    sender_email: str = "noreply@prakerja.example.id"
    ministry_url: str = "http://127.0.0.1:8010"

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
