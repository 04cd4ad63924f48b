"""The metrics helpers: fixed names, CloudWatch EMF written when a handler ends, even by an error."""

from __future__ import annotations

import json

import pytest

from prakerja.observability import count, flushes_metrics, measure


def blobs(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_a_handler_that_fails_still_flushes_its_metrics_once(published):
    # Given a handler that counts a ministry call and its latency, then fails
    @flushes_metrics
    def handler(event, context):
        count("MinistryCall")
        measure("MinistryLatency", 120.5)
        raise RuntimeError("boom")

    # When it runs
    with pytest.raises(RuntimeError):
        handler({}, None)
    # Then one EMF blob holds both, in the Prakerja namespace, with the service as sole dimension
    [blob] = blobs(published.readouterr().out)
    [directive] = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Prakerja" and directive["Dimensions"] == [["service"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {"MinistryCall": "Count", "MinistryLatency": "Milliseconds"}
    assert blob["MinistryCall"] == [1.0] and blob["MinistryLatency"] == [120.5]


def test_an_invocation_without_metrics_writes_nothing(published):
    @flushes_metrics
    def handler(event, context):
        return "ok"

    assert handler({}, None) == "ok"
    assert blobs(published.readouterr().out) == []


def test_a_metric_outside_the_agreed_names_is_refused():
    with pytest.raises(ValueError):
        count("EmailOfBudi")
