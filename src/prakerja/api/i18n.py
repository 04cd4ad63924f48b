"""Messages for every error code, Indonesian first, English second.

``message(code, lang)`` picks the text; unknown codes fall back to a generic text so that a new
code never produces an empty message. Keep this table in step with docs/errors.md.
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # generic
    "VALIDATION_FAILED": ("Data yang dikirim belum benar.", "The submitted data is not valid."),
    "INVALID_JSON": ("Isi permintaan bukan JSON yang benar.", "The request body is not valid JSON."),
    "NOT_FOUND": ("Alamat tidak ditemukan.", "Not found."),
    "METHOD_NOT_ALLOWED": ("Metode tidak diizinkan.", "Method not allowed."),
    "INTERNAL_ERROR": (
        "Terjadi gangguan di server. Silakan coba lagi.",
        "Something went wrong on the server. Please try again.",
    ),
    "SERVICE_BUSY": (
        "Layanan sedang sibuk. Silakan coba lagi sebentar lagi.",
        "The service is busy. Please try again shortly.",
    ),
    "REGISTRATION_PAUSED": (
        "Pendaftaran akun baru sedang dihentikan sementara karena banyaknya pendaftar. Silakan coba lagi "
        "setelah waktu yang ditunjukkan. Akun dan data yang sudah dikirim tetap diproses.",
        "Sign-up is paused for a while because of high demand. Please try again after the time shown. "
        "Accounts and data already submitted are still being processed.",
    ),
    # field codes
    "REQUIRED": ("Wajib diisi.", "This field is required."),
    "INVALID": ("Isian tidak valid.", "This value is not valid."),
    "TOO_SHORT": ("Terlalu pendek.", "Too short."),
    "TOO_LONG": ("Terlalu panjang.", "Too long."),
    "EMAIL_INVALID": ("Alamat email tidak valid.", "The email address is not valid."),
    "PASSWORD_TOO_SHORT": ("Kata sandi minimal 8 karakter.", "The password needs at least 8 characters."),
    "PASSWORD_TOO_LONG": ("Kata sandi maksimal 128 karakter.", "The password can have at most 128 characters."),
    "PASSWORD_COMMON": (
        "Kata sandi ini terlalu umum. Pilih yang lain.",
        "This password is too common. Choose another.",
    ),
    "CONSENT_REQUIRED": ("Persetujuan wajib diberikan.", "Consent is required."),
    "CONSENT_VERSION_UNKNOWN": ("Versi persetujuan tidak dikenal.", "Unknown consent version."),
    "CONTENT_TYPE_UNSUPPORTED": (
        "Jenis berkas tidak didukung. Gunakan JPEG, PNG atau HEIC.",
        "Unsupported file type. Use JPEG, PNG or HEIC.",
    ),
    # accounts and sessions
    "INVALID_CREDENTIALS": ("Email atau kata sandi salah.", "Wrong email or password."),
    "UNAUTHENTICATED": ("Silakan masuk terlebih dahulu.", "Please sign in first."),
    "TOKEN_INVALID": ("Sesi tidak valid. Silakan masuk lagi.", "Invalid session. Please sign in again."),
    "TOKEN_EXPIRED_SESSION": ("Sesi telah berakhir. Silakan masuk lagi.", "Session expired. Please sign in again."),
    "REFRESH_INVALID": ("Sesi tidak valid. Silakan masuk lagi.", "Invalid session. Please sign in again."),
    "IDEMPOTENCY_KEY_REUSED": (
        "Kunci idempotensi ini sudah dipakai untuk permintaan lain.",
        "This idempotency key was used for a different request.",
    ),
    "REQUEST_IN_PROGRESS": (
        "Permintaan yang sama sedang diproses. Coba lagi sebentar.",
        "The same request is being processed. Try again shortly.",
    ),
    "TOO_MANY_ATTEMPTS": (
        "Terlalu banyak percobaan. Coba lagi setelah waktu yang ditunjukkan.",
        "Too many attempts. Try again after the time shown.",
    ),
    "PASSWORD_WRONG": ("Kata sandi salah.", "Wrong password."),
    "EMAIL_UNCHANGED": ("Ini sudah alamat email akun Anda.", "This is already your account's email address."),
    "EMAIL_TAKEN": ("Alamat email ini sudah dipakai akun lain.", "This email address is used by another account."),
    "ACCOUNT_CHANGED": (
        "Akun Anda baru saja diubah di tempat lain. Muat ulang lalu coba lagi.",
        "Your account was just changed elsewhere. Reload and try again.",
    ),
    "CONSENT_WITHDRAWN": (
        "Anda telah menarik persetujuan, jadi data Anda tidak diproses. Berikan persetujuan lagi untuk "
        "melanjutkan.",
        "You withdrew your consent, so your data is not processed. Give consent again to continue.",
    ),
    # email tokens
    "TOKEN_USED": ("Tautan ini sudah dipakai.", "This link has already been used."),
    "TOKEN_EXPIRED": ("Tautan ini sudah kedaluwarsa. Minta tautan baru.", "This link has expired. Request a new one."),
    "TOKEN_UNKNOWN": ("Tautan tidak dikenal.", "Unknown link."),
    # gates
    "EMAIL_NOT_VERIFIED": ("Verifikasi email Anda terlebih dahulu.", "Verify your email first."),
    "NOT_ELIGIBLE": ("Langkah pendaftaran belum lengkap.", "Registration steps are not complete."),
    # KTP
    "UPLOAD_UNKNOWN": ("Unggahan tidak dikenal.", "Unknown upload."),
    "TOO_MANY_UPLOADS": (
        "Terlalu banyak unggahan foto KTP dalam satu jam. Silakan coba lagi setelah waktu yang ditunjukkan.",
        "Too many KTP photo uploads in one hour. Please try again after the time shown.",
    ),
    # biodata / NIK
    "NIK_FORMAT": ("NIK harus 16 angka.", "The NIK must be 16 digits."),
    "NIK_REGION_UNKNOWN": ("Kode wilayah pada NIK tidak dikenal.", "The NIK's region code is unknown."),
    "NIK_DATE_INVALID": ("Tanggal lahir pada NIK tidak valid.", "The NIK's birth date is not valid."),
    "NIK_SERIAL_INVALID": ("Nomor urut pada NIK tidak valid.", "The NIK's serial number is not valid."),
    # biodata fields
    "KK_INVALID": ("Nomor KK harus 16 angka.", "The KK number must be 16 digits."),
    "NAME_LENGTH": ("Nama harus 1 sampai 100 karakter.", "The name must be 1 to 100 characters."),
    "NAME_INVALID": ("Nama hanya boleh berisi huruf, spasi, tanda petik, titik, koma dan tanda hubung.",
                     "The name may only contain letters, spaces, apostrophes, dots, commas and hyphens."),
    "PLACE_OF_BIRTH_LENGTH": ("Tempat lahir harus 1 sampai 100 karakter.",
                              "Place of birth must be 1 to 100 characters."),
    "PLACE_OF_BIRTH_INVALID": ("Tempat lahir tidak valid.", "Place of birth is not valid."),
    "ADDRESS_LENGTH": ("Alamat harus 1 sampai 300 karakter.", "The address must be 1 to 300 characters."),
    "ADDRESS_INVALID": ("Alamat tidak valid.", "The address is not valid."),
    "DATE_INVALID": ("Tanggal tidak valid (format TTTT-BB-HH).", "The date is not valid (format YYYY-MM-DD)."),
    "DOB_IN_FUTURE": ("Tanggal lahir tidak boleh di masa depan.", "The date of birth cannot be in the future."),
    "SEX_INVALID": ("Pilih jenis kelamin: M (laki-laki) atau F (perempuan).", "Choose sex: M or F."),
    "REGION_UNKNOWN": ("Kode wilayah tidak dikenal.", "Unknown region code."),
    "REGION_MISMATCH": ("Wilayah tidak sesuai dengan wilayah di atasnya.",
                        "The region does not belong to its parent region."),
    "EDUCATION_INVALID": ("Pilih pendidikan terakhir dari daftar.", "Choose your education level from the list."),
    "WORK_STATUS_INVALID": ("Pilih status pekerjaan dari daftar.", "Choose your work status from the list."),
    "BOOL_INVALID": ("Pilih ya atau tidak.", "Choose yes or no."),
    "PHONE_INVALID": ("Nomor HP harus nomor seluler Indonesia (08… atau +628…).",
                      "The phone must be an Indonesian mobile number (08… or +628…)."),
    "NIK_DOB_MISMATCH": ("Tanggal lahir pada NIK berbeda dengan isian. Periksa kembali.",
                         "The NIK's birth date differs from the form. Please check."),
    "NIK_SEX_MISMATCH": ("Jenis kelamin pada NIK berbeda dengan isian. Periksa kembali.",
                         "The NIK's sex differs from the form. Please check."),
    "NIK_REGION_MISMATCH": ("Kode wilayah pada NIK berbeda dengan kecamatan yang dipilih.",
                            "The NIK's region differs from the chosen district."),
    "NIK_ALREADY_USED": ("NIK ini sudah dipakai akun lain.", "This NIK is already used by another account."),
    "UNDER_AGE": ("Usia minimal 18 tahun.", "You must be at least 18 years old."),
    "IN_FORMAL_EDUCATION": (
        "Peserta tidak sedang menempuh pendidikan formal.",
        "Participants may not be in formal education.",
    ),
    "NIK_CHECK_IN_PROGRESS": ("Pemeriksaan NIK sedang berjalan.", "The NIK check is in progress."),
    "ALREADY_VERIFIED": ("Data sudah terverifikasi.", "Your data is already verified."),
    "TOO_MANY_CORRECTIONS": (
        "Batas perbaikan data hari ini sudah tercapai. Silakan coba lagi besok.",
        "You have reached today's limit of corrections. Please try again tomorrow.",
    ),
    "TOO_MANY_NIK_ATTEMPTS": (
        "Terlalu banyak percobaan NIK. Silakan coba lagi nanti.",
        "Too many NIK attempts. Please try again later.",
    ),
    "TOO_MANY_NIK_CHECKS": (
        "NIK ini sudah terlalu sering diperiksa hari ini. Silakan coba lagi besok.",
        "This NIK has been checked too often today. Please try again tomorrow.",
    ),
    "DATA_NOT_MATCHING_DUKCAPIL": ("Data tidak sesuai dengan data Dukcapil. Periksa kembali KTP Anda.",
                                   "Your data does not match Dukcapil's records. Check your KTP."),
    # assessment
    "TEST_NOT_STARTED": ("Tes belum dimulai.", "The test has not been started."),
    "TEST_EXPIRED": ("Waktu tes sudah habis.", "The test time is over."),
    "TEST_ALREADY_TAKEN": ("Tes sudah diselesaikan.", "The test is already finished."),
    "TEST_RETAKE_NOT_YET": ("Tes ulang belum dapat dimulai; lihat retake_at.",
                            "The test cannot be retaken yet; see retake_at."),
    "QUESTION_INVALID": ("Soal tidak dikenal.", "Unknown question."),
    "OPTION_INVALID": ("Pilihan jawaban tidak dikenal.", "Unknown answer option."),
    # batches
    "BATCH_NOT_FOUND": ("Gelombang tidak ditemukan.", "Batch not found."),
    "BATCH_CLOSED": ("Gelombang ini tidak sedang dibuka.", "This batch is not open."),
    "ALREADY_JOINED": ("Anda sudah bergabung dengan gelombang.", "You have already joined a batch."),
    "ALREADY_SELECTED": ("Anda sudah terpilih di gelombang sebelumnya.", "You were already selected in a batch."),
}

# Step reasons shown as ``reason`` in ``GET /v1/me`` (clients render them in the reader's language).
REASONS: dict[str, tuple[str, str]] = {
    # email (SES notifications)
    "BOUNCED": ("Email kami tidak dapat dikirim ke alamat ini (alamat tidak ada atau ditolak). "
                "Ganti alamat email Anda.",
                "Our email could not be delivered to this address (it does not exist or refused it). "
                "Change your email address."),
    "COMPLAINED": ("Email kami ke alamat ini ditandai sebagai spam, jadi kami berhenti mengirim ke sana. "
                   "Ganti alamat email Anda untuk menerima pemberitahuan.",
                   "Our email to this address was marked as spam, so we stopped sending to it. "
                   "Change your email address to receive notifications."),
    # NIK check: what the citizen is shown (services.status; domain.nik.citizen_reason)
    "DATA_NOT_MATCHING_DUKCAPIL": ("Data tidak sesuai dengan data Dukcapil. Periksa kembali KTP Anda.",
                                   "Your data does not match Dukcapil's records. Check your KTP."),
    "NIK_ALREADY_USED": ("NIK ini sudah terverifikasi untuk akun lain. Periksa NIK Anda, atau hubungi layanan "
                         "Prakerja bila NIK ini milik Anda.",
                         "This NIK is already verified for another account. Check your NIK, or contact Prakerja "
                         "support if it is yours."),
    # NIK check (the ministry's answer; shown before issue 16, kept for clients that know them)
    "NOT_FOUND": ("NIK tidak ditemukan di data kependudukan. Periksa setiap angka NIK Anda.",
                  "The NIK was not found in the civil registry. Check every digit of your NIK."),
    "DATA_MISMATCH": ("Data tidak sesuai dengan data kependudukan. Periksa kolom yang ditandai.",
                      "Your data does not match the civil registry. Check the marked fields."),
    "DECEASED": ("NIK tercatat atas nama orang yang telah meninggal.", "The NIK belongs to a deceased person."),
    "INACTIVE": ("NIK tidak aktif. Hubungi Dinas Dukcapil setempat.",
                 "The NIK is inactive. Contact your local civil registry office."),
    "NOT_CITIZEN": ("Program ini untuk Warga Negara Indonesia.", "This programme is for Indonesian citizens."),
    "EXCLUDED": ("Anda termasuk kelompok yang tidak dapat mengikuti program ini (misalnya ASN, TNI, Polri).",
                 "You belong to a group that cannot join this programme (e.g. civil servants, TNI, Polri)."),
    # KTP photo
    "TOO_SMALL": ("Berkas terlalu kecil (minimal 10 KB). Foto ulang KTP Anda.",
                  "The file is too small (at least 10 KB). Take a new photo of your KTP."),
    "TOO_LARGE": ("Berkas terlalu besar (maksimal 10 MB atau 50 megapiksel).",
                  "The file is too large (at most 10 MB or 50 megapixels)."),
    "UNSUPPORTED_TYPE": ("Jenis berkas tidak didukung. Gunakan JPEG, PNG atau HEIC.",
                         "Unsupported file type. Use JPEG, PNG or HEIC."),
    "CORRUPT": ("Berkas rusak atau terpotong. Unggah ulang.", "The file is damaged or incomplete. Upload it again."),
    "LOW_RESOLUTION": ("Foto terlalu kecil untuk dibaca (minimal 600 x 380 piksel).",
                       "The photo is too small to read (at least 600 x 380 pixels)."),
    # test
    "SCORE_BELOW_PASS_MARK": ("Nilai tes di bawah batas lulus.", "The test score is below the pass mark."),
}

GENERIC = ("Permintaan tidak dapat diproses.", "The request could not be processed.")


def pick_language(accept_language: str | None) -> str:
    """Return ``"en"`` when the Accept-Language header prefers English, else ``"id"``."""
    if not accept_language:
        return "id"
    first = accept_language.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "id"


def message(code: str, lang: str = "id") -> str:
    """The text for ``code`` in ``lang`` (``"id"`` or ``"en"``)."""
    id_text, en_text = MESSAGES.get(code, GENERIC)
    return en_text if lang == "en" else id_text


def reason_text(code: str, lang: str = "id") -> str:
    """The text for a step reason shown in ``GET /v1/me`` (falls back to the generic text)."""
    id_text, en_text = REASONS.get(code, GENERIC)
    return en_text if lang == "en" else id_text
