"""The test page when time runs out: the countdown comes from the server's deadline, and once the
server refuses answers (the deadline and its grace passed) the page says so in words; the tick
scores the saved answers and the status page shows the outcome with the reason.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import check_page, sign_in_browser

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def test_the_time_runs_out(page, web_stack) -> None:
    web_stack.verified_account("lambat@example.id")
    sign_in_browser(page, "lambat@example.id", next_path="/tes")
    page.get_by_role("button", name="Mulai tes").click()
    expect(page.locator("#timer")).to_have_text(re.compile(r"1[45]:\d\d"))
    first = page.locator("fieldset.question").first
    first.locator("input[type=radio]").first.check()
    expect(first.locator(".saved")).to_have_text("Jawaban tersimpan")
    # the server's clock moves past the deadline and the grace (the page's own countdown cannot
    # know): the next answer is refused and the page says the time is over
    web_stack.advance(20 * 60)
    web_stack.drain()
    page.locator("fieldset.question").nth(1).locator("input[type=radio]").first.check()
    result = page.locator("#result")
    expect(result).to_contain_text("Waktu tes sudah habis")
    check_page(page, "tes-waktu-habis")
    page.get_by_role("link", name="Lihat status pendaftaran").click()
    step = page.locator("#step-assessment")
    expect(step).to_contain_text("Tidak lulus")
    expect(step).to_contain_text("Nilai tes di bawah batas lulus.")
    # a reload of a page whose countdown started earlier resumes from the server's deadline
    page.goto("/tes")
    expect(page.get_by_role("button", name="Ulangi tes jika tersedia")).to_be_visible()
    page.get_by_role("button", name="Ulangi tes jika tersedia").click()
    expect(page.locator("#result")).to_contain_text("Anda belum lulus tes")
