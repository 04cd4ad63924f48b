"""Sign-up, sign-in, sessions and status through the register function's real handler."""

from __future__ import annotations

from tests.integration.support import PASSWORD, mailbox, sign_in, sign_up


def test_sign_up_answers_202_and_queues_a_verification_email(stack):
    # Given a new address
    # When the applicant signs up
    r = stack.call("POST", "/v1/accounts", {"email": "Siti.Aminah@Example.id", "password": PASSWORD, "consent": True})
    # Then the reply is the neutral 202 and the email goes out once the queue is drained, to the
    # address's one (normalised) form
    assert r.status == 202 and "message" in r.body
    assert stack.drain("EmailQueue", "EmailSenderFunction") == 1
    assert mailbox()[0]["to"] == "siti.aminah@example.id"
    assert "/verifikasi-email#token=" in mailbox()[0]["body"]


def test_sign_up_with_an_existing_address_gives_the_same_reply_and_warns_the_owner(stack):
    # Given an account
    sign_up(stack, "dewi@example.id")
    # When someone signs up again with the same address in another case
    r = stack.call("POST", "/v1/accounts", {"email": " DEWI@example.id ", "password": "lain-sandi-99", "consent": True})
    # Then the reply is identical and the owner is told, not given a second account
    assert r.status == 202
    stack.drain("EmailQueue", "EmailSenderFunction")
    subjects = [m["subject"] for m in mailbox()]
    assert len(subjects) == 2 and "mencoba mendaftar" in subjects[1]
    assert stack.call("POST", "/v1/sessions", {"email": "dewi@example.id", "password": "lain-sandi-99"}).status == 401


def test_sign_up_lists_every_invalid_field_with_stable_codes(stack):
    # When every field is wrong at once
    r = stack.call("POST", "/v1/accounts", {"email": "not-an-address", "password": "short", "consent": False})
    # Then one 422 lists them all
    assert r.status == 422
    assert {f["field"]: f["code"] for f in r.body["fields"]} == {
        "email": "EMAIL_INVALID", "password": "PASSWORD_TOO_SHORT", "consent": "CONSENT_REQUIRED"}


def test_common_passwords_are_refused(stack):
    r = stack.call("POST", "/v1/accounts", {"email": "a@example.id", "password": "password123", "consent": True})
    assert r.status == 422 and r.body["fields"][0]["code"] == "PASSWORD_COMMON"


def test_missing_body_fields_are_422_in_the_error_contract_not_fastapi_detail(stack):
    r = stack.call("POST", "/v1/accounts", {"email": "a@example.id"})
    assert r.status == 422 and "detail" not in r.body
    assert {f["field"] for f in r.body["fields"]} == {"password", "consent"}
    assert all(f["code"] == "REQUIRED" for f in r.body["fields"])


def test_malformed_json_is_a_400_with_a_stable_code(stack):
    r = stack.call("POST", "/v1/accounts", "{not json")
    assert r.status == 400 and r.body["code"] == "INVALID_JSON"


def test_messages_are_indonesian_by_default_and_english_on_request(stack):
    body = {"email": "x", "password": PASSWORD, "consent": True}
    assert stack.call("POST", "/v1/accounts", body).body["message"].startswith("Data")
    english = stack.call("POST", "/v1/accounts", body, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.body["message"] == "The submitted data is not valid."


def test_wrong_password_and_unknown_email_fail_alike(stack):
    sign_up(stack, "eko@example.id")
    wrong = stack.call("POST", "/v1/sessions", {"email": "eko@example.id", "password": "salah-sandi-00"})
    unknown = stack.call("POST", "/v1/sessions", {"email": "nobody@example.id", "password": PASSWORD})
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body


def test_unverified_accounts_may_sign_in_and_see_their_status(stack):
    sign_up(stack, "fajar@example.id")
    tokens = sign_in(stack, "fajar@example.id")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    me = stack.call("GET", "/v1/me", token=tokens["access_token"])
    assert me.status == 200
    assert {k: v["status"] for k, v in me.body["steps"].items()} == {
        "email": "PENDING", "ktp": "NOT_STARTED", "nik": "NOT_STARTED", "assessment": "NOT_STARTED",
        "batch": "NOT_JOINED"}


def test_me_needs_a_token(stack):
    r = stack.call("GET", "/v1/me")
    assert r.status == 401 and r.body["code"] == "UNAUTHENTICATED"
    assert stack.call("GET", "/v1/me", token="garbage").body["code"] == "TOKEN_INVALID"


def test_access_tokens_expire_on_the_project_clock(stack, clock):
    sign_up(stack, "gita@example.id")
    access = sign_in(stack, "gita@example.id")["access_token"]
    clock.advance(15 * 60 + 1)
    r = stack.call("GET", "/v1/me", token=access)
    assert r.status == 401 and r.body["code"] == "TOKEN_EXPIRED_SESSION"


def test_refresh_rotates_and_reuse_revokes_the_family(stack):
    sign_up(stack, "hadi@example.id")
    first = sign_in(stack, "hadi@example.id")
    second = stack.call("POST", "/v1/sessions/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status == 200 and second.body["refresh_token"] != first["refresh_token"]
    # reusing the rotated token is theft: the whole family dies, the newer token too
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": first["refresh_token"]}).status == 401
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": second.body["refresh_token"]}).status == 401


def test_sign_out_revokes_the_refresh_token(stack):
    sign_up(stack, "indah@example.id")
    tokens = sign_in(stack, "indah@example.id")
    assert stack.call("DELETE", "/v1/sessions", token=tokens["access_token"]).status == 204
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
