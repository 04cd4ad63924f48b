"""Pure rules of the NIK worker: backoff, pacing from settings, which failures trip the breaker,
and the template agreeing with the settings that describe the ministry's capacity."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prakerja.adapters.ministry import MinistryUnavailable
from prakerja.services.nik_check import SQS_MAX_VISIBILITY, NikPolicy, backoff_seconds, parse, request_id
from prakerja.settings import Settings, SettingsError
from prakerja_local.template import load_yaml

TEMPLATE = load_yaml(Path(__file__).resolve().parents[2] / "template.yaml")


@given(attempts=st.integers(1, 200), base=st.floats(0, 600), cap=st.floats(0, 100_000), seed=st.integers(0, 9))
def test_backoff_stays_in_the_upper_half_of_the_doubled_base_and_under_12_hours(attempts, base, cap, seed):
    # Given / When
    delay = backoff_seconds(attempts, base, cap, random.Random(seed))

    # Then
    ceiling = min(cap, SQS_MAX_VISIBILITY, base * 2 ** min(attempts - 1, 30))
    assert ceiling / 2 - 1 <= delay <= ceiling + 1
    assert 0 <= delay <= SQS_MAX_VISIBILITY


def test_backoff_doubles_and_honours_retry_after():
    rng = random.Random(1)
    firsts = [backoff_seconds(1, 2, 3600, rng) for _ in range(50)]
    fifths = [backoff_seconds(5, 2, 3600, rng) for _ in range(50)]
    assert max(firsts) <= 2 and 16 <= min(fifths) and max(fifths) <= 32
    assert backoff_seconds(1, 2, 3600, rng, at_least=30) == 30
    assert backoff_seconds(40, 2, 10**9, rng) <= SQS_MAX_VISIBILITY


def test_the_bucket_refills_at_the_rate_less_the_burst():
    policy = NikPolicy.from_settings(Settings(ministry_rate_per_second=50, ministry_burst=2))
    assert policy.bucket_rate == 48 and policy.burst == 2
    # so in any one-second window: 48 x 1 + 2 = the ministry's 50


@pytest.mark.parametrize("burst, shards", [(50, 1), (60, 1), (2, 3)])
def test_a_burst_that_leaves_no_rate_fails_the_cold_start(burst, shards):
    with pytest.raises(SettingsError):
        NikPolicy.from_settings(Settings(ministry_rate_per_second=50, ministry_burst=burst,
                                         ministry_bucket_shards=shards))


@pytest.mark.parametrize("kind, overload", [
    ("timeout", True), ("connection", True), ("http_429", True), ("http_500", True), ("http_503", True),
    ("http_400", False), ("http_422", False), ("bad_reply", False), ("wrong_request_id", False)])
def test_only_overload_failures_trip_the_breaker(kind, overload):
    assert MinistryUnavailable(kind).overload is overload


def test_the_request_id_is_deterministic_per_biodata_version():
    assert request_id("a1", 3) == request_id("a1", 3) == "a1:3" != request_id("a1", 4)
    assert parse('{"applicant_id": "a1", "version": 3}') == ("a1", 3)


def test_the_worker_concurrency_in_the_template_is_the_ministry_in_flight_capacity():
    # Given the template's NikWorker event source and the ministry capacity parameters
    worker = TEMPLATE["Resources"]["NikWorkerFunction"]["Properties"]
    scaling = worker["Events"]["Checks"]["Properties"]["ScalingConfig"]
    params = TEMPLATE["Parameters"]

    # Then instances x the calls each makes at once (its batch) = the ministry's calls in flight
    batch = worker["Events"]["Checks"]["Properties"]["BatchSize"]
    assert scaling["MaximumConcurrency"] * batch == params["MinistryMaxInFlight"]["Default"]
    env = worker["Environment"]["Variables"]
    assert env["MINISTRY_MAX_IN_FLIGHT"] == {"Ref": "MinistryMaxInFlight"}
    assert env["MINISTRY_RATE_PER_SECOND"] == {"Ref": "MinistryRatePerSecond"}
    assert Settings().ministry_max_in_flight == params["MinistryMaxInFlight"]["Default"]
    assert Settings().ministry_rate_per_second == params["MinistryRatePerSecond"]["Default"]


def test_the_nik_dlq_has_an_alarm_on_the_alarm_topic():
    resources = TEMPLATE["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    nik = [a for a in alarms if {"Name": "QueueName", "Value": {"Fn::GetAtt": ["NikDLQ", "QueueName"]}}
           in a.get("Dimensions", [])]
    assert nik and nik[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert nik[0]["Threshold"] == 0 and nik[0]["ComparisonOperator"] == "GreaterThanThreshold"
    assert nik[0]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
