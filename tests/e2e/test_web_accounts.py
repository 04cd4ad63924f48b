"""Accounts in a real browser: the email-confirmation page in every state, password reset by
email, changing the email address and the password, withdrawing consent, deleting the account,
and a session that can no longer be refreshed. (The last test moves this module's clock a day
ahead.)
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.browser import PASSWORD, check_page, session_tokens, sign_in_browser

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
NEW_PASSWORD = "teh-manis-hangat-77"


def sign_up(web_stack, email: str) -> str:
    """Sign up over HTTP; the emailed confirmation link."""
    r = web_stack.http.post("/v1/accounts", json={"email": email, "password": PASSWORD, "consent": True})
    assert r.status_code == 202, r.text
    return web_stack.link(web_stack.mail(email, "konfirmasi"))


def test_opening_the_link_spends_nothing_and_a_spent_link_says_so(page, web_stack) -> None:
    link = sign_up(web_stack, "rina.link@example.id")
    token = web_stack.token(link)
    page.goto(link)
    expect(page.get_by_role("button", name="Konfirmasi email saya")).to_be_visible()
    # the page only described the link: it is still good for the API
    assert web_stack.http.get(f"/v1/email-verifications/{token}").json()["status"] == "VALID"
    page.get_by_role("button", name="Konfirmasi email saya").click()
    expect(page.locator("#state")).to_contain_text("email Anda sudah terkonfirmasi")
    page.goto("/")
    page.goto(link)
    state = page.locator("#state")
    expect(state).to_contain_text("Tautan ini sudah dipakai")
    expect(page.get_by_role("link", name="Masuk untuk melanjutkan")).to_be_visible()
    check_page(page, "verifikasi-sudah-dipakai")


def test_an_unknown_link_is_explained_and_a_new_one_offered(page, web_stack) -> None:
    page.goto("/verifikasi-email#token=" + "x" * 43)
    expect(page.locator("#state")).to_contain_text("Tautan ini tidak dikenal")
    expect(page.get_by_role("link", name="Masuk untuk meminta tautan baru")).to_be_visible()
    page.goto("/verifikasi-email")
    expect(page.locator("#state")).to_contain_text("Tautan ini tidak dikenal")
    check_page(page, "verifikasi-tidak-dikenal")


def test_password_reset_by_email(page, web_stack) -> None:
    email = "sari.lupa@example.id"
    web_stack.verified_account(email)
    page.goto("/masuk")
    page.get_by_role("link", name="Lupa kata sandi?").click()
    page.wait_for_url("**/lupa-kata-sandi")
    check_page(page, "lupa-kata-sandi")
    page.get_by_label("Alamat email").fill(email)
    page.get_by_role("button", name="Kirim tautan").click()
    expect(page.locator("#form-msg")).to_contain_text("Jika alamat itu terdaftar")
    token = web_stack.token(web_stack.link(web_stack.mail(email, "atur ulang")))
    page.goto(f"/lupa-kata-sandi#token={token}")
    expect(page.get_by_label("Kata sandi baru")).to_be_visible()
    check_page(page, "lupa-kata-sandi-baru")
    page.get_by_label("Kata sandi baru").fill("pendek")
    page.get_by_role("button", name="Simpan kata sandi baru").click()
    expect(page.locator("#reset-password-error")).to_contain_text("minimal 8 karakter")
    page.get_by_label("Kata sandi baru").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Simpan kata sandi baru").click()
    expect(page.locator("#form-msg")).to_contain_text("Kata sandi baru sudah disimpan")
    page.get_by_role("link", name="Masuk").last.click()
    expect(page.locator("#form-msg")).to_contain_text("Kata sandi Anda sudah diganti")
    sign_in_browser(page, email, NEW_PASSWORD)
    # the link is single use: opened again, the page says so before anyone types a password
    page.goto(f"/lupa-kata-sandi#token={token}")
    expect(page.locator("#form-msg")).to_contain_text("Tautan ini sudah dipakai")
    expect(page.get_by_role("button", name="Kirim tautan")).to_be_visible()


def test_change_email_and_password_on_the_account_page(page, web_stack) -> None:
    old, new = "bayu.lama@example.id", "bayu.baru@example.id"
    web_stack.verified_account(old)
    sign_in_browser(page, old, next_path="/akun")
    expect(page.locator("#current-email")).to_have_text(old)
    check_page(page, "akun")
    # a wrong current password is shown next to its field
    page.get_by_label("Alamat email baru").fill(new)
    page.locator("#email-password").fill("bukan-sandi-ini")
    page.get_by_role("button", name="Ganti email").click()
    expect(page.locator("#change-email-password-error")).to_have_text("Kata sandi salah.")
    page.locator("#email-password").fill(PASSWORD)
    page.get_by_role("button", name="Ganti email").click()
    expect(page.locator("#email-msg")).to_contain_text(f"Kami sudah mengirim tautan konfirmasi ke {new}")
    # the link goes to the new address and opens the same confirmation page
    page.goto(web_stack.link(web_stack.mail(new, "alamat email baru")))
    expect(page.locator("#state")).to_contain_text("memakai alamat ini sebagai email akun")
    page.get_by_role("button", name="Konfirmasi email saya").click()
    expect(page.locator("#state")).to_contain_text("Alamat email akun Anda sudah diganti")
    # change the password: this session gets new tokens and goes on working
    page.goto("/akun")
    expect(page.locator("#current-email")).to_have_text(new)
    before = session_tokens(page)
    page.locator("#current-password").fill(PASSWORD)
    page.locator("#new-password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Ganti kata sandi").click()
    expect(page.locator("#password-msg")).to_contain_text("Kata sandi Anda sudah diganti")
    assert session_tokens(page)["refresh"] != before["refresh"]
    page.reload()
    expect(page.locator("#current-email")).to_have_text(new)
    page.get_by_role("button", name="Keluar").click()
    page.wait_for_url("**/masuk")
    sign_in_browser(page, new, NEW_PASSWORD)


def test_withdraw_consent_on_the_account_page(page, web_stack) -> None:
    email = "wulan.tarik@example.id"
    web_stack.verified_account(email)
    sign_in_browser(page, email, next_path="/akun")
    expect(page.locator("#current-email")).to_have_text(email)
    # the first press only asks; "Batal" goes back to where the reader was
    page.get_by_role("button", name="Tarik persetujuan", exact=True).click()
    confirm = page.get_by_role("button", name="Ya, tarik persetujuan saya")
    expect(confirm).to_be_focused()
    check_page(page, "akun-tarik-persetujuan-konfirmasi")
    page.get_by_role("button", name="Batal").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("button", name="Tarik persetujuan", exact=True)).to_be_focused()
    page.get_by_role("button", name="Tarik persetujuan", exact=True).click()
    confirm.click()
    msg = page.locator("#consent-msg")
    expect(msg).to_contain_text("Persetujuan Anda sudah ditarik")
    expect(msg).to_be_focused()
    expect(page.get_by_role("button", name="Tarik persetujuan", exact=True)).to_be_hidden()
    check_page(page, "akun-persetujuan-ditarik")
    # the API agrees: the test cannot start while consent is withdrawn
    auth = {"authorization": f"Bearer {session_tokens(page)['access']}"}
    r = web_stack.http.post("/v1/me/assessment", headers=auth)
    assert r.status_code == 403 and r.json()["code"] == "CONSENT_WITHDRAWN", r.text
    # seen again later, the page says when; the status page offers to give consent again
    page.reload()
    expect(msg).to_contain_text("Anda menarik persetujuan pada")
    page.get_by_role("link", name="Ke halaman status").click()
    page.wait_for_url("**/status")
    notice = page.locator("#consent")
    expect(notice).to_contain_text("Anda telah menarik persetujuan")
    notice.get_by_role("button", name="Berikan persetujuan lagi").click()
    expect(notice).to_be_empty()
    assert web_stack.http.get("/v1/me", headers=auth).json()["consent"]["withdrawn_at"] is None


def refuse_deletion(status: int, code: str, retry_after: str):
    """A route handler answering DELETE /v1/me with ``status`` and ``code`` (and Retry-After)."""
    def answer(route) -> None:
        if route.request.method != "DELETE":
            route.fallback()
            return
        route.fulfill(status=status, headers={"Retry-After": retry_after},
                      json={"code": code, "message": code, "fields": []})
    return answer


def test_delete_account_asks_for_the_password_and_erases_everything(page, web_stack) -> None:
    email = "joko.hapus@example.id"
    web_stack.verified_account(email)
    sign_in_browser(page, email, next_path="/akun")
    expect(page.locator("#current-email")).to_have_text(email)
    submit = page.get_by_role("button", name="Hapus akun saya")
    password = page.locator("#delete-password")
    password_error = page.locator("#delete-account-password-error")
    # nothing filled in: both are asked for, next to their fields
    submit.click()
    expect(password_error).to_have_text("Wajib diisi.")
    expect(page.locator("#delete-account-confirm-error")).to_have_text("Centang pernyataan ini untuk menghapus akun.")
    expect(password).to_be_focused()
    # a wrong password: said next to the field, and the account stays
    password.fill("bukan-sandi-ini")
    page.get_by_label("Saya mengerti bahwa akun dan semua data saya dihapus").check()
    submit.click()
    expect(password_error).to_have_text("Kata sandi salah.")
    expect(password).to_have_attribute("aria-invalid", "true")
    check_page(page, "akun-hapus-sandi-salah")
    assert web_stack.http.post("/v1/sessions", json={"email": email, "password": PASSWORD}).status_code == 200
    # too many attempts and a busy service say how long to wait (the API's answers, played here)
    for status, code, wait, text in [(429, "TOO_MANY_ATTEMPTS", "600", "Terlalu banyak percobaan. Coba lagi setelah "
                                      "waktu yang ditunjukkan. Waktu tunggu: 10 menit."),
                                     (503, "SERVICE_BUSY", "5", "Layanan sedang sibuk. Silakan coba lagi sebentar "
                                      "lagi. Waktu tunggu: 5 detik.")]:
        page.route("**/v1/me", refuse_deletion(status, code, wait))
        submit.click()
        expect(password_error).to_have_text(text)
        page.unroute("**/v1/me")
    # the right password: the account goes, and this tab is signed out
    password.fill(PASSWORD)
    submit.click()
    title = page.get_by_role("heading", name="Akun Anda sudah dihapus")
    expect(title).to_be_focused()
    assert session_tokens(page) == {"access": None, "refresh": None}
    expect(page.get_by_role("link", name="Masuk")).to_be_visible()
    check_page(page, "akun-dihapus")
    page.get_by_role("link", name="Ke beranda").click()
    page.wait_for_url(web_stack.url + "/")
    # signing in no longer works: the account is gone
    page.goto("/masuk")
    page.get_by_label("Alamat email").fill(email)
    page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Masuk", exact=True).click()
    expect(page.locator("#form-msg")).to_contain_text("Email atau kata sandi salah")
    r = web_stack.http.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_CREDENTIALS", r.text


def test_an_expired_link_offers_a_new_one_and_a_lost_session_goes_to_sign_in(page, web_stack) -> None:
    email = "tono.telat@example.id"
    link = sign_up(web_stack, email)
    web_stack.advance(25 * 3600)
    page.goto(link)
    expect(page.locator("#state")).to_contain_text("Tautan ini sudah kedaluwarsa")
    page.get_by_role("link", name="Masuk untuk meminta tautan baru").click()
    page.get_by_label("Alamat email").fill(email)
    page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url("**/status")
    step = page.locator("#step-email")
    expect(step).to_contain_text("Menunggu Anda")
    step.get_by_role("button", name="Kirim tautan baru").click()
    expect(page.locator("#msg")).to_contain_text("Tautan baru sudah dikirim")
    deadline = time.monotonic() + 30  # the new email goes through the queue and the sender
    while (fresh_link := web_stack.link(web_stack.mail(email, "konfirmasi"))) == link and time.monotonic() < deadline:
        time.sleep(0.3)
    assert fresh_link != link
    page.goto(fresh_link)
    page.get_by_role("button", name="Konfirmasi email saya").click()
    expect(page.locator("#state")).to_contain_text("email Anda sudah terkonfirmasi")
    expect(page.get_by_role("link", name="Lanjut: unggah foto KTP")).to_be_visible()
    # a session whose refresh token is no longer good ends on the sign-in page, with the way back
    page.evaluate("() => { sessionStorage.setItem('prakerja.access', 'x.y.z');"
                  " sessionStorage.setItem('prakerja.refresh', 'not-a-token'); }")
    page.goto("/status")
    page.wait_for_url("**/masuk?next=%2Fstatus")
    expect(page.locator("#form-msg")).to_contain_text("Silakan masuk untuk melanjutkan")
    assert session_tokens(page) == {"access": None, "refresh": None}
