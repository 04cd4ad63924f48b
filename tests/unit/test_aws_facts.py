"""bench/aws_facts.yaml, the looked-up AWS quotas and list prices the capacity plan (issue 12) cites:
every entry has a number (or null with a reason), a unit, an https source on an AWS domain and, for
every number, a verbatim quote that states it, in the shape `make capacity` reads."""

from __future__ import annotations

import datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

FACTS = Path(__file__).resolve().parents[2] / "bench" / "aws_facts.yaml"

REQUIRED_QUOTAS = {
    "lambda_concurrent_executions", "lambda_scaling_rate", "lambda_unreserved_minimum",
    "apigw_http_throttle_rate", "apigw_http_throttle_burst",
    "dynamodb_partition_wcu", "dynamodb_partition_rcu",
    "dynamodb_table_ondemand_max_wcu", "dynamodb_table_ondemand_max_rcu",
    "dynamodb_account_max_wcu", "dynamodb_account_max_rcu", "dynamodb_transaction_item_limit",
    "sqs_standard_inflight", "kms_symmetric_request_rate", "secrets_manager_get_secret_value_rate",
    "ssm_get_parameter_rate", "ses_sending_rate_default", "ses_sandbox_rate", "ses_sandbox_daily",
    "s3_put_per_prefix", "s3_get_per_prefix",
    "cloudwatch_logs_put_log_events_rate", "cloudwatch_put_metric_data_rate",
}
REQUIRED_PRICES = {
    "lambda_arm_gb_second", "lambda_requests_per_million", "apigw_http_per_million",
    "dynamodb_ondemand_write_per_million", "dynamodb_ondemand_read_per_million", "dynamodb_storage_gb_month",
    "sqs_standard_per_million", "s3_put_per_thousand", "s3_get_per_thousand", "s3_storage_gb_month",
    "kms_per_10k_requests", "kms_key_month", "ses_per_thousand_emails",
    "cloudwatch_logs_ingest_per_gb", "cloudwatch_logs_storage_gb_month", "cloudwatch_custom_metric_month",
    "secrets_manager_per_10k_calls", "secrets_manager_secret_month", "waf_per_million_requests",
}


def _facts() -> dict:
    return yaml.safe_load(FACTS.read_text(encoding="utf-8"))


def _entries(section: str) -> list[tuple[str, dict]]:
    return sorted((_facts()[section] or {}).items())


def test_header_names_the_region_and_the_day_of_the_look_up() -> None:
    facts = _facts()
    assert facts["region"] == "ap-southeast-3"
    assert isinstance(facts["retrieved"], datetime.date)
    assert set(facts) == {"region", "retrieved", "quotas", "prices"}


def test_every_needed_key_is_there() -> None:
    facts = _facts()
    assert REQUIRED_QUOTAS <= set(facts["quotas"]), REQUIRED_QUOTAS - set(facts["quotas"])
    assert REQUIRED_PRICES <= set(facts["prices"] or {}), REQUIRED_PRICES - set(facts["prices"] or {})


@pytest.mark.parametrize("section", ["quotas", "prices"])
def test_every_entry_cites_an_aws_page_with_a_quote(section: str) -> None:
    allowed = {"value", "unit", "source", "quote", "note"} | (
        {"adjustable"} if section == "quotas" else {"fallback_region"})
    for key, entry in _entries(section):
        assert set(entry) <= allowed, (key, set(entry) - allowed)
        assert {"value", "unit", "source", "quote"} <= set(entry), key
        value = entry["value"]
        assert value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)), key
        assert value is None or value >= 0, key
        assert isinstance(entry["unit"], str) and entry["unit"].strip(), key
        url = urlparse(entry["source"])
        host = url.hostname or ""
        assert url.scheme == "https", key
        assert host == "amazon.com" or host.endswith(".amazon.com"), (key, host)
        assert isinstance(entry["quote"], str), key
        if value is None or "fallback_region" in entry:
            # a missing figure, or one from another region, always says why
            assert isinstance(entry.get("note"), str) and len(entry["note"].strip()) >= 20, key
        if value is not None:
            # a figure is only there with the words of the page that states it
            assert len(entry["quote"].strip()) >= 20, key
        if section == "quotas":
            assert isinstance(entry["adjustable"], bool), key
        else:
            assert entry["unit"].startswith("USD per "), key
            if "fallback_region" in entry:
                assert entry["fallback_region"] != "ap-southeast-3", key


def test_the_quote_states_the_figure_it_backs() -> None:
    """The number in `value` appears in the quote (as printed there, with or without thousands
    separators), so a typo in either one shows up."""
    for section in ("quotas", "prices"):
        for key, entry in _entries(section):
            value = entry["value"]
            if value is None:
                continue
            quote = entry["quote"].replace(",", "")
            forms = {f"{value:g}", f"{value}"}
            if float(value).is_integer():
                forms.add(str(int(value)))
            assert any(form in quote for form in forms), (section, key, value)
