"""Self-service through the real handlers and the mailbox: password reset, change password,
change email, account deletion, consent withdrawal, hash upgrades."""

from __future__ import annotations

from tests.integration.accounts_support import items, kinds, link, mails_to, restart
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant
from tests.integration.test_batches import add_batch
from tests.integration.test_biodata_nik import form

NEW = "teh-manis-dingin-42"


def reset_token(stack, email: str) -> str:
    assert stack.call("POST", "/v1/password-resets", {"email": email}).status == 202
    return link(mails_to(stack, email)[-1]["body"], "password-resets")


# ---------------------------------------------------------------- password reset
def test_a_password_reset_by_email_works_end_to_end(stack):
    # Given an account and a request for a reset link
    sign_up(stack, "rudi+lupa@example.id")
    token = reset_token(stack, "rudi+lupa@example.id")
    # When the link is described and then used with a new password
    assert stack.call("GET", f"/v1/password-resets/{token}").body["status"] == "VALID"
    r = stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW})
    # Then the new password signs in and the old one does not
    assert r.status == 200 and r.body == {"status": "PASSWORD_RESET"}
    assert sign_in(stack, "rudi+lupa@example.id", NEW)["access_token"]
    assert stack.call("POST", "/v1/sessions", {"email": "rudi+lupa@example.id", "password": PASSWORD}).status == 401
    # And the owner is told by email
    assert "diubah" in mails_to(stack, "rudi+lupa@example.id")[-1]["subject"]


def test_a_reset_link_works_once(stack):
    sign_up(stack, "sari@example.id")
    token = reset_token(stack, "sari@example.id")
    assert stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW}).status == 200
    again = stack.call("POST", f"/v1/password-resets/{token}", {"password": "lagi-sandi-baru-1"})
    assert again.status == 410 and again.body["code"] == "TOKEN_USED"


def test_a_reset_link_expires_after_an_hour(stack, clock):
    sign_up(stack, "tono@example.id")
    token = reset_token(stack, "tono@example.id")
    clock.advance(3600 + 1)
    r = stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW})
    assert r.status == 410 and r.body["code"] == "TOKEN_EXPIRED"


def test_a_reset_ends_every_session(stack):
    # Given two signed-in devices
    sign_up(stack, "umar@example.id")
    phone, laptop = sign_in(stack, "umar@example.id"), sign_in(stack, "umar@example.id")
    # When the password is reset
    token = reset_token(stack, "umar@example.id")
    stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW})
    # Then neither refresh token works any more
    for session in (phone, laptop):
        r = stack.call("POST", "/v1/sessions/refresh", {"refresh_token": session["refresh_token"]})
        assert r.status == 401 and r.body["code"] == "REFRESH_INVALID"


def test_a_reset_request_answers_the_same_for_unknown_addresses(stack):
    sign_up(stack, "vina@example.id")
    known = stack.call("POST", "/v1/password-resets", {"email": "vina@example.id"})
    unknown = stack.call("POST", "/v1/password-resets", {"email": "siapa@example.id"})
    assert known.status == unknown.status == 202 and known.body == unknown.body
    assert mails_to(stack, "siapa@example.id") == []


def test_a_reset_password_follows_the_password_policy(stack):
    sign_up(stack, "wawan@example.id")
    token = reset_token(stack, "wawan@example.id")
    r = stack.call("POST", f"/v1/password-resets/{token}", {"password": "password123"})
    assert r.status == 422 and r.body["fields"][0] == {"field": "password", "code": "PASSWORD_COMMON",
                                                      "message": "Kata sandi ini terlalu umum. Pilih yang lain."}
    assert stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW}).status == 200


# ---------------------------------------------------------------- change password
def test_changing_the_password_ends_other_sessions_and_keeps_the_callers(stack):
    # Given two sessions
    sign_up(stack, "yanti@example.id")
    phone, laptop = sign_in(stack, "yanti@example.id"), sign_in(stack, "yanti@example.id")
    # When the password is changed on the phone
    r = stack.call("PUT", "/v1/me/password", {"current_password": PASSWORD, "new_password": NEW},
                   token=phone["access_token"])
    # Then the phone gets a fresh session, the laptop's is dead, and only the new password works
    assert r.status == 200
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": r.body["refresh_token"]}).status == 200
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": laptop["refresh_token"]}).status == 401
    assert sign_in(stack, "yanti@example.id", NEW)


def test_changing_the_password_needs_the_current_one(stack):
    sign_up(stack, "zaki@example.id")
    access = sign_in(stack, "zaki@example.id")["access_token"]
    r = stack.call("PUT", "/v1/me/password", {"current_password": "bukan-sandi-ku", "new_password": NEW},
                   token=access)
    assert r.status == 422 and r.body["fields"][0]["field"] == "current_password"
    assert r.body["fields"][0]["code"] == "PASSWORD_WRONG"
    assert sign_in(stack, "zaki@example.id")


# ---------------------------------------------------------------- change email
def test_an_email_change_takes_effect_only_when_the_new_address_confirms(stack):
    # Given a verified applicant who asks to move to a new address
    access = verified_applicant(stack, "ani.lama@example.id")
    r = stack.call("PUT", "/v1/me/email", {"email": "Ani.Baru+prakerja@example.id", "password": PASSWORD},
                   token=access)
    assert r.status == 202
    # Then the old address is told and the new one gets a link, but nothing has changed yet
    assert "perubahan email" in mails_to(stack, "ani.lama@example.id")[-1]["subject"]
    token = link(mails_to(stack, "ani.baru+prakerja@example.id")[-1]["body"], "email-verifications")
    assert stack.call("GET", "/v1/me", token=access).body["email"] == "ani.lama@example.id"
    assert stack.call("GET", f"/v1/email-verifications/{token}").body["purpose"] == "change_email"
    # When the new address confirms
    confirmed = stack.call("POST", f"/v1/email-verifications/{token}")
    # Then the account lives at the new address (verified), and the old address is free
    assert confirmed.status == 200 and confirmed.body["email_changed"] is True
    me = stack.call("GET", "/v1/me", token=access).body
    assert me["email"] == "ani.baru+prakerja@example.id" and me["steps"]["email"]["status"] == "VERIFIED"
    assert sign_in(stack, "ani.baru+prakerja@example.id")
    assert stack.call("POST", "/v1/sessions", {"email": "ani.lama@example.id", "password": PASSWORD}).status == 401
    sign_up(stack, "ani.lama@example.id")
    assert "Konfirmasi email" in mails_to(stack, "ani.lama@example.id")[-1]["subject"]


def test_an_email_change_link_works_once(stack):
    access = verified_applicant(stack, "bayu@example.id")
    stack.call("PUT", "/v1/me/email", {"email": "bayu2@example.id", "password": PASSWORD}, token=access)
    token = link(mails_to(stack, "bayu2@example.id")[-1]["body"], "email-verifications")
    assert stack.call("POST", f"/v1/email-verifications/{token}").status == 200
    assert stack.call("POST", f"/v1/email-verifications/{token}").body["code"] == "TOKEN_USED"


def test_an_address_taken_before_the_confirmation_is_409_and_nothing_changes(stack):
    # Given a pending change to an address
    access = verified_applicant(stack, "citra@example.id")
    stack.call("PUT", "/v1/me/email", {"email": "rebutan@example.id", "password": PASSWORD}, token=access)
    token = link(mails_to(stack, "rebutan@example.id")[-1]["body"], "email-verifications")
    # When someone else registers that address first
    sign_up(stack, "rebutan@example.id")
    # Then the confirmation is refused and both accounts keep their addresses
    r = stack.call("POST", f"/v1/email-verifications/{token}")
    assert r.status == 409 and r.body["code"] == "EMAIL_TAKEN"
    assert stack.call("GET", "/v1/me", token=access).body["email"] == "citra@example.id"
    assert sign_in(stack, "citra@example.id") and sign_in(stack, "rebutan@example.id")


def test_changing_to_an_address_with_an_account_sends_a_notice_not_a_link(stack):
    access = verified_applicant(stack, "dedi@example.id")
    sign_up(stack, "sudah.ada@example.id")
    r = stack.call("PUT", "/v1/me/email", {"email": "sudah.ada@example.id", "password": PASSWORD}, token=access)
    assert r.status == 202
    last = mails_to(stack, "sudah.ada@example.id")[-1]
    assert "sudah terdaftar" in last["subject"]
    assert "verifikasi-email" not in last["body"] and "/v1/email-verifications/" not in last["body"]


def test_changing_the_email_needs_the_password_and_a_new_address(stack):
    access = verified_applicant(stack, "eka@example.id")
    wrong = stack.call("PUT", "/v1/me/email", {"email": "eka2@example.id", "password": "bukan-sandi"}, token=access)
    same = stack.call("PUT", "/v1/me/email", {"email": " EKA@example.id", "password": PASSWORD}, token=access)
    assert wrong.status == same.status == 422
    assert wrong.body["fields"][0]["code"] == "PASSWORD_WRONG" and same.body["fields"][0]["code"] == "EMAIL_UNCHANGED"


# ---------------------------------------------------------------- deletion
def test_deleting_the_account_removes_every_item_and_frees_email_and_nik(stack):
    # Given a verified applicant who has submitted biodata (so a NIK is claimed)
    access = verified_applicant(stack, "fitri@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=access).status in (200, 202)
    aid = stack.call("GET", "/v1/me", token=access).body["applicant_id"]
    session = sign_in(stack, "fitri@example.id")
    # When the account is deleted with its password
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=access).status == 204
    # Then no item of the applicant, no email or NIK sentinel remains; its sessions are dead
    left = items(stack)
    assert not [i for i in left if i["pk"] == f"APP#{aid}"]
    assert "EMAIL" not in kinds(stack) and "NIK" not in kinds(stack)
    assert stack.call("GET", "/v1/me", token=access).status == 401
    assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": session["refresh_token"]}).status == 401
    # And the same address and NIK can be used by a new account
    again = verified_applicant(stack, "fitri@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=again).status in (200, 202)


def test_deleting_the_account_needs_the_password(stack):
    sign_up(stack, "gilang@example.id")
    access = sign_in(stack, "gilang@example.id")["access_token"]
    r = stack.call("DELETE", "/v1/me", {"password": "bukan-sandi"}, token=access)
    assert r.status == 422 and r.body["fields"][0]["code"] == "PASSWORD_WRONG"
    assert stack.call("GET", "/v1/me", token=access).status == 200


# ---------------------------------------------------------------- consent
def test_withdrawn_consent_is_shown_and_stops_biodata_the_test_and_joining(stack):
    # Given a verified applicant who withdraws consent
    add_batch(stack, "2026-01", -1, 48, 72, 10)
    access = verified_applicant(stack, "hana@example.id")
    r = stack.call("DELETE", "/v1/me/consent", token=access)
    assert r.status == 200 and r.body["consent"]["withdrawn_at"] == "2026-04-11T03:00:00Z"
    # Then the status shows it
    consent = stack.call("GET", "/v1/me", token=access).body["consent"]
    assert consent == {"version": "2020-04", "given_at": "2026-04-11T03:00:00Z", "withdrawn_at": "2026-04-11T03:00:00Z"}
    # And biodata, the test and joining a batch are refused
    for method, path, body in (("PUT", "/v1/me/biodata", form()), ("POST", "/v1/me/assessment", None),
                               ("POST", "/v1/batches/2026-01/participants", None)):
        refused = stack.call(method, path, body, token=access)
        assert refused.status == 403 and refused.body["code"] == "CONSENT_WITHDRAWN", path


def test_consent_given_again_lets_processing_go_on(stack, clock):
    access = verified_applicant(stack, "irma@example.id")
    stack.call("DELETE", "/v1/me/consent", token=access)
    clock.advance(60)
    r = stack.call("PUT", "/v1/me/consent", {"consent": True}, token=access)
    assert r.status == 200 and r.body["consent"] == {"version": "2020-04", "given_at": "2026-04-11T03:01:00Z",
                                                     "withdrawn_at": None}
    assert stack.call("PUT", "/v1/me/biodata", form(), token=access).status in (200, 202)


# ---------------------------------------------------------------- password hashes
def test_hashes_are_upgraded_on_sign_in_when_the_parameters_rise(stack, monkeypatch):
    # Given an account hashed with low parameters
    restart(stack, monkeypatch, argon2_memory_kib=8192, argon2_iterations=1)
    sign_up(stack, "joni@example.id")
    stored = lambda: next(i for i in items(stack) if i["sk"] == "PROFILE")["password_hash"]  # noqa: E731
    assert "$m=8192,t=1,p=1$" in stored()
    # When the parameters rise (a new deployment) and the applicant signs in
    restart(stack, monkeypatch, argon2_memory_kib=None, argon2_iterations=None)
    sign_in(stack, "joni@example.id")
    # Then the stored hash uses the new parameters, and the password still works
    assert "$m=19456,t=2,p=1$" in stored()
    assert sign_in(stack, "joni@example.id")
