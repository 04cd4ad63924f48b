"""Issue 16 (items 9, 13) and issue 15 (item 1) through the real handlers: one normalised form of
an email address (stored, mailed, looked up), strict email input everywhere an address is
accepted, access tokens that end with the session (sign-out, reset, change, erasure) and carry
``iss``/``aud``, reset links that die when the password changes."""

from __future__ import annotations

import boto3
import pytest

from prakerja.adapters.secrets import keys_from_document, read_document
from prakerja.services.security import AccessTokens
from tests.integration.accounts_support import items, link, mails_to
from tests.integration.harness import REGION
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant

NEW_PASSWORD = "teh-manis-dingin-42"
BAD_ADDRESSES = ["a\u0000@b.id", "\u202ea@b.id", "a@b..id", "a@-b.id", "<script>@b.id"]


def reset_token(stack, email: str) -> str:
    assert stack.call("POST", "/v1/password-resets", {"email": email}).status == 202
    return link(mails_to(stack, email)[-1]["body"], "password-resets")


def profile_of(stack, email: str) -> dict:
    return next(i for i in items(stack) if i["sk"] == "PROFILE" and i["email"] == email)


def mint(stack, applicant_id: str, issuer: str = "prakerja", audience: str = "prakerja-api", **claims) -> str:
    """An access token signed with the stack's current JWT key (as a function would mint it),
    with other ``iss``/``aud`` or extra/removed claims (a value of None removes the claim)."""
    import jwt

    keys = keys_from_document(read_document(stack.env("SECRETS_NAME")))
    token = AccessTokens(lambda: keys, 900, issuer, audience).issue(applicant_id, "family")
    body = jwt.decode(token, options={"verify_signature": False})
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, keys.jwt_key(keys.jwt_kid), algorithm="HS256", headers={"kid": keys.jwt_kid})


# ---------------------------------------------------------------- strict email input (issue 15.1)
@pytest.mark.parametrize("address", BAD_ADDRESSES, ids=["nul", "rlo", "empty-label", "hyphen-label", "script"])
def test_sign_up_refuses_addresses_with_control_bidi_or_invalid_labels(stack, address):
    r = stack.call("POST", "/v1/accounts", {"email": address, "password": PASSWORD, "consent": True})
    assert r.status == 422 and r.body["code"] == "VALIDATION_FAILED"
    assert [(f["field"], f["code"]) for f in r.body["fields"]] == [("email", "EMAIL_INVALID")]
    assert not [i for i in items(stack) if i["sk"] == "PROFILE"]


@pytest.mark.parametrize("address", ["a+b@example.id", "first.last@example.co.id"])
def test_addresses_with_plus_and_dots_still_sign_up_and_in(stack, address):
    sign_up(stack, address)
    assert sign_in(stack, address)["access_token"]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_reset_requests_and_email_changes_refuse_bad_addresses_and_sign_in_does_not_crash(stack, address):
    access = verified_applicant(stack, "ketat@example.id")
    reset = stack.call("POST", "/v1/password-resets", {"email": address})
    change = stack.call("PUT", "/v1/me/email", {"email": address, "password": PASSWORD}, token=access)
    signin = stack.call("POST", "/v1/sessions", {"email": address, "password": PASSWORD})
    assert reset.status == change.status == 422
    for r in (reset, change):
        assert [(f["field"], f["code"]) for f in r.body["fields"]] == [("email", "EMAIL_INVALID")]
    assert signin.status == 401 and signin.body["code"] == "INVALID_CREDENTIALS"


# ---------------------------------------------------------------- one form of the address (issue 16.9)
def test_a_full_width_variant_is_the_same_account_and_mail_goes_to_the_plain_address(stack):
    # Given someone registers the full-width form of another person's address first
    sign_up(stack, "\uff56\uff49\uff43\uff54\uff49\uff4d@example.id")
    # Then what is stored and mailed is the plain address, not the variant
    assert profile_of(stack, "victim@example.id")
    assert [m["to"] for m in mails_to(stack, "victim@example.id")] == ["victim@example.id"]
    assert not [m for m in mails_to(stack, "\uff56\uff49\uff43\uff54\uff49\uff4d@example.id")]
    # When the real owner signs up and asks for a reset, the mails reach the real owner
    sign_up(stack, "victim@example.id", "sandi-pemilik-asli-1")
    assert "mencoba mendaftar" in mails_to(stack, "victim@example.id")[-1]["subject"]
    token = reset_token(stack, "victim@example.id")
    assert stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW_PASSWORD}).status == 200
    assert sign_in(stack, "victim@example.id", NEW_PASSWORD)
    assert sum(1 for i in items(stack) if i["sk"] == "PROFILE") == 1


def test_a_mixed_case_address_is_stored_in_its_normalised_form(stack):
    sign_up(stack, " Siti.Aminah@Example.ID ")
    assert profile_of(stack, "siti.aminah@example.id")
    assert sign_in(stack, "SITI.AMINAH@example.id")


def test_a_profile_stored_before_normalisation_is_mailed_at_the_normalised_form(stack):
    # Given a profile written by an earlier release (the address as typed)
    sign_up(stack, "lama.ketik@example.id")
    aid = profile_of(stack, "lama.ketik@example.id")["applicant_id"]
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))
    table.update_item(Key={"pk": f"APP#{aid}", "sk": "PROFILE"}, UpdateExpression="SET email = :e",
                      ExpressionAttributeValues={":e": "\uff2c\uff41\uff4d\uff41.Ketik@Example.id"})
    # When a reset is asked for, the link goes to the plain address
    before = len(mails_to(stack, "lama.ketik@example.id"))
    assert stack.call("POST", "/v1/password-resets", {"email": "lama.ketik@example.id"}).status == 202
    assert len(mails_to(stack, "lama.ketik@example.id")) == before + 1
    assert not [m for m in mails_to(stack, "\uff2c\uff41\uff4d\uff41.Ketik@Example.id")]


# ---------------------------------------------------------------- sessions end at once (issue 16.13)
def test_sign_out_ends_the_access_token_at_once_and_every_other_session(stack):
    sign_up(stack, "keluar@example.id")
    here, elsewhere = sign_in(stack, "keluar@example.id"), sign_in(stack, "keluar@example.id")
    assert stack.call("DELETE", "/v1/sessions", token=here["access_token"]).status == 204
    for tokens in (here, elsewhere):
        r = stack.call("GET", "/v1/me", token=tokens["access_token"])
        assert r.status == 401 and r.body["code"] == "TOKEN_EXPIRED_SESSION"
        assert stack.call("POST", "/v1/sessions/refresh", {"refresh_token": tokens["refresh_token"]}).status == 401
    # every function checks it, not only the register function
    r = stack.call("POST", "/v1/me/documents/ktp", {"content_type": "image/jpeg"}, token=here["access_token"])
    assert r.status == 401
    # and a new sign-in works
    assert stack.call("GET", "/v1/me", token=sign_in(stack, "keluar@example.id")["access_token"]).status == 200


def test_refreshed_access_tokens_carry_the_generation_and_work(stack):
    sign_up(stack, "segar@example.id")
    first = sign_in(stack, "segar@example.id")
    second = stack.call("POST", "/v1/sessions/refresh", {"refresh_token": first["refresh_token"]}).body
    assert stack.call("GET", "/v1/me", token=second["access_token"]).status == 200


def test_a_password_reset_ends_access_tokens_at_once(stack):
    sign_up(stack, "atur@example.id")
    access = sign_in(stack, "atur@example.id")["access_token"]
    token = reset_token(stack, "atur@example.id")
    assert stack.call("POST", f"/v1/password-resets/{token}", {"password": NEW_PASSWORD}).status == 200
    r = stack.call("GET", "/v1/me", token=access)
    assert r.status == 401 and r.body["code"] == "TOKEN_EXPIRED_SESSION"


def test_a_password_change_ends_other_access_tokens_and_keeps_the_new_one(stack):
    sign_up(stack, "ganti@example.id")
    other = sign_in(stack, "ganti@example.id")["access_token"]
    mine = sign_in(stack, "ganti@example.id")["access_token"]
    r = stack.call("PUT", "/v1/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                   token=mine)
    assert r.status == 200
    assert stack.call("GET", "/v1/me", token=other).status == 401
    assert stack.call("GET", "/v1/me", token=mine).status == 401
    assert stack.call("GET", "/v1/me", token=r.body["access_token"]).status == 200


def test_an_erased_accounts_access_token_is_refused_everywhere(stack):
    access = verified_applicant(stack, "hapus@example.id")
    assert stack.call("DELETE", "/v1/me", {"password": PASSWORD}, token=access).status == 204
    for method, path, body in [("GET", "/v1/me", None), ("GET", "/v1/me/biodata", None),
                               ("POST", "/v1/me/assessment", None)]:
        r = stack.call(method, path, body, token=access)
        assert r.status == 401 and r.body["code"] == "TOKEN_INVALID", path


# ---------------------------------------------------------------- iss and aud (issue 16.13)
def test_issued_access_tokens_name_the_issuer_and_audience(stack):
    import jwt

    sign_up(stack, "klaim@example.id")
    claims = jwt.decode(sign_in(stack, "klaim@example.id")["access_token"], options={"verify_signature": False})
    assert claims["iss"] == "prakerja" and claims["aud"] == "prakerja-api" and claims["gen"] == 0


def test_a_token_signed_with_our_key_for_another_audience_or_issuer_is_refused(stack):
    sign_up(stack, "lain@example.id")
    aid = profile_of(stack, "lain@example.id")["applicant_id"]
    for token in (mint(stack, aid, audience="prakerja-admin"), mint(stack, aid, issuer="someone-else")):
        r = stack.call("GET", "/v1/me", token=token)
        assert r.status == 401 and r.body["code"] == "TOKEN_INVALID"
    assert stack.call("GET", "/v1/me", token=mint(stack, aid)).status == 200


def test_tokens_from_before_the_deploy_refresh_or_count_as_generation_zero(stack):
    sign_up(stack, "lawas@example.id")
    aid = profile_of(stack, "lawas@example.id")["applicant_id"]
    # no iss/aud at all: treated like an expired token, so the client refreshes
    r = stack.call("GET", "/v1/me", token=mint(stack, aid, iss=None, aud=None))
    assert r.status == 401 and r.body["code"] == "TOKEN_EXPIRED_SESSION"
    # no generation claim: generation 0, good until the first sign-out
    legacy = mint(stack, aid, gen=None)
    assert stack.call("GET", "/v1/me", token=legacy).status == 200
    assert stack.call("DELETE", "/v1/sessions", token=legacy).status == 204
    assert stack.call("GET", "/v1/me", token=legacy).status == 401


# ---------------------------------------------------------------- reset links (issue 16.13)
def test_a_reset_link_dies_when_another_reset_link_changes_the_password(stack):
    sign_up(stack, "dua.tautan@example.id")
    first, second = reset_token(stack, "dua.tautan@example.id"), reset_token(stack, "dua.tautan@example.id")
    assert stack.call("POST", f"/v1/password-resets/{first}", {"password": NEW_PASSWORD}).status == 200
    for method, body in (("GET", None), ("POST", {"password": "sandi-ketiga-333"})):
        r = stack.call(method, f"/v1/password-resets/{second}", body)
        assert r.status == 410 and r.body["code"] == "TOKEN_EXPIRED"
    assert sign_in(stack, "dua.tautan@example.id", NEW_PASSWORD)


def test_a_reset_link_dies_when_the_signed_in_owner_changes_the_password(stack):
    sign_up(stack, "ubah@example.id")
    token = reset_token(stack, "ubah@example.id")
    access = sign_in(stack, "ubah@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                      token=access).status == 200
    r = stack.call("POST", f"/v1/password-resets/{token}", {"password": "sandi-penyerang-9"})
    assert r.status == 410 and r.body["code"] == "TOKEN_EXPIRED"
    assert sign_in(stack, "ubah@example.id", NEW_PASSWORD)


def test_a_reset_link_from_before_the_deploy_dies_after_a_later_password_change(stack, clock):
    # Given a link issued by the earlier release (no password_generation on the token)
    sign_up(stack, "tua@example.id")
    token = reset_token(stack, "tua@example.id")
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))
    stored = next(i for i in items(stack) if i["pk"].startswith("TOKEN#") and i.get("purpose") == "password_reset")
    table.update_item(Key={"pk": stored["pk"], "sk": "TOKEN"}, UpdateExpression="REMOVE password_generation")
    # Then it works while the password is unchanged...
    assert stack.call("GET", f"/v1/password-resets/{token}").status == 200
    # ...and dies once the password changes after it was issued
    clock.advance(60)
    access = sign_in(stack, "tua@example.id")["access_token"]
    assert stack.call("PUT", "/v1/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                      token=access).status == 200
    r = stack.call("POST", f"/v1/password-resets/{token}", {"password": "sandi-penyerang-9"})
    assert r.status == 410 and r.body["code"] == "TOKEN_EXPIRED"


def test_an_address_stored_by_an_earlier_release_that_the_strict_check_refuses_can_still_be_changed(stack):
    # Given a profile whose address only the earlier, looser check accepted (a trailing dot)
    sign_up(stack, "lama.titik@example.id")
    tokens = sign_in(stack, "lama.titik@example.id")
    aid = profile_of(stack, "lama.titik@example.id")["applicant_id"]
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE"))
    table.update_item(Key={"pk": f"APP#{aid}", "sk": "PROFILE"}, UpdateExpression="SET email = :e",
                      ExpressionAttributeValues={":e": "lama.titik.@example.id"})
    # When the owner changes to a new, valid address
    r = stack.call("PUT", "/v1/me/email", {"email": "baru.titik@example.id", "password": PASSWORD},
                   token=tokens["access_token"])
    # Then it is accepted (the old address is not the one being checked) and the link goes out
    assert r.status == 202, r.body
    assert mails_to(stack, "baru.titik@example.id")
