"""NIK and KK at rest (KMS envelopes), never in logs or errors; corrections and NIK_ALREADY_USED
limited per applicant."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from prakerja.adapters.crypto import EnvelopeError, Envelopes, nik_aad
from prakerja.domain.nik import build_nik
from prakerja.observability import logger as app_logger
from tests.integration.harness import REGION
from tests.integration.support import sign_in, verified_applicant
from tests.integration.test_biodata_nik import DOB, NIK, form, register_person, status
from tests.integration.test_nik_worker import tune

KK = "3201012503150007"


def raw_items(stack, applicant_id: str) -> list[dict]:
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))
    return table.query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": f"APP#{applicant_id}"})[
        "Items"]


def test_nik_and_kk_are_stored_only_as_kms_envelopes(stack, ministry):
    # Given a person the ministry knows
    register_person(ministry)
    token = verified_applicant(stack, "enc@example.id")

    # When the biodata with a KK number is stored and checked
    assert stack.call("PUT", "/v1/me/biodata", form(kk_number=KK), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    applicant_id = stack.call("GET", "/v1/me", token=token).body["applicant_id"]

    # Then no item of the applicant holds either number in clear
    dump = json.dumps(raw_items(stack, applicant_id), default=str)
    assert NIK not in dump and KK not in dump
    biodata = next(i for i in raw_items(stack, applicant_id) if i["sk"] == "BIODATA")
    assert biodata["nik_enc"]["kid"] == stack.resources.att("PiiKey", "Arn")
    assert set(biodata["nik_enc"]) == {"v", "kid", "edk", "iv", "ct"} and "kk_enc" in biodata
    # and the worker opened it for the ministry, the reader sees it masked
    assert status(stack, token)["status"] == "VERIFIED"
    shown = stack.call("GET", "/v1/me/biodata", token=token).body["biodata"]
    assert shown["nik"] == "*" * 12 + NIK[-4:] and shown["kk_number"] == "*" * 12 + KK[-4:]


def test_an_envelope_copied_to_another_applicant_does_not_open(stack):
    # Given an envelope sealed for one applicant
    envelopes = Envelopes(stack.resources.att("PiiKey", "Arn"))
    sealed = envelopes.seal(NIK, nik_aad("a-1"))

    # When it is opened as another applicant's, or tampered with
    tampered = dict(sealed, ct=sealed["ct"][:-4] + ("AAAA" if sealed["ct"][-4:] != "AAAA" else "BBBB"))

    # Then it does not open (and the error names no number); a fresh cache opens it through KMS
    with pytest.raises(EnvelopeError) as wrong_owner:
        envelopes.open(sealed, nik_aad("a-2"))
    with pytest.raises(EnvelopeError):
        envelopes.open(tampered, nik_aad("a-1"))
    assert NIK not in str(wrong_owner.value)
    assert Envelopes(stack.resources.att("PiiKey", "Arn")).open(sealed, nik_aad("a-1")) == NIK


def test_the_nik_never_reaches_logs_or_errors(stack, ministry, caplog):
    # Given every log record captured (the app logger included), and a ministry that first fails
    caplog.set_level(logging.DEBUG)
    captured: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: captured.append(app_logger.registered_formatter.format(record))  # type: ignore[method-assign]
    app_logger.addHandler(handler)
    try:
        register_person(ministry, name="Budi Santosa")
        token = verified_applicant(stack, "logs@example.id")
        tune(stack, ministry_backoff_base_seconds=0, ministry_burst=10)
        ministry.simulator.settings.update({"error_rate": 1.0})
        replies = [stack.call("PUT", "/v1/me/biodata", form(kk_number=KK), token=token)]
        stack.drain("NikQueue", "NikWorkerFunction", rounds=2)
        ministry.simulator.settings.update({"error_rate": 0.0})
        stack.drain("NikQueue", "NikWorkerFunction")
        # a rejected check, a correction and a malformed one
        replies.append(stack.call("PUT", "/v1/me/biodata", form(nik=NIK[:15] + "x"), token=token))
        replies.append(stack.call("PUT", "/v1/me/biodata", form(full_name="Budi Santosa", kk_number=KK), token=token))
        stack.drain("NikQueue", "NikWorkerFunction")
    finally:
        app_logger.removeHandler(handler)

    # Then neither number appears in any log line or error reply
    assert status(stack, token)["status"] == "VERIFIED"
    text = "\n".join(captured) + "\n".join(r.getMessage() for r in caplog.records)
    text += json.dumps([r.body for r in replies])
    assert "nik check" in text
    assert NIK not in text and NIK[:15] not in text and KK not in text


# ---------------------------------------------------------------------- limits per applicant
def test_corrections_are_limited_per_wib_day(stack, clock):
    # Given at most two corrections a day, and it is 10:00 WIB (03:00 UTC)
    tune(stack, "BiodataFunction", biodata_corrections_per_day=2)
    token = verified_applicant(stack, "fix@example.id")
    names = ["Budi Santoso", "Budi Santosa", "Budi Santosi", "Budi Santosu"]

    # When the first submission and three corrections come the same day
    replies = [stack.call("PUT", "/v1/me/biodata", form(full_name=n), token=token) for n in names]

    # Then the third correction is refused until midnight WIB (17:00 UTC), with Retry-After
    assert [r.status for r in replies] == [202, 202, 202, 429]
    assert replies[3].body["code"] == "TOO_MANY_CORRECTIONS"
    assert replies[3].headers["retry-after"] == str(14 * 3600)
    assert stack.call("GET", "/v1/me/biodata", token=token).body["version"] == 3
    # and the next WIB day allows corrections again
    clock.advance(14 * 3600)
    token = sign_in(stack, "fix@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/biodata", form(full_name=names[3]), token=token).status == 202


def test_nik_already_used_is_rate_limited_per_applicant(stack, clock, ministry):
    # Given a NIK verified for another account, and at most two such answers an hour
    tune(stack, "BiodataFunction", nik_used_per_hour=2)
    register_person(ministry)
    holder = verified_applicant(stack, "holder@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=holder).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    prober = verified_applicant(stack, "prober@example.id")

    # When someone tries that NIK again and again
    replies = [stack.call("PUT", "/v1/me/biodata", form(), token=prober) for _ in range(3)]

    # Then two answers say so, then 429 for the rest of the hour, whatever the NIK
    assert [r.status for r in replies] == [409, 409, 429]
    assert replies[2].body["code"] == "TOO_MANY_NIK_ATTEMPTS" and replies[2].headers["retry-after"] == "3600"
    free = build_nik("32.01.01", DOB, "M", 77)
    assert stack.call("PUT", "/v1/me/biodata", form(nik=free), token=prober).status == 429
    clock.advance(3600)
    prober = sign_in(stack, "prober@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/biodata", form(nik=free), token=prober).status == 202
