"""Invariants of template.yaml's operations part (issue 8): every alarm reaches the alarm topic,
every DLQ has its alarm, the dashboard is valid JSON once substituted and shows every queue and
function, and the retention settings reach the bucket and the biodata function.

Uses the same loader and views as test_template_invariants.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.test_template_invariants import (
    DOC,
    FUNCTIONS,
    QUEUES,
    RESOURCES,
    dead_letter_queues,
    of_type,
    props,
    target,
)

ALARMS = of_type("AWS::CloudWatch::Alarm")
TOPICS = of_type("AWS::SNS::Topic")
DASHBOARDS = of_type("AWS::CloudWatch::Dashboard")
PARAMETERS: dict[str, dict[str, Any]] = DOC.get("Parameters", {})
PSEUDO = {"AWS::Region": "ap-southeast-3", "AWS::StackName": "prakerja-test", "AWS::AccountId": "123456789012",
          "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def alarm_topics(alarm: dict[str, Any]) -> set[str | None]:
    return {target(a) for a in props(alarm).get("AlarmActions") or []}


def dlq_alarms(dlq: str) -> list[str]:
    """Alarms that fire on any visible message in ``dlq``."""
    return [
        aid for aid, alarm in ALARMS.items()
        if props(alarm).get("Namespace") == "AWS/SQS"
        and props(alarm).get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and any(d.get("Name") == "QueueName" and target(d.get("Value")) == dlq
                for d in props(alarm).get("Dimensions") or [])
        and float(props(alarm).get("Threshold", -1)) == 0
        and props(alarm).get("ComparisonOperator") == "GreaterThanThreshold"
    ]


def substitute(text: str) -> str:
    """``text`` with every ``${...}`` of a ``!Sub`` replaced the way CloudFormation would: parameters
    by their default, pseudo parameters by a sample, resources by a placeholder naming them.
    Fails on a variable that names nothing in the template."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in PSEUDO:
            return PSEUDO[name]
        if name in PARAMETERS:
            return str(PARAMETERS[name].get("Default", ""))
        logical = name.split(".", 1)[0]
        assert logical in RESOURCES, f"${{{name}}} names no parameter or resource of the template"
        return f"<{name}>"
    return _SUB.sub(one, text)


def dashboard_body(did: str) -> dict[str, Any]:
    body = props(DASHBOARDS[did])["DashboardBody"]
    assert isinstance(body, dict) and "Fn::Sub" in body, f"{did}: DashboardBody must be a !Sub of JSON"
    text = body["Fn::Sub"] if isinstance(body["Fn::Sub"], str) else body["Fn::Sub"][0]
    return json.loads(substitute(text))


def metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [row for w in body["widgets"] if w["type"] == "metric" for row in w["properties"]["metrics"]
            if isinstance(row, list)]


def dimension_values(body: dict[str, Any], dimension: str) -> set[str]:
    """Values of ``dimension`` in every metric row (``[namespace, name, dim, value, ..., {options}]``)."""
    values = set()
    for row in metric_rows(body):
        names = [x for x in row if not isinstance(x, dict)][2:]
        values |= {names[i + 1] for i in range(0, len(names) - 1, 2) if names[i] == dimension}
    return values


def test_there_are_alarms_a_topic_and_a_dashboard() -> None:
    assert len(ALARMS) >= 10 and "AlarmTopic" in TOPICS and DASHBOARDS


# ---------------------------------------------------------------- alarms
@pytest.mark.parametrize("aid", sorted(ALARMS))
def test_every_alarm_notifies_the_alarm_topic_and_says_what_to_do(aid: str) -> None:
    alarm = ALARMS[aid]
    assert "AlarmTopic" in alarm_topics(alarm), f"{aid}: AlarmActions must include !Ref AlarmTopic"
    assert alarm_topics(alarm) <= set(TOPICS), f"{aid}: an alarm action that is not a topic of this template"
    assert len(str(props(alarm).get("AlarmDescription", ""))) > 40, f"{aid}: describe what to do"


@pytest.mark.parametrize("dlq", sorted(dead_letter_queues()))
def test_every_dlq_has_an_alarm_on_any_message(dlq: str) -> None:
    assert dlq_alarms(dlq), f"{dlq}: no alarm on ApproximateNumberOfMessagesVisible > 0 with its QueueName"


def test_the_alarm_topic_can_be_published_to_by_cloudwatch() -> None:
    # CloudWatch cannot use the AWS managed aws/sns key: the topic is unencrypted or under a key of
    # this template whose policy lets cloudwatch.amazonaws.com use it
    key = props(TOPICS["AlarmTopic"]).get("KmsMasterKeyId")
    if key is None:
        return
    assert target(key) in RESOURCES, f"AlarmTopic's key {key!r} is not a customer managed key of this template"
    statements = props(RESOURCES[target(key)])["KeyPolicy"]["Statement"]
    assert any((s.get("Principal") or {}).get("Service") == "cloudwatch.amazonaws.com"
               and "kms:Decrypt" in s["Action"] for s in statements)


def test_the_nik_queue_age_alarm_uses_its_parameter() -> None:
    ages = [a for a in ALARMS.values() if props(a).get("MetricName") == "ApproximateAgeOfOldestMessage"
            and any(target(d.get("Value")) == "NikQueue" for d in props(a).get("Dimensions") or [])]
    assert ages and all(props(a)["Threshold"] == {"Ref": "NikQueueAgeAlarmSeconds"} for a in ages)


def test_the_ministry_error_alarm_watches_the_nik_workers_service_dimension() -> None:
    # Powertools adds the dimension service = POWERTOOLS_SERVICE_NAME of the emitting function
    service = props(FUNCTIONS["NikWorkerFunction"])["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    stats = [q["MetricStat"]["Metric"] for a in ALARMS.values() for q in props(a).get("Metrics") or []
             if "MetricStat" in q and q["MetricStat"]["Metric"]["Namespace"] == "Prakerja"]
    names = {m["MetricName"] for m in stats}
    assert {"MinistryCall", "MinistryError"} <= names
    assert all(m["Dimensions"] == [{"Name": "service", "Value": service}] for m in stats
               if m["MetricName"].startswith("Ministry"))


def test_the_tick_and_the_api_have_alarms() -> None:
    watched = {target(d.get("Value")) for a in ALARMS.values() for d in props(a).get("Dimensions") or []}
    assert "BatchTickFunction" in watched
    api_metrics = {q["MetricStat"]["Metric"]["MetricName"] for a in ALARMS.values()
                   for q in props(a).get("Metrics") or [] if "MetricStat" in q
                   and q["MetricStat"]["Metric"]["Namespace"] == "AWS/ApiGateway"}
    assert {"5xx", "Count"} <= api_metrics


# ---------------------------------------------------------------- dashboard
@pytest.mark.parametrize("did", sorted(DASHBOARDS))
def test_the_dashboard_is_json_after_substitution_and_shows_every_queue_and_function(did: str) -> None:
    body = dashboard_body(did)
    assert body["widgets"] and all(w["properties"].get("region") for w in body["widgets"] if w["type"] == "metric")
    queues = dimension_values(body, "QueueName")
    missing_queues = sorted(q for q in QUEUES if f"<{q}.QueueName>" not in queues)
    assert not missing_queues, f"{did}: queues not on the dashboard: {missing_queues}"
    functions = dimension_values(body, "FunctionName")
    missing_functions = sorted(f for f in FUNCTIONS if f"<{f}>" not in functions)
    assert not missing_functions, f"{did}: functions without errors/throttles on the dashboard: {missing_functions}"


@pytest.mark.parametrize("did", sorted(DASHBOARDS))
def test_the_dashboard_shows_the_funnel_and_partner_health(did: str) -> None:
    text = json.dumps(dashboard_body(did))
    for metric in ("AccountCreated", "EmailVerified", "NikVerified", "AssessmentPassed", "BatchJoined", "Selected",
                   "MinistryCall", "MinistryError", "MinistryLatency", "MinistryCircuitOpen",
                   "SesSent", "SesThrottled", "SesBounce"):
        assert re.search(rf'\b{metric}\b', text), f"{did}: {metric} is not on the dashboard"
    for metric in ("4xx", "5xx"):
        assert f'MetricName=\\"{metric}\\"' in text, f"{did}: no per-route {metric}"


def test_per_route_metrics_are_enabled_for_the_dashboard() -> None:
    settings = props(RESOURCES["HttpApi"]).get("DefaultRouteSettings") or {}
    assert settings.get("DetailedMetricsEnabled") is True


# ---------------------------------------------------------------- retention
def test_ktp_photos_expire_after_the_retention_parameter_with_every_version() -> None:
    rules = props(RESOURCES["KtpBucket"])["LifecycleConfiguration"]["Rules"]
    photos = [r for r in rules if r.get("Status") == "Enabled" and r.get("Prefix") == "ktp/"]
    assert any(r.get("ExpirationInDays") == {"Ref": "KtpPhotoRetentionDays"} for r in photos)
    # an expired current version becomes noncurrent: it must go too, and soon
    assert any(r.get("Status") == "Enabled" and not r.get("Prefix")
               and int((r.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays", 10**6)) <= 7 for r in rules)
    assert int(PARAMETERS["KtpPhotoRetentionDays"]["Default"]) > 0


def test_the_biodata_function_gets_its_retention_from_the_parameter() -> None:
    env = props(FUNCTIONS["BiodataFunction"])["Environment"]["Variables"]
    assert env.get("BIODATA_RETENTION_DAYS") == {"Ref": "BiodataRetentionDays"}
    ttl = props(RESOURCES["ApplicantsTable"]).get("TimeToLiveSpecification") or {}
    assert ttl == {"AttributeName": "ttl", "Enabled": True}
