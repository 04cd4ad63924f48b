"""Single-use email links: describe, confirm, used, expired, resend."""

from __future__ import annotations

from tests.integration.support import link_token, mailbox, sign_in, sign_up


def _token(stack, email: str) -> str:
    stack.drain("EmailQueue", "EmailSenderFunction")
    return link_token([m for m in mailbox() if m["to"] == email][-1]["body"])


def test_a_scanners_get_does_not_spend_the_token_and_post_confirms(stack):
    sign_up(stack, "a+b@example.id")
    token = _token(stack, "a+b@example.id")
    # a mail scanner fetches the link twice
    assert stack.call("GET", f"/v1/email-verifications/{token}").status == 200
    assert stack.call("GET", f"/v1/email-verifications/{token}").body["status"] == "VALID"
    # the person confirms
    r = stack.call("POST", f"/v1/email-verifications/{token}")
    assert r.status == 200 and r.body["status"] == "VERIFIED"
    me = stack.call("GET", "/v1/me", token=sign_in(stack, "a+b@example.id")["access_token"])
    assert me.body["steps"]["email"]["status"] == "VERIFIED"


def test_a_used_token_is_410_token_used(stack):
    sign_up(stack, "budi@example.id")
    token = _token(stack, "budi@example.id")
    stack.call("POST", f"/v1/email-verifications/{token}")
    for method in ("GET", "POST"):
        r = stack.call(method, f"/v1/email-verifications/{token}")
        assert r.status == 410 and r.body["code"] == "TOKEN_USED"


def test_a_token_expires_after_24_hours_on_the_project_clock(stack, clock):
    sign_up(stack, "cici@example.id")
    token = _token(stack, "cici@example.id")
    clock.advance(24 * 3600 + 1)
    r = stack.call("POST", f"/v1/email-verifications/{token}")
    assert r.status == 410 and r.body["code"] == "TOKEN_EXPIRED"


def test_an_unknown_token_is_404(stack):
    r = stack.call("POST", "/v1/email-verifications/" + "x" * 43)
    assert r.status == 404 and r.body["code"] == "TOKEN_UNKNOWN"


def test_resend_sends_a_new_working_link(stack, clock):
    sign_up(stack, "dodi@example.id")
    old = _token(stack, "dodi@example.id")
    clock.advance(25 * 3600)
    access = sign_in(stack, "dodi@example.id")["access_token"]
    assert stack.call("POST", "/v1/email-verifications", token=access).status == 202
    new = _token(stack, "dodi@example.id")
    assert new != old
    assert stack.call("POST", f"/v1/email-verifications/{new}").status == 200


def test_a_browser_gets_a_page_that_confirms_only_on_a_button_press(stack):
    sign_up(stack, "eva@example.id")
    token = _token(stack, "eva@example.id")
    raw = stack.registry.invoke("VerifyEmailFunction", _get_event(stack, token, "text/html,application/xhtml+xml"))
    assert raw["statusCode"] == 200 and "text/html" in raw["headers"]["content-type"]
    assert 'id="confirm"' in raw["body"] and "Konfirmasi" in raw["body"]
    # the page view spent nothing
    assert stack.call("POST", f"/v1/email-verifications/{token}").status == 200
    used = stack.registry.invoke("VerifyEmailFunction", _get_event(stack, token, "text/html"))
    assert used["statusCode"] == 410 and 'id="confirm"' not in used["body"]


def _get_event(stack, token: str, accept: str) -> dict:
    from tests.integration import harness

    event = harness.http_event("GET", f"/v1/email-verifications/{token}", "GET /v1/email-verifications/{token}",
                               {"token": token}, {"accept": accept}, None)
    return event
