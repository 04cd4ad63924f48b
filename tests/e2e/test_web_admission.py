"""Admission control in the web client (issue 12), in a real browser at 360 px.

A busy API (503 with Retry-After, or API Gateway's own 429 without one) gets a calm waiting
message with a countdown, then the page retries on its own with the sign-up's one
Idempotency-Key, and one account is made. The status page polls ``GET /v1/me`` with a backoff and
not while its tab is hidden (Playwright's fake clock: the times compared are the page's own).
The API's busy answers are played with ``page.route``; everything else is the local stack.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.browser import PASSWORD, check_page, screenshot

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
WAIT_MS = 30_000  # the page's own waits (a few seconds) plus a real sign-up on a shared machine


def busy_first(answers: list[tuple[int, dict[str, str], dict[str, Any]]], keys: list[str | None]):
    """A handler for POST /v1/accounts: records each attempt's Idempotency-Key, answers the first
    ``len(answers)`` attempts with the given (status, headers, body), lets the later ones through."""
    def handle(route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) <= len(answers):
            status, headers, body = answers[len(keys) - 1]
            route.fulfill(status=status, headers=headers, content_type="application/json", body=json.dumps(body))
        else:
            route.fallback()
    return handle


def fill_sign_up(page, email: str, english: bool = False) -> None:
    page.get_by_label("Email address" if english else "Alamat email").fill(email)
    page.get_by_label("Password" if english else "Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_label("I have read and agree" if english else "Saya sudah membaca dan menyetujui").check()


def emails_to(web_stack, email: str) -> list[dict]:
    web_stack.drain()
    return web_stack.http.get("/_local/mailbox", params={"to": email}).json()


def test_a_busy_sign_up_waits_with_a_countdown_and_succeeds_on_its_own_retry(page, web_stack) -> None:
    email = "dewi.antre@example.id"
    keys: list[str | None] = []
    busy = {"code": "SERVICE_BUSY", "message": "Layanan sedang sibuk.", "fields": []}
    page.route("**/v1/accounts", busy_first([(503, {"Retry-After": "3"}, busy)], keys))
    page.goto("/daftar")
    fill_sign_up(page, email)
    page.get_by_role("button", name="Daftar", exact=True).click()
    # the calm message, in the form's live region, counting down; the form stays as filled in
    msg = page.locator("#form-msg")
    expect(msg).to_contain_text("Saat ini banyak sekali orang yang mendaftar")
    expect(msg).to_contain_text("secara otomatis dalam")
    expect(msg.locator(".countdown")).to_have_text(re.compile(r"^[1-4]$"))
    assert msg.get_attribute("role") == "status"
    expect(page.get_by_label("Alamat email")).to_have_value(email)
    screenshot(page, "daftar-menunggu", full_page=False)
    # then, without a press, the page's own retry is accepted
    expect(page.get_by_role("heading", name="Periksa email Anda")).to_be_visible(timeout=WAIT_MS)
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1], keys
    assert len(emails_to(web_stack, email)) == 1  # one account: one confirmation email
    check_page(page, "daftar-terkirim-setelah-menunggu")


def test_api_gateways_429_without_retry_after_backs_off_on_its_own_in_english(page, web_stack) -> None:
    email = "made.antre@example.id"
    keys: list[str | None] = []
    # API Gateway's own answer for a throttled route: no code, no Retry-After
    page.route("**/v1/accounts", busy_first([(429, {}, {"message": "Too Many Requests"})], keys))
    page.goto("/daftar")
    page.get_by_role("button", name="English").click()
    fill_sign_up(page, email, english=True)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.locator("#form-msg")).to_contain_text("Very many people are signing up right now")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible(timeout=WAIT_MS)
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(emails_to(web_stack, email)) == 1
    page.get_by_role("button", name="Bahasa Indonesia").click()


def test_a_sign_up_still_refused_after_its_retries_says_so_and_a_new_press_keeps_its_key(page, web_stack) -> None:
    email = "rudi.antre@example.id"
    keys: list[str | None] = []
    # busy six times in a row (the first try and its five retries), each saying "now" (Retry-After: 0)
    page.route("**/v1/accounts", busy_first([(503, {"Retry-After": "0"}, {"message": "Service Unavailable"})] * 6,
                                            keys))
    page.goto("/daftar")
    fill_sign_up(page, email)
    button = page.get_by_role("button", name="Daftar", exact=True)
    button.click()
    msg = page.locator("#form-msg")
    expect(msg).to_contain_text("Layanan masih sangat sibuk. Data Anda belum terkirim.", timeout=WAIT_MS)
    assert len(keys) == 6 and len(set(keys)) == 1 and keys[0]
    assert emails_to(web_stack, email) == []  # refused cleanly: no account
    # the reader presses again with the same details: the same key, and now one account
    button.click()
    expect(page.get_by_role("heading", name="Periksa email Anda")).to_be_visible(timeout=WAIT_MS)
    assert len(keys) == 7 and keys[6] == keys[0]
    assert len(emails_to(web_stack, email)) == 1


# ---------------------------------------------------------------- the status page's polling
RECORD_ME_CALLS = """
    sessionStorage.setItem('prakerja.access', 'played-access');
    sessionStorage.setItem('prakerja.refresh', 'played-refresh');
    window.__meCalls = [];
    window.__hidden = false;
    Object.defineProperty(document, 'visibilityState', {configurable: true,
        get: () => (window.__hidden ? 'hidden' : 'visible')});
    const realFetch = window.fetch;
    window.fetch = function (input, init) {
        const url = String((input && input.url) || input).split('?')[0];
        const read = !init || !init.method || init.method === 'GET';
        if (url.endsWith('/v1/me') && read) window.__meCalls.push(Date.now());
        return realFetch.apply(this, arguments);
    };
"""


def set_hidden(page, hidden: bool) -> None:
    page.evaluate("(h) => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


def me_calls(page) -> list[int]:
    return page.evaluate("() => window.__meCalls")


def wait_for_calls(page, calls: int, wait: float = 20.0) -> None:
    """Wait (real time; the page's clock stands still) until the page has made ``calls`` reads of
    /v1/me and shown the last (each played answer has its own ``as_of``, shown in ``#as-of``; the
    next poll is planned as the page renders). wait_for_function would poll on the faked timers."""
    deadline = time.monotonic() + wait
    while len(me_calls(page)) < calls or as_of_text(calls) not in page.locator("#as-of").inner_text():
        assert time.monotonic() < deadline, f"{len(me_calls(page))} reads of /v1/me shown, expected {calls}"
        time.sleep(0.1)


AS_OF = datetime(2026, 4, 11, 3, 0, tzinfo=UTC)


def as_of_text(n: int) -> str:
    """The time in the status page's "as of" line for the n-th played answer (AS_OF + n minutes, WIB)."""
    return f"{AS_OF + timedelta(minutes=n, hours=7):%H.%M} WIB"


def advance(page, ms: int, calls: int) -> None:
    """Move the page's clock ``ms`` on and wait for its ``calls``-th read of /v1/me to be shown."""
    page.clock.run_for(ms)
    wait_for_calls(page, calls)


def test_the_status_page_polls_with_backoff_and_not_while_hidden(page, web_stack) -> None:
    # Given a signed-in reader whose NIK check is running (the API's answer is played)
    account = web_stack.verified_account("sari.tunggu@example.id")
    me = web_stack.http.get("/v1/me", headers={"Authorization": f"Bearer {account['access_token']}"}).json()
    me["steps"]["nik"] = {"status": "PENDING"}
    answered = [0]

    def play_me(route) -> None:
        if route.request.method != "GET":
            route.fallback()
            return
        answered[0] += 1
        me["as_of"] = (AS_OF + timedelta(minutes=answered[0])).strftime("%Y-%m-%dT%H:%M:%SZ")
        route.fulfill(status=200, content_type="application/json", body=json.dumps(me))

    page.route("**/v1/me", play_me)
    page.add_init_script(RECORD_ME_CALLS)
    page.clock.install(time=datetime(2026, 4, 11, 3, 0, tzinfo=UTC))
    page.clock.pause_at(datetime(2026, 4, 11, 3, 0, 1, tzinfo=UTC))

    # When the status page is open
    page.goto("/status")
    expect(page.locator("#step-nik")).to_contain_text("Sedang diperiksa")
    wait_for_calls(page, 1)
    # Then it reads again after 5 s, 10 s, 20 s, 40 s, then every 60 s (its clock, not ours)
    for n, ms in enumerate([5000, 10000, 20000, 40000, 60000, 60000], start=2):
        advance(page, ms, n)
    times = me_calls(page)
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [5000, 10000, 20000, 40000, 60000, 60000]

    # When the tab is hidden, nothing is read however long it stays hidden
    set_hidden(page, True)
    page.clock.run_for(10 * 60 * 1000)
    assert len(me_calls(page)) == 7
    # When it is shown again, it reads at once and goes on polling
    set_hidden(page, False)
    wait_for_calls(page, 8)
    advance(page, 60000, 9)
    assert len(me_calls(page)) == 9
