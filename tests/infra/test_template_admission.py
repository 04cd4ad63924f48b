"""Admission control in template.yaml (issue 12): per-route throttling on the HTTP API and reserved
concurrency for the functions that must keep running in a surge, all as template parameters.

The route limits' defaults are the capacity plan's (tests/unit/test_capacity_plan.py checks that
they equal ``capacity_plan.route_limits``); these tests check the wiring and the rules that must
hold whatever the figures: a route's bucket is a parameter, the launch-day sign-up rate fits, the busiest routes
together leave room under the account's throttle, and an SQS-fed function reserves at least what
its pollers may run at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.test_template_invariants import DOC, FUNCTIONS, SQS_SOURCES, of_type, props

PARAMETERS: dict[str, dict[str, Any]] = DOC.get("Parameters", {})
HTTP_APIS = of_type("AWS::Serverless::HttpApi")
LAUNCH_SIGN_UPS_PER_SECOND = 2700  # the launch-day target (issue 12)
# API Gateway's account throttle per region once raised for launch day (the runbook's launch-day
# block from the capacity plan: the mix's 42,525/s x 1.5; the default in ap-southeast-3 is 2,500/s,
# docs.aws.amazon.com/apigateway/latest/developerguide/limits.html)
ACCOUNT_THROTTLE = 64_000
# Lambda keeps at least 100 of the account's concurrency unreserved; 1,000 is the default quota
LAMBDA_DEFAULT_CONCURRENCY, LAMBDA_MIN_UNRESERVED = 1000, 100
MUST_KEEP_RUNNING = ["BatchTickFunction", "NikWorkerFunction", "EmailSenderFunction", "DrawResultsFunction"]
THROTTLED_ROUTES = {"POST /v1/accounts": "SignUp", "POST /v1/sessions": "SignIn", "GET /v1/me": "Status"}


def number_parameter(value: Any) -> tuple[str, dict[str, Any]]:
    """The parameter a ``!Ref`` names, which must be a Number parameter with a default."""
    assert isinstance(value, dict) and set(value) == {"Ref"}, f"{value!r} is not a !Ref to a parameter"
    name = value["Ref"]
    spec = PARAMETERS.get(name)
    assert spec is not None, f"!Ref {name}: no such parameter"
    assert spec.get("Type") == "Number" and "Default" in spec, f"{name}: must be a Number with a Default"
    return name, spec


def default(value: Any) -> float:
    return float(number_parameter(value)[1]["Default"])


def route_keys() -> set[str]:
    return {
        f"{str(e['Properties']['Method']).upper()} {e['Properties']['Path']}"
        for fn in FUNCTIONS.values()
        for e in (props(fn).get("Events") or {}).values()
        if e.get("Type") == "HttpApi"
    }


@pytest.fixture(scope="module")
def api() -> dict[str, Any]:
    assert list(HTTP_APIS) == ["HttpApi"], f"expected one HTTP API, found {list(HTTP_APIS)}"
    return props(HTTP_APIS["HttpApi"])


# ---------------------------------------------------------------- throttling per route
def test_every_route_has_a_throttle_from_parameters(api: dict[str, Any]) -> None:
    settings = api.get("DefaultRouteSettings") or {}
    assert default(settings.get("ThrottlingRateLimit")) >= 1
    assert default(settings.get("ThrottlingBurstLimit")) >= 1
    assert settings.get("DetailedMetricsEnabled") is True  # the dashboard's per-route widgets


@pytest.mark.parametrize(("route_key", "prefix"), sorted(THROTTLED_ROUTES.items()))
def test_busy_routes_have_their_own_throttle_from_parameters(api: dict[str, Any], route_key: str, prefix: str) -> None:
    settings = (api.get("RouteSettings") or {}).get(route_key)
    assert settings, f"no RouteSettings for {route_key}"
    assert number_parameter(settings.get("ThrottlingRateLimit"))[0] == f"{prefix}RateLimit"
    assert number_parameter(settings.get("ThrottlingBurstLimit"))[0] == f"{prefix}BurstLimit"
    # a route's settings replace the default ones: without this its detailed metrics would go
    assert settings.get("DetailedMetricsEnabled") is True, f"{route_key}: DetailedMetricsEnabled must stay true"


def test_route_settings_name_only_routes_the_api_has(api: dict[str, Any]) -> None:
    # API Gateway refuses the stage ("Unable to find Route by key ...") for a key it has no route for
    unknown = sorted(set(api.get("RouteSettings") or {}) - route_keys())
    assert not unknown, f"RouteSettings for routes that do not exist: {unknown}"


def test_sign_up_admits_the_launch_rate_and_cannot_take_the_account_throttle(api: dict[str, Any]) -> None:
    routes = api["RouteSettings"]
    sign_up = routes["POST /v1/accounts"]
    assert default(sign_up["ThrottlingRateLimit"]) >= LAUNCH_SIGN_UPS_PER_SECOND
    assert 1 <= default(sign_up["ThrottlingBurstLimit"]) <= default(sign_up["ThrottlingRateLimit"])
    busiest = sum(default(routes[key]["ThrottlingRateLimit"]) for key in THROTTLED_ROUTES)
    every_other = default(api["DefaultRouteSettings"]["ThrottlingRateLimit"])
    # the busy routes at their limits still leave the others several routes' worth of the account
    assert busiest + 3 * every_other <= ACCOUNT_THROTTLE, (
        f"busy routes {busiest}/s + 3 other routes at {every_other}/s exceed the account's {ACCOUNT_THROTTLE}/s")
    assert default(sign_up["ThrottlingRateLimit"]) <= ACCOUNT_THROTTLE / 3


# ---------------------------------------------------------------- reserved concurrency
def reservation(fid: str) -> tuple[str, dict[str, Any]] | None:
    value = props(FUNCTIONS[fid]).get("ReservedConcurrentExecutions")
    return None if value is None else number_parameter(value)


def pollers(fid: str) -> int:
    """How many instances the function's SQS sources may run at once together (their
    ScalingConfig MaximumConcurrency; 1,000 for a source without one, SQS's own ceiling)."""
    return sum(int((event.get("ScalingConfig") or {}).get("MaximumConcurrency", 1000))
               for source, _name, event in SQS_SOURCES if source == fid)


@pytest.mark.parametrize("fid", MUST_KEEP_RUNNING)
def test_functions_that_must_keep_running_reserve_concurrency(fid: str) -> None:
    found = reservation(fid)
    assert found, f"{fid}: no ReservedConcurrentExecutions"
    name, spec = found
    assert float(spec.get("MinValue", 0)) >= 1, f"{name}: MinValue must be >= 1 (0 would stop the function)"


SQS_FED = sorted({fid for fid, _name, _event in SQS_SOURCES})


@pytest.mark.parametrize("fid", SQS_FED)
def test_an_sqs_fed_function_reserves_at_least_what_its_pollers_run(fid: str) -> None:
    # a reservation is also a ceiling: below the pollers' MaximumConcurrency, Lambda throttles the
    # poller's invocations, each counts as a receive, and messages drift into the DLQ
    found = reservation(fid)
    if found is None:
        pytest.skip(f"{fid} has no reservation (runs on the unreserved pool)")
    name, spec = found
    needed = pollers(fid)
    assert float(spec["Default"]) >= needed, f"{name} default {spec['Default']} < MaximumConcurrency {needed}"
    # CloudFormation itself refuses a smaller value at deploy time
    assert float(spec.get("MinValue", 0)) >= needed, f"{name}: MinValue must be >= {needed}"


def test_every_sqs_fed_function_has_a_reservation() -> None:
    missing = [fid for fid in SQS_FED if reservation(fid) is None]
    assert not missing, f"SQS-fed functions on the unreserved pool (throttled in a surge): {missing}"


def test_reservations_leave_the_account_its_unreserved_minimum() -> None:
    reserved = sum(float(found[1]["Default"]) for fid in FUNCTIONS if (found := reservation(fid)))
    assert reserved <= LAMBDA_DEFAULT_CONCURRENCY - LAMBDA_MIN_UNRESERVED
    assert reserved >= sum(pollers(fid) for fid in SQS_FED)


def test_request_path_functions_are_not_capped_by_a_reservation() -> None:
    # a reservation on a sign-up or status function would be a ceiling below the route throttle
    http_functions = [fid for fid, fn in FUNCTIONS.items()
                      if any(e.get("Type") == "HttpApi" for e in (props(fn).get("Events") or {}).values())]
    capped = [fid for fid in http_functions if reservation(fid)]
    assert http_functions and not capped, f"HTTP functions with a reservation: {capped}"
