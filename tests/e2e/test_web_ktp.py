"""The KTP photo page in a real browser: shrinking a large phone photo, a dropped connection,
photos refused before and after the upload, and the browser's upload crossing to the S3
endpoint (another origin; the KtpBucket CORS rule names PublicBaseUrl, the page's origin).
"""

from __future__ import annotations

from itertools import count

import pytest

from tests.e2e.browser import PHOTOS, check_page, sign_in_browser

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
_people = count(1)


def open_ktp_page(page, web_stack) -> None:
    """A new verified applicant, signed in, on the KTP page."""
    email = f"ktp.{next(_people)}@example.id"
    web_stack.verified_account(email)
    sign_in_browser(page, email, next_path="/ktp")
    expect(page.get_by_role("heading", name="Foto KTP")).to_be_visible()


def moto_upload(page):
    """The S3 POST the page is about to make (to the moto endpoint, the KTP bucket)."""
    return page.expect_request(lambda r: r.method == "POST" and "ktpbucket" in r.url)


def test_a_large_phone_photo_is_shrunk_before_upload_and_accepted(page, web_stack) -> None:
    open_ktp_page(page, web_stack)
    original = PHOTOS / "jpg_mobile_HMD_Nokia_8.3_5G.jpg"  # 4608 x 1976, 2.2 MB
    page.set_input_files("#pick", original)
    info = page.locator("#chosen-info")
    expect(info).to_contain_text("Foto diperkecil dari 2,2 MB")
    expect(info).to_contain_text("1600 × 686 piksel")
    expect(page.locator("#preview")).to_be_visible()
    check_page(page, "ktp-diperkecil")
    with moto_upload(page) as posted:
        page.get_by_role("button", name="Kirim foto ini").click()
    expect(page.locator("#msg")).to_contain_text("Foto KTP Anda diterima", timeout=60_000)
    sent, size = int(posted.value.all_headers().get("content-length", 0)), original.stat().st_size
    assert 10_000 < sent < size / 4, f"{sent} bytes went up for a {size} byte photo"


def test_a_dropped_connection_is_retried(page, web_stack) -> None:
    open_ktp_page(page, web_stack)
    attempts = []

    def drop_the_first(route) -> None:
        attempts.append(route.request.method)
        if route.request.method == "POST" and attempts.count("POST") == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/prakerja-local-ktpbucket**", drop_the_first)
    page.set_input_files("#pick", PHOTOS / "jpg_gps_DSCN0010.jpg")
    page.get_by_role("button", name="Kirim foto ini").click()
    expect(page.locator("#progress-text")).to_contain_text("Koneksi terputus. Mencoba lagi (percobaan 2 dari 5)")
    expect(page.locator("#msg")).to_contain_text("Foto KTP Anda diterima", timeout=60_000)
    assert attempts.count("POST") == 2, attempts


@pytest.mark.parametrize(("photo", "words"), [
    ("tiff_BSG1.tiff", "Jenis berkas tidak didukung. Gunakan JPEG, PNG atau HEIC."),
    ("jpg_Canon_40D.jpg", "Foto terlalu kecil untuk dibaca (minimal 600 x 380 piksel)."),
    ("jpg_invalid_image00971.jpg", "Foto terlalu kecil untuk dibaca (minimal 600 x 380 piksel)."),
])
def test_a_photo_that_cannot_pass_is_refused_in_the_browser_with_the_reason(page, web_stack, photo, words) -> None:
    open_ktp_page(page, web_stack)
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "ktpbucket" in r.url else None)
    page.set_input_files("#pick", PHOTOS / photo)
    expect(page.locator("#msg")).to_contain_text(words)
    expect(page.locator("#msg")).to_contain_text("Silakan ambil atau pilih foto lain.")
    expect(page.get_by_role("button", name="Kirim foto ini")).to_be_hidden()
    assert not sent, "nothing is uploaded"


def test_the_servers_verdict_is_shown_in_words_when_it_refuses_the_photo(page, web_stack) -> None:
    # a truncated phone photo: this browser cannot read it, so it is sent as it is and the
    # server decides (CORRUPT)
    open_ktp_page(page, web_stack)
    page.set_input_files("#pick", PHOTOS / "jpg_truncated_phone.jpg")
    expect(page.locator("#chosen-info")).to_contain_text("Ukuran 1 MB")
    page.get_by_role("button", name="Kirim foto ini").click()
    msg = page.locator("#msg")
    expect(msg).to_contain_text("Foto KTP ditolak.", timeout=60_000)
    expect(msg).to_contain_text("Berkas rusak atau terpotong. Unggah ulang.")
    check_page(page, "ktp-ditolak")
    # and the status page says the same, with the next action
    page.goto("/status")
    step = page.locator("#step-ktp")
    expect(step).to_contain_text("Ditolak")
    expect(step).to_contain_text("Berkas rusak atau terpotong.")
    expect(step.get_by_role("link", name="Unggah foto lain")).to_be_visible()
