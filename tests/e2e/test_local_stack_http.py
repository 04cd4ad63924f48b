"""The local stack's own pages, as a new user meets them after ``make run``."""

from __future__ import annotations

import httpx


def test_health_is_200_with_every_check_up(base_url):
    r = httpx.get(f"{base_url}/_local/health")
    assert r.status_code == 200 and all(r.json()["checks"].values())


def test_an_unknown_route_is_a_404_in_the_error_contract(base_url):
    r = httpx.get(f"{base_url}/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND" and r.json()["fields"] == []


def test_the_clock_moves_and_reports_utc(base_url):
    before = httpx.get(f"{base_url}/_local/clock").json()["now"]
    after = httpx.post(f"{base_url}/_local/clock", json={"advance_seconds": 0}).json()["now"]
    assert before.endswith("Z") and after >= before


def test_the_ministry_simulator_is_reachable_and_counts(base_url):
    r = httpx.get(f"{base_url}/_local/ministry")
    assert r.status_code == 200 and "over_capacity" in r.json()


def test_the_stack_serves_the_published_contract_and_its_docs_page(base_url):
    spec = httpx.get(f"{base_url}/_local/openapi.json")
    assert spec.status_code == 200 and "/v1/accounts" in spec.json()["paths"]
    page = httpx.get(f"{base_url}/_local/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<code>/v1/me</code>" in page.text
