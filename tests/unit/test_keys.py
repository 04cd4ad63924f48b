"""The app secret's document: the first shape still reads, new kids get their own material, key
ids are never reused, and material nothing uses any more is dropped."""

from __future__ import annotations

import pytest

from prakerja.adapters.secrets import UnknownKeyId, encode_key, keys_from_document
from prakerja.services.keys import compact, next_kid
from prakerja.services.security import lookup_key, lookup_keys

FIRST = {"seed": "s" * 64, "jwt_kid": "k1", "hmac_kid": "h1"}


def test_the_first_secret_shape_derives_every_key_from_the_seed():
    keys = keys_from_document(FIRST)
    assert keys.hmac_kids == ("h1",) and keys.jwt_kids == ("k1",)
    assert len(keys.hmac_key("h1")) == 32 and keys.hmac_key("h1") != keys.jwt_key("k1")


def test_a_rotated_secret_uses_its_own_material_for_the_new_kid_and_tries_current_then_previous():
    # Given a secret rotated from h1 to h2 (h2 with its own random material)
    document = FIRST | {"hmac_kid": "h2", "previous_hmac_kids": ["h1"], "keys": {"h2": encode_key(b"\x01" * 32)}}
    keys = keys_from_document(document)
    # Then h2's key is that material, not anything derived from the seed
    assert keys.hmac_key("h2") == b"\x01" * 32
    # And lookups try h2 first, then h1, while writes use h2
    assert [kid for _, kid in lookup_keys(keys, "budi@example.id")] == ["h2", "h1"]
    assert lookup_key(keys, "budi@example.id")[1] == "h2"
    assert lookup_keys(keys, "budi@example.id")[1] == lookup_key(keys_from_document(FIRST), "budi@example.id")


def test_a_kid_without_material_or_seed_is_unknown():
    keys = keys_from_document({"jwt_kid": "k2", "hmac_kid": "h2", "keys": {"k2": encode_key(b"\x02" * 32),
                                                                           "h2": encode_key(b"\x03" * 32)}})
    with pytest.raises(UnknownKeyId):
        keys.hmac_key("h1")


def test_short_key_material_is_refused():
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        keys_from_document(FIRST | {"keys": {"h1": encode_key(b"short")}})


def test_next_kid_never_reuses_a_retired_kid():
    assert next_kid("hmac", FIRST) == "h2"
    assert next_kid("jwt", FIRST) == "k2"
    # h2 and h3 were used and dropped; only retired_at remembers them
    assert next_kid("hmac", FIRST | {"retired_at": {"h2": "x", "h3": "y"}}) == "h4"


def test_compact_drops_unused_material_and_the_seed_once_nothing_derives_from_it():
    # Given a secret whose previous HMAC kid h1 was dropped but JWT still uses seed-derived k1
    material = {k: encode_key(bytes([n]) * 32) for n, k in enumerate(("h1x", "h2", "k2"), start=1)}
    document = FIRST | {"hmac_kid": "h2", "previous_hmac_kids": [], "keys": dict(material)}
    # Then the unused material goes, and the seed stays for k1
    compact(document)
    assert set(document["keys"]) == {"h2"} and "seed" in document
    # When JWT moves to k2 and k1 is no longer accepted
    document |= {"jwt_kid": "k2", "previous_jwt_kids": [], "keys": {"h2": material["h2"], "k2": material["k2"]}}
    compact(document)
    # Then the seed goes too
    assert "seed" not in document and keys_from_document(document).jwt_key("k2") == b"\x03" * 32
