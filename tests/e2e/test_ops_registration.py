"""Pausing sign-up on the running local stack with ``prakerja-ops --local`` (the switch is an SSM
parameter in the stack's moto), and the queue listing there."""

from __future__ import annotations

import json

import httpx

from tests.e2e.test_demo import ops


def test_an_operator_pauses_and_resumes_sign_up_on_the_local_stack(base_url):
    # Given the local stack with sign-up open
    assert json.loads(ops("--local", base_url, "registration", "status", "--json").stdout)["paused"] is False
    try:
        # When the operator pauses registration
        done = ops("--local", base_url, "registration", "pause", "--retry-after", "45", "--yes")
        assert done.returncode == 0 and "registration PAUSED" in done.stdout, done.stderr
        # Then sign-up answers 503 with Retry-After, in English on request, while sign-in is reached
        paused = httpx.post(f"{base_url}/v1/accounts", json={"email": "x@example.id", "password": "p" * 12,
                                                             "consent": True}, headers={"Accept-Language": "en"})
        assert paused.status_code == 503 and paused.headers["retry-after"] == "45"
        assert paused.json()["code"] == "REGISTRATION_PAUSED" and paused.json()["message"].startswith("Sign-up")
        signin = httpx.post(f"{base_url}/v1/sessions", json={"email": "nobody@example.id", "password": "p" * 12})
        assert signin.status_code == 401
    finally:
        # When the operator resumes
        resumed = ops("--local", base_url, "registration", "resume")
    assert resumed.returncode == 0 and "registration OPEN" in resumed.stdout, resumed.stderr
    # Then sign-up is reached again (an incomplete form: checked, and no account made)
    assert httpx.post(f"{base_url}/v1/accounts", json={"email": "x@example.id"}).status_code == 422


def test_queues_on_the_local_stack_list_every_queue_without_cloudwatch_ages(base_url):
    done = ops("--local", base_url, "queues", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["queue"] for r in rows] == ["email", "bulk-email", "nik", "upload", "ktp-verdict", "draw", "bounce"]
    assert all(r["age_source"] == "n/a" and r["oldest_age_seconds"] is None for r in rows)
