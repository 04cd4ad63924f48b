"""Masking for an operator's terminal, and which pending outbox messages are about an applicant."""

from __future__ import annotations

import json

import pytest

from prakerja.domain.privacy import mask_email, outbox_item_names

AID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("email", "masked"), [
    ("budi.santoso@example.id", "b***@e***.id"),
    ("Ani@Mail.Example.co.id", "A***@M***.id"),
    ("x@localhost", "x***@l***"),
    ("not-an-address", "***"),
    ("@example.id", "***"),
    ("", "***"),
])
def test_an_address_keeps_only_its_first_letters_and_top_level_domain(email, masked):
    assert mask_email(email) == masked


def item(body) -> dict:
    return {"pk": "OUTBOX#1", "sk": "OUTBOX", "queue": "email", "body": json.dumps(body)}


def test_outbox_messages_are_matched_by_applicant_id_reference_or_exact_address():
    # Given the messages a pending outbox can hold
    nik_check = item({"applicant_id": AID, "version": 2})
    own_mail = item({"template": "password_changed", "to": "x@example.id", "params": {}, "ref": AID})
    to_address = item({"template": "already_registered", "to": " Budi@Example.id", "params": {}, "ref": "r1"})
    someone_else = item({"template": "already_registered", "to": "abudi@example.id", "params": {}, "ref": "r2"})
    # Then those naming the applicant id or one of the addresses held (in any case) are theirs
    emails = ["budi@example.id"]
    assert outbox_item_names(nik_check, AID, emails) and outbox_item_names(own_mail, AID, emails)
    assert outbox_item_names(to_address, AID, emails)
    # And an address that merely contains theirs, or a body that is not JSON, is not
    assert not outbox_item_names(someone_else, AID, emails)
    assert not outbox_item_names({"body": "{not json"}, AID, emails)
    assert not outbox_item_names(to_address, AID, [])
