"""Per-function settings, read once at cold start from the environment.

Each function builds the settings model it needs (:class:`Settings` holds every field; a
function lists the ones it requires with :meth:`Settings.load`). A missing or malformed setting
fails the cold start loudly (``SettingsError``) instead of failing a citizen's request later.
Logic never reads ``os.environ``: it receives these values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError


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

    # behaviour
    public_base_url: str = "http://127.0.0.1:8000"
    sender_email: str = "noreply@prakerja.example.id"
    ministry_url: str = "http://127.0.0.1:8010"
    ministry_timeout: float = 5.0
    access_token_seconds: int = 900
    refresh_token_seconds: int = 30 * 24 * 3600
    email_token_seconds: int = 24 * 3600
    consent_version: str = "2020-04"
    argon2_memory_kib: int = 19456
    argon2_iterations: int = 2
    argon2_parallelism: int = 1
    ktp_min_bytes: int = 10_000
    ktp_max_bytes: int = 10_000_000
    ktp_upload_seconds: int = 600
    assessment_minutes: int = 15
    assessment_grace_seconds: int = 120
    assessment_pass_mark: int = 60
    outbox_shards: int = 8
    outbox_grace_seconds: int = 60
    member_shards: int = 16
    draw_chunk_size: int = 500
    presign_region: str = "ap-southeast-3"

    @classmethod
    def load(cls, *required: str, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``), requiring ``required``.

        Raises SettingsError naming every missing or malformed setting."""
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise SettingsError(f"malformed settings: {exc}") from exc
        missing = [name.upper() for name in required if not getattr(settings, name)]
        if missing:
            raise SettingsError(f"missing settings: {', '.join(missing)}")
        return settings
