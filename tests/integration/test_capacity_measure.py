"""A short measurement run through the real handlers: exact, machine-independent call and
capacity counts (a code change that adds a DynamoDB call or grows an item shows up here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
capacity_measure = pytest.importorskip("capacity_measure")


@pytest.fixture(scope="module")
def measured():
    return capacity_measure.measure(2)["measured"]


def test_sign_up_makes_exactly_these_calls_and_writes(measured):
    row = measured["POST /v1/accounts"]
    assert row["calls"] == {"dynamodb:DeleteItem": 1.0, "dynamodb:GetItem": 1.0, "dynamodb:PutItem": 1.0,
                            "dynamodb:TransactWriteItems": 1.0, "dynamodb:UpdateItem": 3.0, "sqs:SendMessage": 1.0}
    applicants = row["dynamodb"]["ApplicantsTable"]
    assert sum(u["wcu"] for u in applicants.values()) == 15.0
    assert applicants["EMAIL#<id> / SENTINEL"] == {"rcu": 1.0, "wcu": 2.0}
    assert applicants["FUNNEL#registered#<shard> / FUNNEL"] == {"rcu": 0.0, "wcu": 1.0}


def test_a_status_poll_reads_two_units_and_writes_nothing(measured):
    row = measured["GET /v1/me"]
    assert row["calls"] == {"dynamodb:GetItem": 1.0, "dynamodb:Query": 1.0}
    assert row["dynamodb"] == {"ApplicantsTable": {"APP#<id> / PROFILE": {"rcu": 1.0, "wcu": 0.0},
                                                   "query APP#<id>": {"rcu": 1.0, "wcu": 0.0}}}


def test_a_slowed_emulator_is_subtracted_and_a_run_it_dominates_is_refused(measured, monkeypatch):
    """moto made slower by a fixed CPU cost per request (inside its request processing, where the
    recorder times it): the handlers' CPU figures stay what they were (the subtraction takes it out)
    and the run as a whole is refused, since the emulator is then nearly all that was measured."""
    import time

    import capacity_plan as cp
    from moto.core.botocore_stubber import BotocoreStubber

    original, original_run = BotocoreStubber.process_request, capacity_measure.Driver.run
    journeys_running = []

    def slowed(self, request):
        if journeys_running:  # not while the stack is provisioned
            end = time.thread_time() + 0.06  # 60 ms of CPU per AWS request: an emulator ~15x slower
            while time.thread_time() < end:
                sum(range(2000))  # (few clock reads: each is a system call)
        return original(self, request)

    def run_journeys(driver):
        journeys_running.append(True)
        try:
            return original_run(driver)
        finally:
            journeys_running.clear()

    monkeypatch.setattr(BotocoreStubber, "process_request", slowed)
    monkeypatch.setattr(capacity_measure.Driver, "run", run_journeys)
    run = capacity_measure.measure(1)
    slow = run["measured"]
    assert cp.refusal(run) is not None
    http = [label for label in slow if " /" in label and label in measured]
    before = sum(measured[label]["cpu_ms"]["median"] for label in http)
    after = sum(slow[label]["cpu_ms"]["median"] for label in http)
    raw_before = sum(measured[label]["raw_cpu_ms"]["median"] for label in http)
    raw_after = sum(slow[label]["raw_cpu_ms"]["median"] for label in http)
    assert raw_after > 5 * raw_before  # the emulator really was slower
    assert after < 2 * before  # but the handlers' own figure did not follow it
