"""The error contract's documentation and messages stay complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prakerja.api.i18n import MESSAGES, message, pick_language
from prakerja.domain.biodata import FIELD_CODES

REPO = Path(__file__).resolve().parents[2]


def test_docs_errors_md_is_generated_from_the_message_table():
    result = subprocess.run([sys.executable, "scripts/errors_doc.py", "--check"], cwd=REPO)
    assert result.returncode == 0, "run: python scripts/errors_doc.py"


def test_every_biodata_field_code_has_a_message_in_both_languages():
    missing = [code for code in FIELD_CODES if code not in MESSAGES]
    assert missing == []


def test_language_is_picked_from_accept_language():
    assert pick_language(None) == "id"
    assert pick_language("en-GB,en;q=0.8") == "en"
    assert pick_language("id-ID,id;q=0.9,en;q=0.5") == "id"
    assert message("TOKEN_USED", "en") == "This link has already been used."
    assert message("SOMETHING_NEW") == "Permintaan tidak dapat diproses."


def test_every_step_reason_a_service_can_record_has_text():
    from typing import get_args

    from prakerja.adapters.ministry import Reason
    from prakerja.api.i18n import REASONS
    from prakerja.domain import photo

    produced = set(get_args(Reason)) | {photo.TOO_SMALL, photo.TOO_LARGE, photo.UNSUPPORTED_TYPE, photo.CORRUPT,
                                        photo.LOW_RESOLUTION, "SCORE_BELOW_PASS_MARK"}
    assert produced - set(REASONS) == set()
