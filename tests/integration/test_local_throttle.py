"""The local gateway's route throttling (issue 12): the template's RouteSettings and
DefaultRouteSettings become a token bucket per route, overridable for tests, and a request over
the limit gets API Gateway's 429 without reaching the function (locally with a Retry-After).

No timed assertions: the buckets are driven by a fake monotonic clock, and the gateway test
uses a bucket that never refills within the test (rate 0.001/s).
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from prakerja_local.gateway import THROTTLED_BODY, Gateway, TokenBucket, parse_throttles
from prakerja_local.template import DEFAULT_ROUTE, Route, Template, Throttle


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_template_gives_every_route_a_throttle_and_the_busy_ones_their_own() -> None:
    template = Template.load()
    defaults = template.parameter_defaults()
    throttles = template.route_throttles()
    assert throttles["POST /v1/accounts"] == Throttle(float(defaults["SignUpRateLimit"]),
                                                      int(defaults["SignUpBurstLimit"]))
    assert throttles["GET /v1/me"] == Throttle(float(defaults["StatusRateLimit"]), int(defaults["StatusBurstLimit"]))
    assert throttles[DEFAULT_ROUTE] == Throttle(float(defaults["DefaultRouteRateLimit"]),
                                                int(defaults["DefaultRouteBurstLimit"]))


def test_throttle_overrides_parse_and_a_malformed_one_is_refused() -> None:
    assert parse_throttles("POST  /v1/accounts=2/4; *=100/50;") == {
        "POST /v1/accounts": Throttle(2.0, 4), "*": Throttle(100.0, 50)}
    assert parse_throttles("") == {}
    for bad in ("POST /v1/accounts=2", "=2/4", "GET /v1/me=fast/4"):
        with pytest.raises(ValueError, match="expected"):
            parse_throttles(bad)


def test_a_bucket_admits_its_burst_then_refuses_until_the_rate_refills_it() -> None:
    clock = FakeMonotonic()
    bucket = TokenBucket(Throttle(rate=2, burst=3), clock)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    assert bucket.take() == pytest.approx(0.5)  # one token comes back in 1/2 s
    clock.now += 0.5
    assert bucket.take() is None and bucket.take() == pytest.approx(0.5)
    clock.now += 60  # never more than the burst
    assert [bucket.take() for _ in range(4)][-1] == pytest.approx(0.5)


def test_a_throttled_route_gets_429_with_retry_after_and_other_routes_are_untouched() -> None:
    # Given a gateway whose sign-up route admits 2 requests and then refills very slowly
    invoked: list[str] = []

    def invoke(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(event["routeKey"])
        return {"statusCode": 202, "body": "{}"}

    routes = [Route("POST", "/v1/accounts", "RegisterFunction"), Route("POST", "/v1/sessions", "RegisterFunction")]
    client = Client(Gateway(routes, invoke, throttles={"POST /v1/accounts": Throttle(0.001, 2),
                                                         DEFAULT_ROUTE: Throttle(1000, 1000)}))

    # When sign-up is called five times and sign-in once
    answers = [client.post("/v1/accounts", json={}) for _ in range(5)]
    sign_in = client.post("/v1/sessions", json={})

    # Then two reach the function, three get API Gateway's 429 with a Retry-After, and sign-in is served
    assert [a.status_code for a in answers] == [202, 202, 429, 429, 429]
    refused = answers[2]
    assert refused.get_json() == THROTTLED_BODY and int(refused.headers["Retry-After"]) >= 1
    assert sign_in.status_code == 202
    assert invoked == ["POST /v1/accounts", "POST /v1/accounts", "POST /v1/sessions"]
