"""Emails as queue messages, and their texts (Bahasa Indonesia first, English second).

Services never call SES: they put an email message in the outbox (``email`` queue for
transactional mail, ``bulk_email`` for announcements); the sender function renders and sends.
A message body is ``{"template": name, "to": address as typed, "params": {...}, "ref": id}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from prakerja.adapters.outbox import Message

TRANSACTIONAL = "email"
BULK = "bulk_email"


@dataclass(frozen=True)
class Rendered:
    """A rendered email: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


_TEMPLATES: dict[str, tuple[str, str]] = {
    "verify_email": (
        "Konfirmasi email Anda untuk Kartu Prakerja / Confirm your email",
        "Halo,\n\nTerima kasih telah mendaftar Kartu Prakerja. Buka tautan ini untuk mengonfirmasi "
        "email Anda (berlaku 24 jam):\n{link}\n\nJika Anda tidak mendaftar, abaikan email ini.\n\n"
        "---\nHello,\n\nThank you for registering for Kartu Prakerja. Open this link to confirm your "
        "email (valid for 24 hours):\n{link}\n\nIf you did not register, ignore this email.\n",
    ),
    "already_registered": (
        "Ada yang mencoba mendaftar dengan email Anda / Someone tried to register with your email",
        "Halo,\n\nSeseorang mencoba membuat akun Kartu Prakerja dengan alamat email ini, yang sudah "
        "terdaftar. Jika itu Anda, silakan masuk atau atur ulang kata sandi: {base}\n\n---\nHello,\n\n"
        "Someone tried to create a Kartu Prakerja account with this address, which is already "
        "registered. If it was you, sign in or reset your password: {base}\n",
    ),
    "password_reset": (
        "Atur ulang kata sandi Kartu Prakerja / Reset your Kartu Prakerja password",
        "Halo,\n\nKami menerima permintaan untuk mengatur ulang kata sandi akun Kartu Prakerja Anda. Buka "
        "tautan ini untuk memilih kata sandi baru (berlaku 1 jam, sekali pakai):\n{link}\n\nJika Anda tidak "
        "memintanya, abaikan email ini: kata sandi Anda tidak berubah.\n\n---\nHello,\n\nWe received a "
        "request to reset the password of your Kartu Prakerja account. Open this link to choose a new "
        "password (valid for 1 hour, single use):\n{link}\n\nIf you did not ask for it, ignore this email: "
        "your password has not changed.\n",
    ),
    "password_changed": (
        "Kata sandi Anda telah diubah / Your password was changed",
        "Halo,\n\nKata sandi akun Kartu Prakerja Anda baru saja diubah dan semua sesi lain telah diakhiri. "
        "Jika bukan Anda yang mengubahnya, segera atur ulang kata sandi: {base}\n\n---\nHello,\n\nThe "
        "password of your Kartu Prakerja account was just changed and every other session was ended. If "
        "it was not you, reset your password now: {base}\n",
    ),
    "change_email": (
        "Konfirmasi alamat email baru Anda / Confirm your new email address",
        "Halo,\n\nAkun Kartu Prakerja meminta untuk memakai alamat ini. Buka tautan ini untuk "
        "mengonfirmasi (berlaku 24 jam); alamat baru berlaku setelah dikonfirmasi:\n{link}\n\nJika Anda "
        "tidak memintanya, abaikan email ini.\n\n---\nHello,\n\nA Kartu Prakerja account asked to use "
        "this address. Open this link to confirm (valid for 24 hours); the new address takes effect once "
        "confirmed:\n{link}\n\nIf you did not ask for it, ignore this email.\n",
    ),
    "email_change_notice": (
        "Permintaan perubahan email akun Anda / A change of your account's email was requested",
        "Halo,\n\nAda permintaan untuk mengganti alamat email akun Kartu Prakerja Anda ke alamat lain. "
        "Perubahan berlaku setelah alamat baru dikonfirmasi. Jika bukan Anda, segera atur ulang kata sandi: "
        "{base}\n\n---\nHello,\n\nSomeone asked to change the email address of your Kartu Prakerja account "
        "to another address. The change takes effect once the new address is confirmed. If it was not "
        "you, reset your password now: {base}\n",
    ),
    "email_in_use": (
        "Alamat ini sudah terdaftar / This address is already registered",
        "Halo,\n\nSeseorang mencoba memindahkan akun Kartu Prakerja lain ke alamat ini, yang sudah "
        "memiliki akun sendiri, jadi tidak ada yang diubah. Jika itu Anda, masuk dengan akun ini: {base}"
        "\n\n---\nHello,\n\nSomeone tried to move another Kartu Prakerja account to this address, which "
        "already has its own account, so nothing was changed. If it was you, sign in with this account: "
        "{base}\n",
    ),
    "batch_result": (
        "Hasil seleksi gelombang {batch_id} / Result of batch {batch_id}",
        "Halo,\n\n{result_id}\nLihat status Anda: {base}\n\n---\nHello,\n\n{result_en}\n"
        "See your status: {base}\n",
    ),
}

_RESULT_TEXT = {
    "SELECTED": (
        "Selamat! Anda terpilih sebagai penerima Kartu Prakerja gelombang {batch_id}.",
        "Congratulations! You were selected for Kartu Prakerja batch {batch_id}.",
    ),
    "NOT_SELECTED": (
        "Anda belum terpilih di gelombang {batch_id}. Anda dapat bergabung di gelombang berikutnya.",
        "You were not selected in batch {batch_id}. You can join the next batch.",
    ),
}


def email_message(queue: str, template: str, to: str, params: dict[str, Any], ref: str,
                  dedupe_id: str | None = None) -> Message:
    """An outbox message for the sender. ``ref`` is an opaque id for logs (not unique: several
    emails to one applicant share it). ``dedupe_id`` names this one email across all its copies
    (the sender sends one email per id): random unless given; give a stable one when the same
    email may be built twice (a redelivered fan-out chunk), see :func:`stable_dedupe_id`."""
    body = {"template": template, "to": to, "params": params, "ref": ref}
    if dedupe_id is None:
        return Message(queue=queue, body=body)
    return Message(queue=queue, body=body, outbox_id=dedupe_id)


def stable_dedupe_id(*parts: str) -> str:
    """A dedupe id derived from what makes an email unique (``"batch_result", applicant_id,
    batch_id``): 32 hex digits, the same every time it is built from the same parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def render(template: str, params: dict[str, Any]) -> Rendered:
    """Render a template. Raises KeyError for an unknown template or a missing parameter."""
    subject, text = _TEMPLATES[template]
    values = dict(params)
    if template == "batch_result":
        id_text, en_text = _RESULT_TEXT[values["result"]]
        values["result_id"] = id_text.format(**values)
        values["result_en"] = en_text.format(**values)
    body = text.format(**values)
    html = "<html><body>" + "".join(
        f"<p>{_linkify(line)}</p>" for line in body.split("\n") if line.strip()
    ) + "</body></html>"
    return Rendered(subject.format(**values), body, html)


def _linkify(line: str) -> str:
    import html

    escaped = html.escape(line)
    if line.startswith("http://") or line.startswith("https://"):
        return f'<a href="{escaped}">{escaped}</a>'
    return escaped
