"""Per-function settings (issue 14, item 3): small models composed from shared parts; a misspelt
field is refused, a required resource has no default, and a model reads only its own variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prakerja.services.nik_check import NikPolicy
from prakerja.services.sender import SendPolicy
from prakerja.settings import (
    FUNCTION_SETTINGS,
    DrawResultsSettings,
    EmailSenderSettings,
    MinistryRules,
    NikWorkerSettings,
    Part,
    SendRules,
    Settings,
    SettingsError,
    defaults,
)

NIK_WORKER_ENV = {"APPLICANTS_TABLE": "a", "LIMITS_TABLE": "l", "NIK_QUEUE_URL": "q", "NIK_DLQ_URL": "d",
                  "SECRETS_NAME": "s", "PII_KEY_ID": "k", "MINISTRY_URL": "http://ministry"}


def test_a_function_model_reads_only_its_own_variables():
    # Given an environment with the worker's resources and another function's
    env = NIK_WORKER_ENV | {"BATCHES_TABLE": "b", "MINISTRY_RATE_PER_SECOND": "30"}

    # When the NIK worker's settings are loaded
    settings = NikWorkerSettings.load(environ=env)

    # Then it has its own (with the defaults of its rules) and nothing of the other's
    assert settings.nik_dlq_url == "d" and settings.ministry_rate_per_second == 30
    assert settings.ministry_max_attempts == MinistryRules().ministry_max_attempts
    assert not hasattr(settings, "batches_table")


def test_a_missing_or_empty_resource_fails_the_cold_start_naming_it():
    with pytest.raises(SettingsError, match="NIK_DLQ_URL, PII_KEY_ID"):
        NikWorkerSettings.load(environ={k: v for k, v in NIK_WORKER_ENV.items() if k not in {"NIK_DLQ_URL"}}
                               | {"PII_KEY_ID": ""})


def test_a_malformed_setting_fails_the_cold_start():
    with pytest.raises(SettingsError, match="malformed"):
        NikWorkerSettings.load(environ=NIK_WORKER_ENV | {"MINISTRY_MAX_ATTEMPTS": "0"})


def test_a_misspelt_field_is_refused():
    with pytest.raises(ValidationError, match="extra"):
        DrawResultsSettings(applicants_table="a", bulk_email_queue_url="q", public_base_ur="http://x")


@pytest.mark.parametrize("function_id", sorted(FUNCTION_SETTINGS))
def test_every_resource_of_a_function_is_required(function_id):
    # Given a function's model: the fields naming a table, queue, bucket, key or secret
    model = FUNCTION_SETTINGS[function_id]
    resources = {n for n in model.model_fields
                 if n.endswith(("_table", "_queue_url", "_dlq_url", "_bucket", "_key_id", "secrets_name"))}
    # Then none has a default ("" would only fail a request later)
    assert resources and all(model.model_fields[n].is_required() for n in resources)


def test_the_operator_view_has_every_field_of_every_function():
    every = set().union(*(m.model_fields for m in FUNCTION_SETTINGS.values()))
    assert every <= set(Settings.model_fields)
    assert Settings().applicants_table == ""  # resources optional there: a target names what it has


def test_a_part_defines_each_default_once():
    # a field declared in two parts could have two defaults
    parts = [p for p in Part.__subclasses__()
             if p.__module__ == "prakerja.settings" and p.__name__ != "FunctionSettings"]
    seen: dict[str, str] = {}
    for part in parts:
        for name in part.model_fields:
            assert name not in seen, f"{name} in {seen.get(name)} and {part.__name__}"
            seen[name] = part.__name__


def test_the_policies_take_their_defaults_from_the_settings_parts():
    nik = NikPolicy.from_settings(MinistryRules())
    assert (nik.rate, nik.burst, nik.max_attempts, nik.call_timeout) == tuple(
        defaults(MinistryRules)[k] for k in ("ministry_rate_per_second", "ministry_burst", "ministry_max_attempts",
                                             "ministry_timeout"))
    send = SendPolicy.from_settings(SendRules())
    assert send.rate == defaults(SendRules)["ses_send_rate"] == send.burst  # burst 0 = one second's worth
    sender = EmailSenderSettings(idempotency_table="i", limits_table="l", email_queue_url="e", bulk_email_queue_url="b",
                                 sender_email="x@example.id", ses_send_rate=3)
    assert SendPolicy.from_settings(sender).rate == 3
