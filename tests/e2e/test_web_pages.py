"""Every page of the web client, signed out and signed in, in Indonesian and in English: axe-core
finds nothing serious or critical, nothing is wider than 360 px, every text has its English, the
keyboard reaches the content with a visible focus, and the site is small.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.browser import PASSWORD, REPO, axe_check, check_page, i18n_missing, sign_in_browser

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
WEB = REPO / "web"
PUBLIC = ["/", "/daftar", "/masuk", "/lupa-kata-sandi", "/verifikasi-email", "/gelombang"]
SIGNED_IN = ["/status", "/ktp", "/biodata", "/tes", "/gelombang", "/akun"]


def test_axe_is_really_checking(page, web_stack) -> None:
    # a page with known faults: the harness must see them (else an empty report proves nothing)
    page.goto("about:blank")  # a blank page has no Content-Security-Policy to refuse the inline style
    page.set_content('<html><body><img src="/x.png"><input type="text">'
                     '<p style="color:#ccc;background:#fff">pucat</p></body></html>')
    with pytest.raises(AssertionError, match="image-alt"):
        axe_check(page, "self-check")


def name_of(path: str) -> str:
    return "halaman-" + (path.strip("/") or "beranda")


def test_public_pages(page, web_stack) -> None:
    for path in PUBLIC:
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        check_page(page, name_of(path))
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        check_page(page, name_of(path) + "-en", shot=path in ("/", "/daftar"))
        page.get_by_role("button", name="Bahasa Indonesia").click()
        expect(page.locator("html")).to_have_attribute("lang", "id")


def test_signed_in_pages(page, web_stack) -> None:
    web_stack.verified_account("dewi.halaman@example.id")
    sign_in_browser(page, "dewi.halaman@example.id")
    for path in SIGNED_IN:
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
        check_page(page, name_of(path) + "-masuk")
        page.get_by_role("button", name="English").click()
        check_page(page, name_of(path) + "-masuk-en", shot=False)
        assert not i18n_missing(page)
        page.get_by_role("button", name="Bahasa Indonesia").click()


def test_the_choice_of_language_is_remembered(page, web_stack) -> None:
    page.goto("/masuk")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/daftar")
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    expect(page.get_by_label("Email address")).to_be_visible()
    page.get_by_role("button", name="Bahasa Indonesia").click()
    page.reload()
    expect(page.get_by_role("heading", name="Buat akun")).to_be_visible()


def test_keyboard_reaches_the_content_with_a_visible_focus(page, web_stack) -> None:
    page.goto("/daftar")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    expect(page.locator(".skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
        return {id: e.id, outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; }""")
    assert focused["id"] == "email", focused
    assert focused["outline"] != "none" and focused["width"] >= 2 and focused["shadow"] != "none", focused
    # the form works from the keyboard alone: sending it empty puts the errors next to the fields
    page.keyboard.press("Enter")
    expect(page.locator("#form-msg")).to_contain_text("Ada isian yang perlu diperbaiki")
    expect(page.locator("#signup-email-error")).to_have_text("Wajib diisi.")
    expect(page.locator("#signup-consent-error")).to_have_text("Persetujuan wajib diberikan.")
    assert page.evaluate("() => document.activeElement.id") == "email"
    assert page.get_by_label("Alamat email").get_attribute("aria-invalid") == "true"


# next= values a browser resolves to another host (a backslash is a slash, a tab is dropped), or
# that name no page of the site: after signing in, the reader lands on /status instead
FOREIGN_NEXT = ["/%5Cevil.com", "/%09/evil.com", "//evil.com", "https://evil.com/status", "/%5C%5Cevil.com/status",
                "/tidak-ada"]


def test_sign_in_returns_only_to_the_sites_own_pages(page, web_stack) -> None:
    email = "andi.arah@example.id"
    web_stack.verified_account(email)
    # the other host is never really asked (were the redirect followed, the page would fail to load)
    page.route("**/*", lambda route: route.abort() if urlsplit(route.request.url).hostname == "evil.com"
               else route.continue_())
    for raw in FOREIGN_NEXT:
        page.goto(f"/masuk?next={raw}")
        page.get_by_label("Alamat email").fill(email)
        page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Masuk", exact=True).click()
        page.wait_for_url(f"{web_stack.url}/status")
        expect(page.locator("h1")).to_be_visible()
    # one of the site's pages, with its query and fragment, is still where the reader goes
    page.goto("/masuk?next=%2Fakun%3Fx%3D1%23ganti")
    page.get_by_label("Alamat email").fill(email)
    page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url(f"{web_stack.url}/akun?x=1#ganti")


def test_the_apis_confirmation_page_works_under_its_content_security_policy(page, web_stack) -> None:
    # the page the API serves for an emailed link opened straight (not the web client's page):
    # its hashed inline script runs under the CSP (a blocked script would leave no result and a
    # console error, which the page fixture fails on)
    email = "tono.csp@example.id"
    assert web_stack.http.post("/v1/accounts", json={"email": email, "password": PASSWORD,
                                                     "consent": True}).status_code == 202
    token = web_stack.token(web_stack.link(web_stack.mail(email, "konfirmasi")))
    reply = page.goto(f"/v1/email-verifications/{token}")
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    page.get_by_role("button", name="Konfirmasi / Confirm").click()
    expect(page.locator("#result")).to_have_text("Email Anda sudah terkonfirmasi. / Your email is confirmed.")


def test_the_site_is_small() -> None:
    # what a phone downloads for the heaviest page (biodata: HTML, CSS, every module, one
    # province's regions), uncompressed; and no file of the site is large
    files = [p for p in WEB.rglob("*") if p.is_file() and "tools" not in p.parts]
    biggest = max(files, key=lambda p: p.stat().st_size)
    assert biggest.stat().st_size < 40_000, f"{biggest} is {biggest.stat().st_size} bytes"
    page_bytes = sum(p.stat().st_size for p in [WEB / "biodata.html", WEB / "css" / "site.css",
                                                  *(WEB / "js").rglob("*.js"),
                                                  WEB / "data" / "regions" / "provinces.json",
                                                  WEB / "data" / "regions" / "32.json"])
    assert page_bytes < 200_000, f"the biodata page needs {page_bytes} bytes"


def test_generated_files_are_current() -> None:
    import subprocess
    import sys

    for tool in ("build_regions.py", "build_codes.py"):
        result = subprocess.run([sys.executable, str(WEB / "tools" / tool), "--check"], capture_output=True,
                                text=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_static_text_has_english() -> None:
    # the same check the pages make in the browser, over the files: every data-i18n key of
    # every page has an English text
    import re

    strings = (WEB / "js" / "strings.js").read_text(encoding="utf-8")
    known = set(re.findall(r'^\s*"([\w.-]+)":', strings, flags=re.M))
    used = set()
    for html in WEB.glob("*.html"):
        text = html.read_text(encoding="utf-8")
        used |= set(re.findall(r'data-i18n="([^"]+)"', text))
        used |= {k for spec in re.findall(r'data-i18n-attr="([^"]+)"', text) for k in re.findall(r":([\w.-]+)", spec)}
    assert not used - known, sorted(used - known)
    assert Path(WEB / "index.html").is_file()


def test_the_local_gateway_serves_page_urls_without_html() -> None:
    # as the CloudFront function does in AWS: /status is status.html; API routes stay the API's
    from werkzeug.test import Client

    from prakerja_local.gateway import NOT_FOUND_BODY, Gateway

    client = Client(Gateway([], lambda *_: {}, static_dir=WEB))
    assert b"<title" in client.get("/").data
    assert client.get("/status").status_code == 200 and b'src="/js/pages/status.js"' in client.get("/status").data
    assert client.get("/verifikasi-email").status_code == 200
    assert client.get("/data/regions/32.json").json["regencies"][0] == ["32.01", "KABUPATEN BOGOR"]
    assert client.get("/js/pages/ktp.js").status_code == 200
    for missing in ("/v1/nothing", "/tidak-ada", "/../README.md", "/tools/build_regions"):
        r = client.get(missing)
        assert r.status_code == 404 and r.json == NOT_FOUND_BODY, missing
