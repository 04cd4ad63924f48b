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
