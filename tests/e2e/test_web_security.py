"""The web client's own defences (issue 15 item 5), in Chromium against the local stack:

- every page, script and style goes out with the headers of the site's CloudFront
  response-headers policy in template.yaml (the local gateway sends the same ones): a
  Content-Security-Policy with no inline script, ``frame-ancestors 'none'``, nosniff,
  ``X-Frame-Options: DENY``, ``Referrer-Policy`` and HSTS;
- the policy is in force (an injected inline script is refused) and no page of a signed-in
  journey breaks it;
- strings that come from the server (an error message, the applicant's name, the email address)
  are shown as text: markup in them never becomes an element or runs.
"""

from __future__ import annotations

import json

import pytest

from prakerja_local.gateway import security_headers
from prakerja_local.template import Template
from tests.e2e.browser import sign_in_browser

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
PAGES = ["/", "/daftar", "/masuk", "/lupa-kata-sandi", "/verifikasi-email", "/gelombang", "/status", "/ktp",
         "/biodata", "/tes", "/akun"]
PAYLOAD = '<img src=x onerror="window.__xss=1">'
# records every CSP violation the page reports (an init script runs outside the page's policy)
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));
"""


def csp_directives(value: str) -> dict[str, list[str]]:
    """``{"script-src": ["'self'"], ...}`` of a Content-Security-Policy header."""
    parsed: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def test_the_local_headers_are_the_templates_policy() -> None:
    # a pure check that the local gateway reads the template's policy (not a copy of it)
    config = Template.load().web_security_headers()
    assert config["ContentSecurityPolicy"]["Override"] is True
    headers = security_headers({**config, "ContentSecurityPolicy": {"ContentSecurityPolicy": "default-src 'self'; "
                                                                  "connect-src 'self' https://b.example"}},
                               {"https://b.example": "http://127.0.0.1:9"})
    assert headers["Content-Security-Policy"] == "default-src 'self'; connect-src 'self' http://127.0.0.1:9"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000; includeSubDomains")


def test_every_page_and_asset_carries_the_security_headers(page, web_stack) -> None:
    seen: dict[str, dict[str, str]] = {}
    page.on("response", lambda r: seen.__setitem__(r.url, r.headers) if r.url.startswith(web_stack.url)
            and "/v1/" not in r.url and "/_local/" not in r.url else None)
    for path in PAGES:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
    assets = [u for u in seen if u.endswith((".js", ".css"))]
    assert len(assets) >= 5, f"too few scripts and styles seen: {assets}"
    for url, headers in seen.items():
        csp = csp_directives(headers.get("content-security-policy", ""))
        assert csp.get("script-src") == ["'self'"], (url, csp)
        assert csp.get("frame-ancestors") == ["'none'"], (url, csp)
        assert csp.get("object-src") == ["'none'"], (url, csp)
        assert csp.get("default-src") == ["'self'"], (url, csp)
        everything = " ".join(w for words in csp.values() for w in words)
        assert "'unsafe-inline'" not in everything and "'unsafe-eval'" not in everything, url
        assert headers.get("x-content-type-options") == "nosniff", url
        assert headers.get("x-frame-options") == "DENY", url
        assert headers.get("referrer-policy") == "no-referrer", url
        max_age = int(headers.get("strict-transport-security", "max-age=0").split(";")[0].split("=")[1])
        assert max_age >= 31536000, url


def test_the_policy_is_in_force_and_a_signed_in_journey_keeps_to_it(page, web_stack) -> None:
    page.add_init_script(WATCH_VIOLATIONS)
    page.goto("/")
    # an inline script a bug or an injection might add is refused by the policy
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                  " document.body.append(s); }")
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("() => window.__ran") is None
    assert any(v.startswith("script-src") for v in page.evaluate("() => window.__violations"))
    # the browser reports the refusal on the console too: that one is expected here
    page.console.messages.clear()

    web_stack.verified_account("wulan.csp@example.id")
    sign_in_browser(page, "wulan.csp@example.id")
    for path in PAGES:
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => window.__violations") == [], path


def _fulfil_json(route, status: int, body: dict) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_an_error_message_from_the_server_is_shown_as_text(page, web_stack) -> None:
    message = f"Email atau kata sandi salah {PAYLOAD}"
    page.route("**/v1/sessions", lambda route: _fulfil_json(
        route, 401, {"code": "INVALID_CREDENTIALS", "message": message, "fields": []}))
    page.goto("/masuk")
    page.get_by_label("Alamat email").fill("siapa@example.id")
    page.get_by_label("Kata sandi", exact=True).fill("salah-sekali-2020")
    page.get_by_role("button", name="Masuk", exact=True).click()
    expect(page.locator("#form-msg")).to_contain_text(PAYLOAD)
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("() => window.__xss") is None


def test_the_name_and_email_from_the_server_are_shown_as_text(page, web_stack) -> None:
    email = "sari.xss@example.id"
    web_stack.verified_account(email)
    sign_in_browser(page, email)

    def me(route) -> None:
        # the real answer, with markup where the server's strings are
        body = route.fetch().json()
        body["email"] = f"{PAYLOAD}@example.id"
        body["steps"]["nik"] = {**body["steps"]["nik"], "status": "VERIFIED"}
        _fulfil_json(route, 200, body)

    page.route("**/v1/me", me)
    page.route("**/v1/me/biodata", lambda route: _fulfil_json(route, 200, {"biodata": {
        "full_name": f"Sari {PAYLOAD}", "nik": "3201********0001", "date_of_birth": "1990-01-01"}}))
    page.goto("/status")
    expect(page.locator("main")).to_contain_text(f"{PAYLOAD}@example.id")
    page.goto("/biodata")
    expect(page.locator("#summary")).to_contain_text(f"Sari {PAYLOAD}")
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("() => window.__xss") is None
