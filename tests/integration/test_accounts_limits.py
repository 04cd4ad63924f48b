"""Limits on sign-in failures (per account and client address, per account, and per address,
reserved before the password check so concurrent guesses cannot race them) and on
verification resends: 429 with Retry-After, measured on the project clock, never a sleep."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3

from prakerja_local import moto_guard
from tests.integration import harness
from tests.integration.accounts_support import call_from, header, restart
from tests.integration.support import PASSWORD, sign_in, sign_up

HOME, CAFE = "182.253.10.20", "36.72.200.1"


def sign_in_from(stack, address: str, email: str, password: str):
    return call_from(stack, address, "POST", "/v1/sessions", "/v1/sessions", {"email": email, "password": password})


def test_twenty_failures_in_fifteen_minutes_lock_the_account_from_that_address(stack):
    # Given an account and 20 wrong passwords from one address
    sign_up(stack, "joko@example.id")
    for _ in range(20):
        assert sign_in_from(stack, HOME, "joko@example.id", "salah-sandi-00").status == 401
    # When the 21st attempt comes, even with the right password
    r = sign_in_from(stack, HOME, "joko@example.id", PASSWORD)
    # Then it is refused at once with a time to wait, in the error contract
    assert r.status == 429 and r.body["code"] == "TOO_MANY_ATTEMPTS"
    assert 1 <= int(header(r, "Retry-After")) <= 15 * 60


def test_the_owner_at_another_address_is_not_locked_out(stack):
    sign_up(stack, "kartika@example.id")
    for _ in range(20):
        sign_in_from(stack, CAFE, "kartika@example.id", "salah-sandi-00")
    assert sign_in_from(stack, HOME, "kartika@example.id", PASSWORD).status == 200


def test_the_lock_ends_when_the_window_has_passed(stack, clock):
    # Given a locked account
    sign_up(stack, "lukman@example.id")
    for _ in range(20):
        sign_in_from(stack, HOME, "lukman@example.id", "salah-sandi-00")
    r = sign_in_from(stack, HOME, "lukman@example.id", PASSWORD)
    assert r.status == 429
    # When the clock moves by the Retry-After
    clock.advance(int(header(r, "Retry-After")))
    # Then the right password works again
    assert sign_in_from(stack, HOME, "lukman@example.id", PASSWORD).status == 200


def test_unknown_addresses_are_limited_like_known_ones(stack):
    for _ in range(20):
        assert sign_in_from(stack, HOME, "tidak-ada@example.id", PASSWORD).status == 401
    assert sign_in_from(stack, HOME, "tidak-ada@example.id", PASSWORD).status == 429


def test_a_success_clears_the_failures(stack):
    sign_up(stack, "maya@example.id")
    for _ in range(19):
        sign_in_from(stack, HOME, "maya@example.id", "salah-sandi-00")
    assert sign_in_from(stack, HOME, "maya@example.id", PASSWORD).status == 200
    for _ in range(19):
        assert sign_in_from(stack, HOME, "maya@example.id", "salah-sandi-00").status == 401


def test_one_address_has_a_ceiling_across_accounts(stack, monkeypatch):
    # Given a small per-address ceiling (1000 by default: carrier NAT puts many people behind one address)
    restart(stack, monkeypatch, signin_max_failures_per_address=3)
    for name in ("nina", "oki"):
        sign_up(stack, f"{name}@example.id")
    # When one address fails 3 times across accounts
    for email in ("nina@example.id", "oki@example.id", "nina@example.id"):
        assert sign_in_from(stack, HOME, email, "salah-sandi-00").status == 401
    # Then every sign-in from it waits, while other addresses go on
    assert sign_in_from(stack, HOME, "oki@example.id", PASSWORD).status == 429
    assert sign_in_from(stack, CAFE, "oki@example.id", PASSWORD).status == 200


def test_verification_resends_are_limited_to_five_an_hour(stack, clock):
    # Given a signed-in applicant who has not verified the email
    sign_up(stack, "putri@example.id")
    access = sign_in(stack, "putri@example.id")["access_token"]
    # When the resend button is pressed six times
    replies = [stack.call("POST", "/v1/email-verifications", token=access) for _ in range(6)]
    # Then five links go out and the sixth is told when to try again
    assert [r.status for r in replies] == [202] * 5 + [429]
    assert replies[-1].body["code"] == "TOO_MANY_ATTEMPTS"
    clock.advance(int(header(replies[-1], "Retry-After")))
    access = sign_in(stack, "putri@example.id")["access_token"]
    assert stack.call("POST", "/v1/email-verifications", token=access).status == 202


def _concurrent_wrong_passwords(stack, email: str, addresses: list[str]) -> list:
    moto_guard.install()  # moto's DynamoDB is atomic per request, as DynamoDB is
    start = threading.Barrier(len(addresses))

    def guess(address: str):
        start.wait(timeout=60)
        return sign_in_from(stack, address, email, "salah-sandi-00")

    with ThreadPoolExecutor(len(addresses)) as pool:
        return list(pool.map(guess, addresses))


def test_200_concurrent_wrong_passwords_from_one_address_pass_the_limit_at_most_20_times(stack):
    # Given an account, and 200 wrong passwords sent at the same moment from one address
    sign_up(stack, "serbu@example.id")
    replies = _concurrent_wrong_passwords(stack, "serbu@example.id", [HOME] * 200)
    # Then at most 20 of them reach the password check (each attempt is reserved before it)
    assert sum(r.status != 429 for r in replies) <= 20
    assert {r.status for r in replies} <= {401, 429}
    # And the owner at another address is not locked out
    assert sign_in_from(stack, CAFE, "serbu@example.id", PASSWORD).status == 200


def test_guesses_spread_over_many_addresses_meet_the_per_account_cap(stack, clock):
    # Given an account, and 200 wrong passwords at once, each from its own address (a botnet)
    sign_up(stack, "sebar@example.id")
    replies = _concurrent_wrong_passwords(stack, "sebar@example.id", [f"10.0.{i // 250}.{i % 250}" for i in range(200)])
    # Then at most the per-account cap (100 in 15 minutes) reach the password check
    assert sum(r.status != 429 for r in replies) <= 100
    assert sum(r.status == 429 for r in replies) >= 100
    # And the account waits (the owner too: the documented trade-off) only until the window ends
    r = sign_in_from(stack, HOME, "sebar@example.id", PASSWORD)
    assert r.status == 429 and r.body["code"] == "TOO_MANY_ATTEMPTS"
    clock.advance(int(header(r, "Retry-After")))
    assert sign_in_from(stack, HOME, "sebar@example.id", PASSWORD).status == 200


EDGE = "130.176.50.10"  # a CloudFront edge server: API Gateway's sourceIp behind the distribution


def origin_secret(stack) -> str:
    """The value the distribution adds as X-Prakerja-Origin (OriginVerifySecret)."""
    name = stack.registry.environments["RegisterFunction"]["ORIGIN_SECRET_NAME"]
    return boto3.client("secretsmanager", region_name=harness.REGION).get_secret_value(SecretId=name)["SecretString"]


def sign_in_via_cloudfront(stack, viewer: str, email: str, password: str, secret: str):
    headers = {"x-prakerja-origin": secret, "cloudfront-viewer-address": f"{viewer}:51234"}
    return call_from(stack, EDGE, "POST", "/v1/sessions", "/v1/sessions", {"email": email, "password": password},
                     headers=headers)


def test_behind_cloudfront_the_limit_follows_the_viewer_not_the_edge(stack):
    # Given an account and 20 wrong passwords from one viewer, all through the same edge server
    sign_up(stack, "tepi@example.id")
    secret = origin_secret(stack)
    for _ in range(20):
        assert sign_in_via_cloudfront(stack, HOME, "tepi@example.id", "salah-sandi-00", secret).status == 401
    # Then that viewer waits, while another viewer behind the same edge signs in
    assert sign_in_via_cloudfront(stack, HOME, "tepi@example.id", PASSWORD, secret).status == 429
    assert sign_in_via_cloudfront(stack, CAFE, "tepi@example.id", PASSWORD, secret).status == 200


def test_a_viewer_address_without_the_origin_secret_is_not_believed(stack):
    # Given a caller that goes to the API directly and forges a new viewer address every time
    sign_up(stack, "palsu@example.id")
    for i in range(20):
        assert sign_in_via_cloudfront(stack, f"10.9.0.{i}", "palsu@example.id", "salah-sandi-00",
                                      "tebakan").status == 401
    # Then the limit still follows its real (source) address
    assert sign_in_via_cloudfront(stack, "10.9.1.1", "palsu@example.id", PASSWORD, "tebakan").status == 429
