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


def test_the_confirmation_page_carries_security_headers_and_hashes_its_only_script(stack):
    import base64
    import hashlib
    import re

    sign_up(stack, "fina@example.id")
    token = _token(stack, "fina@example.id")
    for _ in range(2):  # the page for a valid link, then (once spent) for a used one
        raw = stack.registry.invoke("VerifyEmailFunction", _get_event(stack, token, "text/html"))
        headers = {k.lower(): v for k, v in raw["headers"].items()}
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        csp = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        # the one inline script and the one style are allowed by their hashes, and nothing else
        scripts = re.findall(r"<script>(.*?)</script>", raw["body"], re.S)
        styles = re.findall(r"<style>(.*?)</style>", raw["body"], re.S)
        digest = lambda text: "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"  # noqa: E731
        assert len(scripts) == 1 and csp["script-src"] == digest(scripts[0])
        assert len(styles) == 1 and csp["style-src"] == digest(styles[0])
        assert stack.call("POST", f"/v1/email-verifications/{token}").status in (200, 410)


def _get_event(stack, token: str, accept: str) -> dict:
    from tests.integration import harness

    event = harness.http_event("GET", f"/v1/email-verifications/{token}", "GET /v1/email-verifications/{token}",
                               {"token": token}, {"accept": accept}, None)
    return event
