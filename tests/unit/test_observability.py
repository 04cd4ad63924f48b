"""Logs never carry personal data, even when a library puts input values into a message."""

from __future__ import annotations

import io
import json
import logging

from prakerja.observability import MaskingFormatter, mask


def test_mask_blanks_emails_niks_and_mobile_numbers():
    text = "budi.santoso+x@example.id sent 3201010101900001 from 081234567890 and +6281234567890"
    assert mask(text) == "[email] sent [nik] from [phone] and [phone]"


def test_mask_leaves_ids_and_times_alone():
    text = "applicant 1bcefd26cfd24dc5b4435f7e6d7743b8 at 2026-11-29T09:01:51Z version 2 took 1234 ms"
    assert mask(text) == text


def test_the_logger_formatter_masks_messages_extra_fields_and_exceptions():
    # Given a logger using the project's formatter
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter())
    log = logging.getLogger("test-masking")
    log.addHandler(handler)
    log.propagate = False
    # When something logs personal data by mistake, in an extra field and an exception
    try:
        raise ValueError("bad input nik=3201010101900001 email=siti@example.id")
    except ValueError:
        log.exception("failed for siti@example.id", extra={"phone": "081298765432"})
    # Then none of it reaches the output
    line = stream.getvalue()
    assert "3201010101900001" not in line and "siti@example.id" not in line and "081298765432" not in line
    assert json.loads(line.splitlines()[0])["message"] == "failed for [email]"
