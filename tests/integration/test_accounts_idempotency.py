"""Sign-up under retries and bursts: Idempotency-Key replays, and 50 concurrent sign-ups with
one address, through the register function's real handler."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from prakerja.services.security import Passwords
from prakerja_local import moto_guard
from prakerja_local.functions import LambdaContext, ensure_event_loop
from tests.integration import harness
from tests.integration.accounts_support import header, items, kinds, mails_to
from tests.integration.support import PASSWORD

BODY = {"email": "rina+daftar@example.id", "password": PASSWORD, "consent": True}


def sign_up_with_key(stack, key: str, body: dict = BODY):
    return stack.call("POST", "/v1/accounts", body, headers={"Idempotency-Key": key})


@pytest.fixture
def slow_hashing(monkeypatch):
    """The first password hash waits until ``release`` is set (a request caught mid-way)."""
    entered, release, calls = threading.Event(), threading.Event(), []
    original = Passwords.hash

    def hash_slowly(self, password: str) -> str:
        calls.append(1)
        if len(calls) == 1:
            entered.set()
            assert release.wait(30), "the test never released the first request"
        return original(self, password)

    monkeypatch.setattr(Passwords, "hash", hash_slowly)
    yield entered, release
    release.set()


def test_a_sign_up_replayed_with_the_same_key_makes_one_account_and_one_email(stack):
    # Given a sign-up with an Idempotency-Key
    first = sign_up_with_key(stack, "5f0c6a52-1d5e-4d1b-9a47-3c2f0e1b7a11")
    # When the client retries it with the same key and body (a lost reply)
    again = sign_up_with_key(stack, "5f0c6a52-1d5e-4d1b-9a47-3c2f0e1b7a11")
    # Then both get the same neutral reply, and there is one account and one email
    assert first.status == again.status == 202 and first.body == again.body
    assert kinds(stack).get("PROFILE") == 1
    assert [m["subject"] for m in mails_to(stack, BODY["email"])] == [
        "Konfirmasi email Anda untuk Kartu Prakerja / Confirm your email"]


def test_the_same_key_with_another_body_is_409(stack):
    # Given a sign-up with a key
    sign_up_with_key(stack, "key-0001")
    # When the key comes back with another body
    r = sign_up_with_key(stack, "key-0001", BODY | {"email": "lain@example.id"})
    # Then it is refused and nothing happens for the other address
    assert r.status == 409 and r.body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert mails_to(stack, "lain@example.id") == []


def test_without_a_key_a_repeated_sign_up_is_handled_anew(stack):
    # Given two identical sign-ups without a key
    assert stack.call("POST", "/v1/accounts", BODY).status == 202
    assert stack.call("POST", "/v1/accounts", BODY).status == 202
    # Then the second one is treated as someone registering a known address: the owner is told
    subjects = [m["subject"] for m in mails_to(stack, BODY["email"])]
    assert len(subjects) == 2 and "mencoba mendaftar" in subjects[1]


def test_a_rejected_body_records_nothing_under_its_key(stack):
    # Given a sign-up with a key that fails validation
    bad = sign_up_with_key(stack, "key-0002", BODY | {"password": "short"})
    assert bad.status == 422
    # When the client fixes the body and retries with the same key
    fixed = sign_up_with_key(stack, "key-0002")
    # Then the fixed request is processed
    assert fixed.status == 202 and kinds(stack).get("PROFILE") == 1


def test_a_duplicate_while_the_first_is_running_is_409_with_retry_after(stack, slow_hashing):
    entered, release = slow_hashing
    with ThreadPoolExecutor(1) as pool:
        # Given a sign-up with a key that is still running
        first = pool.submit(sign_up_with_key, stack, "key-0003")
        assert entered.wait(30)
        # When the same request arrives again
        duplicate = sign_up_with_key(stack, "key-0003")
        # Then it is told to come back, not failed with a 500
        assert duplicate.status == 409 and duplicate.body["code"] == "REQUEST_IN_PROGRESS"
        assert header(duplicate, "Retry-After") == "2"
        release.set()
        assert first.result(timeout=30).status == 202
    # And afterwards the same request gets the stored reply
    assert sign_up_with_key(stack, "key-0003").status == 202
    assert kinds(stack).get("PROFILE") == 1 and len(mails_to(stack, BODY["email"])) == 1


class TimedOutContext(LambdaContext):
    """A Lambda context whose invocation has already run out of time."""

    def get_remaining_time_in_millis(self) -> int:
        return -60_000


def invoke_timed_out(stack, key: str) -> dict:
    """Invoke the register handler as Lambda would, in an invocation that has run out of time."""
    ensure_event_loop()
    event = harness.http_event("POST", "/v1/accounts", "POST /v1/accounts", {},
                               {"content-type": "application/json", "idempotency-key": key}, json.dumps(BODY))
    return stack.registry.handler("RegisterFunction")(event, TimedOutContext("register", 512, 10))


def test_an_attempt_whose_lambda_timed_out_can_be_retried_with_the_same_key(stack, slow_hashing):
    entered, release = slow_hashing
    with ThreadPoolExecutor(1) as pool:
        # Given an attempt that hangs in an invocation Lambda has already timed out
        hung = pool.submit(invoke_timed_out, stack, "key-0004")
        assert entered.wait(30)
        # When the client retries with the same key
        retry = sign_up_with_key(stack, "key-0004")
        # Then the retry is served (the record of the dead attempt has expired)
        assert retry.status == 202
        release.set()
        assert hung.result(timeout=30)["statusCode"] == 202
    assert kinds(stack).get("PROFILE") == 1


def test_50_concurrent_sign_ups_with_one_address_make_exactly_one_account(stack):
    # Given 50 people (or one impatient script) signing up with the same address at the same moment
    moto_guard.install()  # moto's DynamoDB is atomic per request, as DynamoDB is
    start = threading.Barrier(50)
    body = {"email": "serentak@example.id", "password": PASSWORD, "consent": True}

    def sign_up_at_once(i: int):
        start.wait(timeout=30)
        return stack.call("POST", "/v1/accounts", body | {"password": f"{PASSWORD}-{i}"})

    # When they all call the real handler concurrently
    with ThreadPoolExecutor(50) as pool:
        replies = list(pool.map(sign_up_at_once, range(50)))
    # Then every caller gets the same neutral 202
    assert {r.status for r in replies} == {202}
    assert len({str(r.body) for r in replies}) == 1
    # And there is exactly one account, one email sentinel and one verification token; no outbox
    # item is left behind (every queued email was sent); the live funnel counted one registration
    assert kinds(stack) == {"PROFILE": 1, "EMAIL": 1, "TOKEN": 1, "FUNNEL": 1}
    profile = next(i for i in items(stack) if i["sk"] == "PROFILE")
    sentinel = next(i for i in items(stack) if i["pk"].startswith("EMAIL#"))
    token = next(i for i in items(stack) if i["pk"].startswith("TOKEN#"))
    assert sentinel["applicant_id"] == token["applicant_id"] == profile["applicant_id"]
    # And one verification email is queued; of the other 49 only the per-address limit's 3 tell
    # the owner someone tried again (issue 16: a loop of sign-ups cannot flood an inbox)
    queued = [json.loads(m["body"]) for m in queued_emails(stack)]
    assert len(queued) == 4 and {m["to"] for m in queued} == {"serentak@example.id"}
    assert sorted(m["template"] for m in queued) == ["already_registered"] * 3 + ["verify_email"]


def queued_emails(stack) -> list[dict]:
    """Every message waiting on the transactional email queue (left in flight, not sent)."""
    found: list[dict] = []
    while batch := stack.sqs_event("EmailQueue")["Records"]:
        found += batch
    return found


@pytest.mark.parametrize("key", ["k" * 129, ""], ids=["129-characters", "empty"])
def test_an_idempotency_key_outside_1_to_128_characters_is_422_and_creates_nothing(stack, key):
    # Given an Idempotency-Key that is too long or empty (a header the code reads is bounded)
    # When a sign-up carries it
    r = sign_up_with_key(stack, key, BODY | {"email": "kunci.panjang@example.id"})
    # Then it is refused in the error contract, naming the header, and no account or email exists
    assert r.status == 422 and r.body["code"] == "VALIDATION_FAILED"
    assert [f["field"] for f in r.body["fields"]] == ["Idempotency-Key"]
    assert not [i for i in items(stack) if i.get("sk") == "PROFILE"]
    assert mails_to(stack, "kunci.panjang@example.id") == []
