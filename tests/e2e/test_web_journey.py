"""The whole journey of one applicant through the web client, in a real browser at 360 px.

Sign up, open the emailed link, confirm, sign in, upload a real photo, enter biodata (a typo in
the NIK caught by the live check first), take the test, join the open batch, move the clock past
the announcement and see the result on the status page (the access token expired meanwhile and
is refreshed as a real client does). Every page state on the way is checked with axe-core, must
fit 360 px, and is saved as a screenshot in artifacts/screenshots/.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.e2e.browser import BUDI, PASSWORD, PHOTOS, check_page, session_tokens

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

EMAIL = "budi.santoso+web@example.id"
TYPO_NIK = "3201010101990001"  # the year typed 99 instead of 90: decodes to 1 January 1999


def test_whole_journey_in_the_browser(page, web_stack) -> None:
    # start page -> sign up
    page.goto("/")
    check_page(page, "01-beranda")
    page.get_by_role("link", name="Daftar sekarang").click()
    page.wait_for_url("**/daftar")
    check_page(page, "02-daftar")
    page.get_by_label("Alamat email").fill(EMAIL)
    page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_label("Saya sudah membaca dan menyetujui").check()
    page.get_by_role("button", name="Daftar", exact=True).click()
    expect(page.get_by_role("heading", name="Periksa email Anda")).to_be_visible()
    expect(page.locator("#done-text")).to_contain_text(EMAIL)
    check_page(page, "02b-daftar-terkirim")

    # the emailed link opens the confirmation page; nothing is spent until the button is pressed
    link = web_stack.link(web_stack.mail(EMAIL, "konfirmasi"))
    assert link.startswith(f"{web_stack.url}/verifikasi-email#token="), link
    page.goto(link)
    confirm = page.get_by_role("button", name="Konfirmasi email saya")
    expect(confirm).to_be_visible()
    check_page(page, "03-verifikasi-email")
    confirm.click()
    expect(page.locator("#state")).to_contain_text("email Anda sudah terkonfirmasi")
    page.get_by_role("link", name="Masuk untuk melanjutkan").click()

    # sign in -> status
    page.wait_for_url("**/masuk?next=**")
    check_page(page, "04-masuk")
    page.get_by_label("Alamat email").fill(EMAIL)
    page.get_by_label("Kata sandi", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url("**/status")
    expect(page.locator("#step-email")).to_contain_text("Terverifikasi")
    expect(page.locator("#next")).to_contain_text("Foto KTP")
    check_page(page, "05-status-awal")

    # KTP photo: straight to S3 (moto, another origin) with the presigned POST, then the verdict
    page.locator("#step-ktp").get_by_role("link", name="Unggah foto KTP").click()
    page.wait_for_url("**/ktp")
    check_page(page, "06-ktp")
    page.set_input_files("#pick", PHOTOS / "jpg_gps_DSCN0010.jpg")
    expect(page.locator("#chosen-info")).to_contain_text("640 × 480")
    page.get_by_role("button", name="Kirim foto ini").click()
    expect(page.locator("#msg")).to_contain_text("Foto KTP Anda diterima", timeout=60_000)
    check_page(page, "06b-ktp-diterima")
    page.get_by_role("link", name="Lanjut: isi biodata").click()

    # biodata: a typo in the NIK shows in the live check before anything is sent
    page.wait_for_url("**/biodata")
    form = page.locator("#biodata")
    expect(form).to_be_visible()
    page.get_by_label("Nama lengkap").fill(BUDI["full_name"])
    page.get_by_label("Tempat lahir").fill(BUDI["place_of_birth"])
    page.get_by_label("Tanggal lahir").fill(BUDI["date_of_birth"])
    page.get_by_label("Laki-laki").check()
    page.get_by_label("Alamat", exact=True).fill(BUDI["address"])
    page.get_by_label("Provinsi").select_option(BUDI["province_code"])
    page.get_by_label("Kabupaten/kota").select_option(BUDI["regency_code"])
    page.get_by_label("Kecamatan").select_option(BUDI["district_code"])
    page.get_by_label("Pendidikan terakhir").select_option(BUDI["education"])
    page.get_by_label("Status pekerjaan").select_option(BUDI["work_status"])
    page.get_by_label("Saya tidak sedang sekolah").check()
    page.get_by_label("Nomor HP").fill(BUDI["phone"])
    page.get_by_label("NIK", exact=True).fill(TYPO_NIK)
    decoded = page.locator("#decoded")
    expect(decoded).to_contain_text("1 Januari 1999")
    expect(decoded).to_contain_text("KABUPATEN BOGOR")
    dob_warning = page.locator("#biodata-date_of_birth-error")
    expect(dob_warning).to_contain_text("Tanggal lahir pada NIK berbeda dengan isian")
    check_page(page, "07-biodata-salah-ketik")
    # sending with the warning unconfirmed asks for an explicit confirmation first
    page.get_by_role("button", name="Kirim biodata").click()
    expect(page.locator("#biodata-confirm_warnings-error")).to_be_visible()
    # the typo fixed: the warning goes, the NIK decodes to the form's date
    page.get_by_label("NIK", exact=True).fill(BUDI["nik"])
    expect(decoded).to_contain_text("1 Januari 1990")
    expect(dob_warning).to_be_hidden()
    expect(page.locator("#warn-box")).to_be_hidden()
    page.get_by_role("button", name="Kirim biodata").click()
    expect(page.locator("#msg")).to_contain_text("Biodata terkirim")
    check_page(page, "07b-biodata-terkirim")
    page.get_by_role("link", name="Lanjut: ikuti tes").click()

    # the test: answers saved as given, resumed after a reload, submitted
    page.wait_for_url("**/tes")
    page.get_by_role("button", name="Mulai tes").click()
    questions = page.locator("fieldset.question")
    expect(questions.first).to_be_visible()
    key = web_stack.http.get("/_local/assessment/answer-key").json()
    ids = [q.removeprefix("q-") for q in questions.evaluate_all("els => els.map(e => e.id)")]
    assert len(ids) == 15, ids
    half = len(ids) // 2
    for qid in ids[:half]:
        page.locator(f'input[name="{qid}"][value="{key[qid]}"]').check()
        expect(page.locator(f'[id="saved-{qid}"]')).to_have_text("Jawaban tersimpan")
    expect(page.locator("#timer")).to_have_text(re.compile(r"1[45]:\d\d"))
    check_page(page, "08-tes", full_page=False)
    page.reload()
    expect(page.locator("#answered")).to_have_text(f"{half} dari 15 soal dijawab")
    for qid in ids[:half]:
        expect(page.locator(f'input[name="{qid}"][value="{key[qid]}"]')).to_be_checked()
    for qid in ids[half:]:
        page.locator(f'input[name="{qid}"][value="{key[qid]}"]').check()
        expect(page.locator(f'[id="saved-{qid}"]')).to_have_text("Jawaban tersimpan")
    page.get_by_role("button", name="Kirim jawaban").click()
    expect(page.get_by_role("heading", name="Selamat, Anda lulus tes")).to_be_visible()
    check_page(page, "08b-tes-lulus")
    page.get_by_role("link", name="Lanjut: bergabung dengan gelombang").click()

    # status: the NIK check finishes (the page refreshes itself), then join the open batch
    page.wait_for_url("**/status")
    expect(page.locator("#step-nik")).to_contain_text("Terverifikasi", timeout=60_000)
    join = page.get_by_role("button", name="Gabung gelombang 2026-01")
    expect(join).to_be_visible()
    check_page(page, "09-status-siap-gabung")
    join.click()
    expect(page.locator("#msg")).to_contain_text("Anda sudah bergabung dengan gelombang 2026-01")
    expect(page.locator("#step-batch")).to_contain_text("Sudah bergabung")
    check_page(page, "10-status-bergabung")

    # days pass: the batch closes, is drawn and announced; the access token has expired
    batch = next(b for b in web_stack.http.get("/v1/batches").json()["batches"] if b["batch_id"] == "2026-01")
    now = web_stack.http.get("/_local/clock").json()["now"]
    ahead = (datetime.fromisoformat(batch["announce_at"]) - datetime.fromisoformat(now)).total_seconds() + 120
    web_stack.advance(ahead)
    web_stack.drain()
    before = session_tokens(page)
    page.reload()
    result = page.locator("#result")
    expect(result).to_contain_text("Hasil seleksi")
    expect(result).to_contain_text("Selamat! Anda terpilih sebagai penerima Kartu Prakerja gelombang 2026-01")
    expect(page.locator("#step-batch")).to_contain_text("Terpilih")
    after = session_tokens(page)
    assert after["refresh"] and after["refresh"] != before["refresh"], "the session was not refreshed"
    check_page(page, "11-status-hasil")
    # the same page in English
    page.get_by_role("button", name="English").click()
    expect(result).to_contain_text("Congratulations! You were selected for Kartu Prakerja batch 2026-01")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_page(page, "11b-status-hasil-en")
    page.reload()
    expect(page.get_by_role("heading", name="Registration status")).to_be_visible()
