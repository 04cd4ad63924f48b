"""A key rotation practised on the local stack with ``prakerja-ops --local``: the new kid becomes
current when the stack's clock passes its ``active_from``, as it would on AWS when the time has
passed (moving the clock expires the functions' cached secret, as time passing does)."""

from __future__ import annotations

import jwt

from tests.e2e.browser import PASSWORD
from tests.e2e.test_demo import ops


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_a_jwt_rotation_on_the_local_stack_takes_effect_when_its_clock_passes_the_activation(web_stack):
    # Given an applicant signed in with a token signed under k1
    email = "kunci.lama@example.id"
    before = web_stack.verified_account(email)["access_token"]
    assert kid(before) == "k1"
    # When the operator rotates the JWT key
    done = ops("--local", web_stack.url, "keys", "rotate", "jwt", "--yes")
    assert done.returncode == 0 and "k1 -> k2" in done.stdout, done.stderr
    # Then tokens are still signed with k1 until k2 is current everywhere
    sign_in = {"email": email, "password": PASSWORD}
    assert kid(web_stack.http.post("/v1/sessions", json=sign_in).json()["access_token"]) == "k1"
    # When the stack's clock passes the activation (the functions' cache age and a margin)
    web_stack.advance(6 * 60 + 1)
    # Then new tokens carry k2 and the one from before still works until it expires
    after = web_stack.http.post("/v1/sessions", json=sign_in).json()["access_token"]
    assert kid(after) == "k2"
    for token in (before, after):
        assert web_stack.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "jwt: current k2" in ops("--local", web_stack.url, "keys", "status").stdout


def test_an_emergency_jwt_rotation_on_the_local_stack_ends_every_session(web_stack):
    # Given an applicant signed in (an access and a refresh token)
    email = "kunci.bocor@example.id"
    before = web_stack.verified_account(email)
    old_kid = kid(before["access_token"])
    # When the operator rotates the leaked JWT key in an emergency
    done = ops("--local", web_stack.url, "keys", "rotate", "jwt", "--emergency", "--yes")
    assert done.returncode == 0 and "is current now" in done.stdout, done.stderr
    # Then, once the functions' cached secret is gone (a second of the stack's clock stands for
    # the cache age here; no 6-minute activation), the old tokens are refused
    web_stack.advance(1)
    r = web_stack.http.get("/v1/me", headers={"Authorization": f"Bearer {before['access_token']}"})
    assert r.status_code == 401 and r.json()["code"] == "TOKEN_INVALID"
    r = web_stack.http.post("/v1/sessions/refresh", json={"refresh_token": before["refresh_token"]})
    assert r.status_code == 401 and r.json()["code"] == "REFRESH_INVALID"
    # And a fresh sign-in works under the new kid
    after = web_stack.http.post("/v1/sessions", json={"email": email, "password": PASSWORD}).json()
    assert kid(after["access_token"]) != old_kid
    assert web_stack.http.get("/v1/me", headers={"Authorization": f"Bearer {after['access_token']}"}).status_code == 200
    assert "were ended (emergency rotation)" in ops("--local", web_stack.url, "keys", "status").stdout
