"""Limits on the emails a request can cause (issue 16 item 3): per target address, the same
neutral 202 and no email past the limit; per client address, 429 with Retry-After. Measured on
the project clock, through the functions' real handlers."""

from __future__ import annotations

from tests.integration.accounts_support import call_from, header, mails_to, restart
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant

HOME, CAFE = "182.253.10.20", "36.72.200.1"
ALREADY = "Ada yang mencoba mendaftar dengan email Anda / Someone tried to register with your email"


def sign_up_from(stack, address: str, email: str, headers: dict | None = None):
    return call_from(stack, address, "POST", "/v1/accounts", "/v1/accounts",
                     {"email": email, "password": PASSWORD, "consent": True}, headers=headers)


def subjects(stack, address: str) -> list[str]:
    return [m["subject"] for m in mails_to(stack, address)]


def test_ten_sign_ups_for_an_existing_address_mail_its_owner_at_most_three_times(stack):
    # Given an account
    sign_up(stack, "pemilik@example.id")
    # When someone signs up with its address 10 times (from 10 client addresses) within the hour
    replies = [sign_up_from(stack, f"36.72.1.{i}", "Pemilik@example.id") for i in range(10)]
    # Then every reply is the same neutral 202
    assert {r.status for r in replies} == {202} and len({str(r.body) for r in replies}) == 1
    # And the owner gets the first account's verification link and at most 3 notices
    sent = subjects(stack, "pemilik@example.id") + subjects(stack, "Pemilik@example.id")
    assert sent.count(ALREADY) == 3 and len(sent) == 4


def test_the_notices_start_again_in_the_next_window(stack, clock):
    sign_up(stack, "jendela@example.id")
    for _ in range(4):
        sign_up_from(stack, CAFE, "jendela@example.id")
    clock.advance(3600)
    assert sign_up_from(stack, CAFE, "jendela@example.id").status == 202
    assert subjects(stack, "jendela@example.id").count(ALREADY) == 4


def test_ten_email_change_requests_to_one_address_mail_it_at_most_three_times(stack):
    # Given a signed-in applicant
    access = verified_applicant(stack, "pengganggu@example.id")
    before = len(mails_to(stack, "pengganggu@example.id"))  # its verification mail
    # When they ask 10 times to move their account to someone else's address
    replies = [stack.call("PUT", "/v1/me/email", {"email": "korban@example.id", "password": PASSWORD}, token=access)
               for _ in range(10)]
    # Then every reply is the same 202, the other address gets at most 3 links and the
    # account's own address at most 3 notices
    assert {r.status for r in replies} == {202} and len({str(r.body) for r in replies}) == 1
    assert len(mails_to(stack, "korban@example.id")) == 3
    assert len(mails_to(stack, "pengganggu@example.id")) - before == 3


def test_ten_email_changes_to_an_address_with_an_account_mail_it_at_most_three_times(stack):
    access = verified_applicant(stack, "usil@example.id")
    sign_up(stack, "punya.akun@example.id")
    before = len(mails_to(stack, "punya.akun@example.id"))
    replies = [stack.call("PUT", "/v1/me/email", {"email": "punya.akun@example.id", "password": PASSWORD},
                          token=access) for _ in range(10)]
    assert {r.status for r in replies} == {202}
    assert len(mails_to(stack, "punya.akun@example.id")) - before == 3


def test_one_client_address_past_its_mail_limit_gets_429_with_retry_after(stack, monkeypatch, clock):
    # Given a per-client limit of 3 emails an hour
    restart(stack, monkeypatch, mail_max_per_client=3)
    # When one address signs up 3 new accounts and then asks for more mail of any kind
    assert [sign_up_from(stack, HOME, f"warga{i}@example.id").status for i in range(3)] == [202] * 3
    signup = sign_up_from(stack, HOME, "warga9@example.id")
    reset = call_from(stack, HOME, "POST", "/v1/password-resets", "/v1/password-resets",
                      {"email": "tidak-ada@example.id"})
    # Then it is told to wait, in the error contract, and nothing more is sent
    for r in (signup, reset):
        assert r.status == 429 and r.body["code"] == "TOO_MANY_ATTEMPTS"
        assert 1 <= int(header(r, "Retry-After")) <= 3600
    assert mails_to(stack, "warga9@example.id") == []
    # While another address goes on, and the first one does again after the wait
    assert sign_up_from(stack, CAFE, "warga9@example.id").status == 202
    clock.advance(int(header(signup, "Retry-After")))
    assert sign_up_from(stack, HOME, "warga10@example.id").status == 202


def test_password_resets_count_against_the_client_limit_for_unknown_addresses_too(stack, monkeypatch):
    restart(stack, monkeypatch, mail_max_per_client=2)
    sign_up_from(stack, CAFE, "ada@example.id")
    statuses = [call_from(stack, HOME, "POST", "/v1/password-resets", "/v1/password-resets", {"email": e}).status
                for e in ("tidak-ada@example.id", "juga-tidak@example.id", "ada@example.id")]
    # the third is refused although it names a real account: the 429 says nothing about accounts
    assert statuses == [202, 202, 429]


def test_an_idempotent_replay_counts_once_and_sends_once(stack, monkeypatch):
    # Given a per-client limit of 2 and a sign-up with an Idempotency-Key
    restart(stack, monkeypatch, mail_max_per_client=2)
    key = {"Idempotency-Key": "2b7e1516-28ae-4d2a-a6ab-f7158809cf4f"}
    first = sign_up_from(stack, HOME, "ulang@example.id", key)
    # When the client replays it 3 times
    replays = [sign_up_from(stack, HOME, "ulang@example.id", key) for _ in range(3)]
    # Then every replay gets the first reply, no email is sent again and one unit is used
    assert {r.status for r in [first, *replays]} == {202} and len({str(r.body) for r in [first, *replays]}) == 1
    assert len(mails_to(stack, "ulang@example.id")) == 1
    assert sign_up_from(stack, HOME, "lain@example.id").status == 202
    assert sign_up_from(stack, HOME, "lain2@example.id").status == 429


def test_verification_resends_count_against_the_client_limit(stack, monkeypatch):
    # Given a per-client limit of 2, one of them used by the sign-up itself
    restart(stack, monkeypatch, mail_max_per_client=2)
    sign_up(stack, "kirim.ulang@example.id")
    access = sign_in(stack, "kirim.ulang@example.id")["access_token"]
    # When the applicant asks for the link again twice from the same address
    replies = [stack.call("POST", "/v1/email-verifications", token=access) for _ in range(2)]
    # Then the second is refused by the client limit (the per-applicant limit is 5)
    assert [r.status for r in replies] == [202, 429] and replies[1].body["code"] == "TOO_MANY_ATTEMPTS"
    assert header(replies[1], "Retry-After")
