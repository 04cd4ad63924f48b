"""Key rotation through ``prakerja-ops keys rotate|rekey|status`` on moto with the real handlers:
an applicant registered before an HMAC rotation is still found (sign-in, sign-up of the same
address, the same NIK, password reset, bounces) before and after the re-key; access tokens
issued before a JWT rotation still verify; the re-key is idempotent and leaves nothing under the
previous key id.

The functions read the secret through Powertools Parameters (cached five minutes); the ops
command writes the new version in this same process and forgets the cached copy, as a function
would after its cache age."""

from __future__ import annotations

import io
import json

import boto3
import jwt

from prakerja.adapters import secrets as secrets_adapter
from prakerja.adapters.secrets import keys_from_document, read_document
from prakerja.services.keys import ACTIVATION_SECONDS, REKEY_GRACE_SECONDS
from prakerja.services.security import AccessTokens
from prakerja_ops.cli import main as ops_main
from tests.integration.accounts_support import items, link, mails_to
from tests.integration.harness import REGION
from tests.integration.support import PASSWORD, sign_in, sign_up, verified_applicant
from tests.integration.test_biodata_nik import NIK, form, register_person
from tests.integration.test_sender_bounces import BOUNCES, bounce

NEW_PASSWORD = "teh-manis-dingin-42"


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def secret(stack) -> dict:
    return read_document(stack.env("SECRETS_NAME"))


def under(stack, kid: str) -> list[dict]:
    """Items of the Applicants table keyed under the HMAC key id ``kid``."""
    return [i for i in items(stack) if kid in (i.get("kid"), i.get("email_kid"), i.get("nik_kid"))]


def profiles_of(stack, address: str) -> int:
    return sum(1 for i in items(stack) if i["sk"] == "PROFILE" and i["email"].lower() == address.lower())


def rotate_hmac() -> str:
    code, out, err = ops("keys", "rotate", "hmac", "--yes")
    assert code == 0, err
    return out


def rekey_after_grace(clock) -> str:
    clock.advance(REKEY_GRACE_SECONDS + 1)
    code, out, err = ops("keys", "rekey")
    assert code == 0, err
    return out


def assert_still_found(stack, address: str, nik_rival_token: str) -> None:
    """Every lookup of an applicant registered before the rotation still finds it."""
    # sign-in works
    assert sign_in(stack, address)["access_token"]
    # the address counts as already registered: no second account, its owner gets a notice
    sign_up(stack, address, "password-lain-99")
    assert profiles_of(stack, address) == 1
    assert "mencoba mendaftar" in mails_to(stack, address)[-1]["subject"]
    # its NIK counts as used
    r = stack.call("PUT", "/v1/me/biodata", form(), token=nik_rival_token)
    assert r.status == 409 and r.body["code"] == "NIK_ALREADY_USED"
    # a password reset mail is found and sent
    before = len(mails_to(stack, address))
    assert stack.call("POST", "/v1/password-resets", {"email": address}).status == 202
    assert len(mails_to(stack, address)) == before + 1


# ---------------------------------------------------------------- HMAC rotation
def test_hmac_rotation_an_applicant_registered_before_rotation_is_still_found(stack, clock, ministry):
    # Given an applicant with a verified email and verified biodata (email and NIK sentinels under h1)
    address = "lama.terdaftar@example.id"
    register_person(ministry)
    token = verified_applicant(stack, address)
    assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    assert {i["pk"].split("#")[0] for i in under(stack, "h1") if i["sk"] == "SENTINEL"} == {"EMAIL", "NIK"}
    # When the HMAC key is rotated
    out = rotate_hmac()
    # Then the command says what happens and when the functions see it
    assert "hmac key rotated: h1 -> h2" in out and "within 300 s" in out and "keys rekey" in out
    assert secret(stack)["previous_hmac_kids"] == ["h1"]
    # And until h2 is current everywhere (a function may still hold the secret without h2), new
    # items are still written under h1, while every lookup already tries h2 too
    verified_applicant(stack, "sebelum.aktif@example.id")
    early_profile = next(i for i in items(stack) if i["sk"] == "PROFILE" and i["email"].startswith("sebelum."))
    assert early_profile["email_kid"] == "h1"
    assert "re-key not started" in ops("keys", "rekey")[1]
    # When the new kid becomes current (the functions' cache age after the rotation)
    clock.advance(ACTIVATION_SECONDS + 1)
    # Then the applicant is still found by every lookup, while new items are written under h2
    rival = verified_applicant(stack, "baru.setelah.rotasi@example.id")
    assert_still_found(stack, address, rival)
    rival_profile = next(i for i in items(stack) if i["sk"] == "PROFILE" and i["email"].startswith("baru."))
    assert rival_profile["email_kid"] == "h2"
    # When the re-key runs after the functions' cache age
    out = rekey_after_grace(clock)
    # Then it is complete, the previous kid is dropped and nothing is left under h1
    assert "re-key complete: previous kid h1 dropped" in out
    assert under(stack, "h1") == []
    assert secret(stack)["previous_hmac_kids"] == []
    # And the applicant is still found by every lookup
    assert_still_found(stack, address, rival)


def test_a_bounce_for_an_address_registered_before_rotation_still_marks_it(stack):
    # Given an applicant registered under h1, and an HMAC rotation
    arn = stack.resources.ref("SesNotificationsTopic")
    sns = boto3.client("sns", region_name=REGION)
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=stack.resources.att("BounceQueue", "Arn"))
    token = verified_applicant(stack, "pantul@example.id")
    rotate_hmac()
    # When SES reports a hard bounce for the address
    sns.publish(TopicArn=arn, Message=json.dumps(bounce("pantul@example.id")))
    stack.drain("BounceQueue", BOUNCES)
    # Then the applicant (found under h1) is marked
    assert stack.call("GET", "/v1/me", token=token).body["steps"]["email"]["status"] == "UNDELIVERABLE"


def test_links_sent_before_a_rotation_work_after_the_rekey(stack, clock):
    # Given a reset link and an email-change link issued under h1
    address = "tautan@example.id"
    token = verified_applicant(stack, address)
    stack.call("POST", "/v1/password-resets", {"email": address})
    reset = link(mails_to(stack, address)[-1]["body"], "password-resets")
    r = stack.call("PUT", "/v1/me/email", {"email": "tautan.baru@example.id", "password": PASSWORD}, token=token)
    assert r.status == 202, r.body
    change = link(mails_to(stack, "tautan.baru@example.id")[-1]["body"], "email-verifications")
    # When the HMAC key is rotated and every lookup re-keyed
    rotate_hmac()
    assert "re-key complete" in rekey_after_grace(clock)
    # Then both links still work, and the new address is written under h2
    assert stack.call("POST", f"/v1/password-resets/{reset}", {"password": NEW_PASSWORD}).status == 200
    assert stack.call("POST", f"/v1/email-verifications/{change}").status == 200
    assert sign_in(stack, "tautan.baru@example.id", NEW_PASSWORD)["access_token"]
    sentinels = [i for i in items(stack) if i["pk"].startswith("EMAIL#")]
    assert [i["kid"] for i in sentinels] == ["h2"]
    # And the old address is free again
    sign_up(stack, address)
    assert profiles_of(stack, address) == 1


def test_a_sign_up_that_misses_the_previous_kid_sentinel_still_cannot_take_the_address(stack, monkeypatch):
    # Given an address registered under h1, an HMAC rotation, and a sign-up whose read of the
    # previous kid's sentinel comes too late (it sees the address free)
    address = "balapan@example.id"
    sign_up(stack, address)
    rotate_hmac()
    from prakerja.services import accounts

    monkeypatch.setattr(accounts, "find_email", lambda *args: None)
    # When the same address signs up again
    sign_up(stack, address, "password-lain-99")
    # Then the transaction's check on the h1 sentinel refuses it: still one account, no h2 sentinel
    assert profiles_of(stack, address) == 1
    assert [i["kid"] for i in items(stack) if i["pk"].startswith("EMAIL#")] == ["h1"]
    assert "mencoba mendaftar" in mails_to(stack, address)[-1]["subject"]


def test_a_second_hmac_rotation_waits_for_the_rekey(stack, clock):
    # Given an HMAC rotation whose re-key has not dropped h1 yet
    sign_up(stack, "tunggu@example.id")
    rotate_hmac()
    # When the operator rotates again at once, it is refused: h2 is not even current yet
    code, _, err = ops("keys", "rotate", "hmac", "--yes")
    assert code == 2 and "KEYS_ROTATION_PENDING" in err
    # When the operator rotates again once h2 is current
    clock.advance(ACTIVATION_SECONDS + 1)
    code, _, err = ops("keys", "rotate", "hmac", "--yes")
    # Then it is refused, naming the unfinished re-key
    assert code == 2 and "KEYS_REKEY_UNFINISHED" in err
    # And after the re-key it works, with a new kid of fresh material
    rekey_after_grace(clock)
    assert "h2 -> h3" in rotate_hmac()
    document = secret(stack)
    assert set(document["keys"]) == {"h2", "h3"} and document["previous_hmac_kids"] == ["h2"]


def test_rotate_without_yes_and_without_a_terminal_is_refused(stack):
    code, _, err = ops("keys", "rotate", "jwt")
    assert code == 1 and "needs --yes" in err
    assert secret(stack)["jwt_kid"] == "k1"


# ---------------------------------------------------------------- re-key
def test_rekey_is_idempotent_resumable_and_leaves_no_previous_key_items(stack, clock, monkeypatch, ministry):
    # Given three applicants with biodata under h1 (two verified, so with NIK sentinels; one
    # rejected, so without), a rotation, and a stale h1 sentinel of a gone applicant
    tokens = [verified_applicant(stack, f"ulang{n}@example.id") for n in range(3)]
    for n, token in enumerate(tokens):
        nik = NIK[:-1] + str(n + 2)
        if n < 2:
            register_person(ministry, nik=nik)
        assert stack.call("PUT", "/v1/me/biodata", form(nik=nik), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE")).put_item(
        Item={"pk": "EMAIL#" + "0" * 64, "sk": "SENTINEL", "applicant_id": "f" * 32, "kid": "h1"})
    rotate_hmac()
    clock.advance(ACTIVATION_SECONDS + 1)  # the re-key starts once h2 is current
    # When a first pass is interrupted after one applicant
    from prakerja.services import keys as keys_service

    real = keys_service.KeyManager.rekey_applicant
    calls = []

    def interrupted(self, applicant_id, keys, attempts=3):
        if applicant_id != "f" * 32:
            if calls:
                raise KeyboardInterrupt
            calls.append(applicant_id)
        return real(self, applicant_id, keys, attempts)

    monkeypatch.setattr(keys_service.KeyManager, "rekey_applicant", interrupted)
    try:
        ops("keys", "rekey")
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(keys_service.KeyManager, "rekey_applicant", real)
    # Then status shows what is left
    code, out, _ = ops("keys", "status")
    assert code == 0 and "re-key unfinished" in out and "previous h1" in out
    # When the re-key runs again after the cache age
    out = rekey_after_grace(clock)
    # Then it finishes the rest, removes the stale sentinel and drops h1
    assert "2 applicants re-keyed" in out and "h1 dropped" in out
    assert under(stack, "h1") == []
    biodata = [i for i in items(stack) if i["sk"] == "BIODATA"]
    assert len(biodata) == 3 and {i["nik_kid"] for i in biodata} == {"h2"}
    sentinels = {i["pk"]: i for i in items(stack) if i["sk"] == "SENTINEL"}
    verified = [i for i in biodata if i["check"]["result"] == "VERIFIED"]
    assert len(verified) == 2 and all(sentinels[f"NIK#{i['nik_key']}"]["applicant_id"] == i["pk"][4:]
                                      and sentinels[f"NIK#{i['nik_key']}"]["verified_at"] for i in verified)
    # and the rejected one got no sentinel from the re-key
    assert len([k for k in sentinels if k.startswith("NIK#")]) == 2
    # When it runs once more
    before = sorted(json.dumps(i, sort_keys=True, default=str) for i in items(stack))
    code, out, _ = ops("keys", "rekey")
    # Then nothing changes
    assert code == 0 and "nothing to re-key" in out
    assert sorted(json.dumps(i, sort_keys=True, default=str) for i in items(stack)) == before
    # And status says there is no previous kid
    assert "no previous kid" in ops("keys", "status")[1]


def test_rekey_waits_until_the_new_kid_is_current_everywhere(stack, clock):
    # Given an HMAC rotation a moment ago (a function may still hold the secret without h2)
    sign_up(stack, "sabar@example.id")
    rotate_hmac()
    before = under(stack, "h1")
    # When the re-key runs at once
    code, out, _ = ops("keys", "rekey")
    # Then it moves nothing and says when it can start
    assert code == 0 and "re-key not started: h2 becomes current at" in out
    assert under(stack, "h1") == before and under(stack, "h2") == []
    state = json.loads(ops("keys", "status", "--json")[1])
    assert state["hmac"]["current"] == "h1" and state["hmac"]["next"] == "h2"
    # When it runs again once h2 is current
    clock.advance(ACTIVATION_SECONDS + 1)
    out = ops("keys", "rekey")[1]
    # Then it moves everything and drops h1
    assert "1 applicants re-keyed" in out and "h1 dropped" in out
    assert under(stack, "h1") == [] and secret(stack)["previous_hmac_kids"] == []


def test_rekey_keeps_the_nik_sentinel_of_an_applicant_whose_biodata_expired(stack, clock, ministry):
    # Given a verified applicant whose biodata was removed by retention (the NIK sentinel under h1 stays)
    register_person(ministry)
    token = verified_applicant(stack, "kedaluwarsa@example.id")
    assert stack.call("PUT", "/v1/me/biodata", form(), token=token).status == 202
    stack.drain("NikQueue", "NikWorkerFunction")
    biodata = next(i for i in items(stack) if i["sk"] == "BIODATA")
    boto3.resource("dynamodb", region_name=REGION).Table(stack.env("APPLICANTS_TABLE")).delete_item(
        Key={"pk": biodata["pk"], "sk": "BIODATA"})
    # When the HMAC key is rotated and the re-key runs once the new kid is current
    rotate_hmac()
    clock.advance(ACTIVATION_SECONDS + 1)
    out = ops("keys", "rekey")[1]
    # Then the NIK sentinel stays (its NIK cannot be re-keyed without the plaintext), and so does h1
    assert [i for i in under(stack, "h1") if str(i["pk"]).startswith("NIK#")]
    assert "re-key unfinished" in out and secret(stack)["previous_hmac_kids"] == ["h1"]
    # And the NIK still counts as used
    rival = verified_applicant(stack, "pesaing@example.id")
    r = stack.call("PUT", "/v1/me/biodata", form(), token=rival)
    assert r.status == 409 and r.body["code"] == "NIK_ALREADY_USED"


# ---------------------------------------------------------------- JWT rotation
def test_jwt_rotation_old_tokens_verify_until_expiry_and_new_ones_carry_the_new_kid(stack, clock):
    # Given a signed-in applicant whose access token carries kid k1
    old = verified_applicant(stack, "jwt@example.id")
    assert jwt.get_unverified_header(old)["kid"] == "k1"
    old_keys = keys_from_document(secret(stack))
    # When the JWT key is rotated
    code, out, err = ops("keys", "rotate", "jwt", "--yes")
    assert code == 0, err
    assert "jwt key rotated: k1 -> k2" in out and "within 300 s" in out
    # Then until k2 is current everywhere, tokens are still signed with k1
    assert jwt.get_unverified_header(sign_in(stack, "jwt@example.id")["access_token"])["kid"] == "k1"
    # And once it is, the old token still verifies and new tokens carry k2
    clock.advance(ACTIVATION_SECONDS + 1)
    assert stack.call("GET", "/v1/me", token=old).status == 200
    new = sign_in(stack, "jwt@example.id")["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    assert stack.call("GET", "/v1/me", token=new).status == 200
    # And the old token runs out at its expiry like any other
    clock.advance(15 * 60 + 1 - ACTIVATION_SECONDS)
    r = stack.call("GET", "/v1/me", token=old)
    assert r.status == 401 and r.body["code"] == "TOKEN_EXPIRED_SESSION"
    # When the key is rotated again an hour later, k1 is no longer accepted
    clock.advance(3600)
    assert ops("keys", "rotate", "jwt", "--yes")[0] == 0
    assert secret(stack)["previous_jwt_kids"] == ["k2"]
    profile = next(i for i in items(stack) if i["sk"] == "PROFILE")
    forged = AccessTokens(lambda: old_keys, 900, "prakerja", "prakerja-api").issue(profile["applicant_id"], "family")
    r = stack.call("GET", "/v1/me", token=forged)
    assert r.status == 401 and r.body["code"] == "TOKEN_INVALID"


def test_a_secret_without_the_new_fields_still_works_and_status_reads_it(stack):
    # Given the template's first secret version ({"seed", "jwt_kid", "hmac_kid"})
    assert set(secret(stack)) == {"seed", "jwt_kid", "hmac_kid"}
    secrets_adapter.reset()
    # Then sign-up and sign-in work, and status shows no previous kids
    sign_up(stack, "awal@example.id")
    assert sign_in(stack, "awal@example.id")["access_token"]
    code, out, _ = ops("keys", "status")
    assert code == 0 and "hmac: current h1, no previous kid" in out and "jwt: current k1, previous none" in out


def test_status_names_a_batch_whose_priority_list_predates_the_hmac_rotation(stack, tmp_path):
    # Given a batch still to close whose priority list (one NIK) was keyed under h1
    from tests.integration.test_ops import create

    listed = tmp_path / "prioritas.txt"
    listed.write_text(NIK + "\n")
    assert create("2026-09", "--priority-share", "0.5", "--priority-file", str(listed))[0] == 0
    assert ops("keys", "status")[1].count("warning") == 0
    # When the HMAC key is rotated
    rotate_hmac()
    # Then status warns about that batch
    out = ops("keys", "status")[1]
    assert "warning: batch 2026-09's priority list is keyed without h2" in out


def test_a_sign_up_replayed_with_its_idempotency_key_after_a_rotation_is_still_a_replay(stack):
    # Given a sign-up with an Idempotency-Key, then an HMAC rotation (the body's fingerprint is keyed)
    body = {"email": "ulang.kunci@example.id", "password": PASSWORD, "consent": True}
    first = stack.call("POST", "/v1/accounts", body, headers={"Idempotency-Key": "kunci-1"})
    assert first.status == 202
    sent = len(mails_to(stack, body["email"]))
    rotate_hmac()
    # When the same request is replayed with the same key
    again = stack.call("POST", "/v1/accounts", body, headers={"Idempotency-Key": "kunci-1"})
    # Then it gets the first reply (not IDEMPOTENCY_KEY_REUSED) and no second email
    assert (again.status, again.body) == (first.status, first.body)
    assert len(mails_to(stack, body["email"])) == sent
    # And the key with another body is still refused
    other = stack.call("POST", "/v1/accounts", body | {"password": "lain-sekali-123"},
                       headers={"Idempotency-Key": "kunci-1"})
    assert other.status == 409 and other.body["code"] == "IDEMPOTENCY_KEY_REUSED"


# ---------------------------------------------------------------- JWT emergency rotation (issue 16)
def test_an_emergency_jwt_rotation_ends_every_session_at_once(stack, clock):
    # Given a signed-in applicant (an access and a refresh token under k1) and a forger holding k1
    address = "bocor@example.id"
    verified_applicant(stack, address)
    session = sign_in(stack, address)
    old_keys = keys_from_document(secret(stack))
    aid = stack.call("GET", "/v1/me", token=session["access_token"]).body["applicant_id"]
    forged = AccessTokens(lambda: old_keys, 900, "prakerja", "prakerja-api").issue(aid, "family")
    # When the operator rotates the JWT key in an emergency
    code, out, err = ops("keys", "rotate", "jwt", "--emergency", "--yes")
    assert code == 0, err
    assert "k1 -> k2" in out and "k2 is current now" in out
    document = secret(stack)
    assert document["jwt_kid"] == "k2" and document["previous_jwt_kids"] == [] and "k1" not in document.get("keys", {})
    # Then at once (no clock moved) the old access token, the forged one and the refresh token are refused
    for token in (session["access_token"], forged):
        r = stack.call("GET", "/v1/me", token=token)
        assert r.status == 401 and r.body["code"] == "TOKEN_INVALID"
    r = stack.call("POST", "/v1/sessions/refresh", {"refresh_token": session["refresh_token"]})
    assert r.status == 401 and r.body["code"] == "REFRESH_INVALID"
    # And a fresh sign-in works, under k2, and refreshes
    fresh = sign_in(stack, address)
    assert jwt.get_unverified_header(fresh["access_token"])["kid"] == "k2"
    assert stack.call("GET", "/v1/me", token=fresh["access_token"]).status == 200
    r = stack.call("POST", "/v1/sessions/refresh", {"refresh_token": fresh["refresh_token"]})
    assert r.status == 200, r.body
    assert "sessions issued before" in ops("keys", "status")[1]


def test_an_emergency_rotation_overrides_a_pending_one_and_needs_yes(stack):
    code, _, err = ops("keys", "rotate", "jwt", "--emergency")
    assert code == 1 and "needs --yes" in err
    assert secret(stack)["jwt_kid"] == "k1"
    code, _, err = ops("keys", "rotate", "hmac", "--emergency", "--yes")
    assert code == 2 and "jwt key only" in err
    # an ordinary rotation is pending (k2 not yet current): the emergency drops k1 and k2 alike
    assert ops("keys", "rotate", "jwt", "--yes")[0] == 0
    code, out, err = ops("keys", "rotate", "jwt", "--emergency", "--yes")
    assert code == 0, err
    assert "k1 -> k3" in out and "dropped k2, k1" in out
    document = secret(stack)
    assert document["jwt_kid"] == "k3" and document["previous_jwt_kids"] == []
    assert "jwt" not in document.get("active_from", {})
    assert keys_from_document(document).jwt_kids == ("k3",)
