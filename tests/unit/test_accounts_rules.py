"""Pure account rules: the email address's one form, access-token claims, counting windows
(limits, Retry-After) and the consent view and gate."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import jwt
import pytest

from prakerja.adapters.secrets import keys_from_document
from prakerja.domain.accounts import (
    consent_active,
    consent_view,
    lookup_email,
    mail_address,
    normalise_email,
    seconds_left,
    window_start,
)
from prakerja.domain.errors import Forbidden, InvalidInput, Unauthorized
from prakerja.services.consent import require_active
from prakerja.services.security import AccessTokens

KEYS = keys_from_document({"seed": "s" * 64, "jwt_kid": "k1", "hmac_kid": "h1"})


# ---------------------------------------------------------------- the email address
@pytest.mark.parametrize("address", ["a\u0000@b.id", "\u202ea@b.id", "a@b..id", "a@-b.id", "<script>@b.id",
                                     "a b@b.id", "a@b.test", "not-an-address", "a@" + "b" * 250 + ".id"])
def test_addresses_with_control_bidi_characters_or_invalid_labels_are_refused(address):
    with pytest.raises(InvalidInput) as raised:
        normalise_email(address)
    assert [(f.field, f.code) for f in raised.value.fields] == [("email", "EMAIL_INVALID")]


@pytest.mark.parametrize("address", ["a+b@example.id", "first.last@example.co.id", "budi.santoso+demo@example.id",
                                     "siti.0001@example.id"])
def test_plain_ascii_addresses_keep_the_form_their_lookup_keys_were_made_from(address):
    # the HMAC lookup key of existing accounts was made over strip + NFKC + lower-case
    typed = f"  {address.upper()} "
    assert normalise_email(typed) == unicodedata.normalize("NFKC", typed.strip()).lower() == address


def test_a_full_width_variant_normalises_to_the_plain_address():
    assert normalise_email("\uff56\uff49\uff43\uff54\uff49\uff4d@\uff45xample.id") == "victim@example.id"


def test_an_address_only_the_earlier_check_accepted_is_still_found_but_not_accepted_anew():
    with pytest.raises(InvalidInput):
        normalise_email("Lama@Contoh..id")
    assert lookup_email("Lama@Contoh..id") == "lama@contoh..id"
    with pytest.raises(InvalidInput):
        lookup_email("no at sign")


def test_mail_goes_to_the_normalised_form_of_a_stored_address():
    assert mail_address("\uff2c\uff41\uff4d\uff41@Example.id") == "lama@example.id"
    assert mail_address("broken") == "broken"


# ---------------------------------------------------------------- access-token claims
def test_access_tokens_carry_issuer_audience_and_generation_and_are_checked_for_them():
    tokens = AccessTokens(lambda: KEYS, 900, "prakerja", "prakerja-api")
    claims = tokens.check(tokens.issue("a1", "f1", generation=3))
    assert (claims.applicant_id, claims.family, claims.generation) == ("a1", "f1", 3)
    for other in (AccessTokens(lambda: KEYS, 900, "prakerja", "other-api"),
                  AccessTokens(lambda: KEYS, 900, "elsewhere", "prakerja-api")):
        with pytest.raises(Unauthorized) as raised:
            tokens.check(other.issue("a1", "f1"))
        assert raised.value.code == "TOKEN_INVALID"


def test_a_token_without_issuer_and_audience_must_be_refreshed_and_a_bad_generation_is_invalid():
    tokens = AccessTokens(lambda: KEYS, 900, "prakerja", "prakerja-api")
    body = jwt.decode(tokens.issue("a1", "f1"), options={"verify_signature": False})
    sign = lambda claims: jwt.encode(claims, KEYS.jwt_key("k1"), algorithm="HS256", headers={"kid": "k1"})  # noqa: E731
    legacy = {k: v for k, v in body.items() if k not in ("iss", "aud", "gen")}
    with pytest.raises(Unauthorized) as raised:
        tokens.check(sign(legacy))
    assert raised.value.code == "TOKEN_EXPIRED_SESSION"
    assert tokens.check(sign({k: v for k, v in body.items() if k != "gen"})).generation == 0
    with pytest.raises(Unauthorized) as raised:
        tokens.check(sign(body | {"gen": "1"}))
    assert raised.value.code == "TOKEN_INVALID"


def test_claims_never_show_the_profile_in_their_repr():
    tokens = AccessTokens(lambda: KEYS, 900, "prakerja", "prakerja-api")
    claims = tokens.check(tokens.issue("a1", "f1"))
    assert "budi" not in repr(replace(claims, profile={"email": "budi@example.id"}))


def test_windows_are_aligned_to_the_epoch():
    assert window_start(900, 900) == 900
    assert window_start(1799, 900) == 900
    assert window_start(1800, 900) == 1800


def test_retry_after_is_the_time_left_in_the_window_never_zero():
    assert seconds_left(900, 900) == 900
    assert seconds_left(1799, 900) == 1
    assert seconds_left(1000, 900) == 800


def test_a_window_must_have_a_length():
    with pytest.raises(ValueError):
        window_start(10, 0)


def test_the_consent_view_shows_version_time_and_withdrawal():
    profile = {"consent_version": "2020-04", "consent_at": "2026-04-11T03:00:00Z"}
    assert consent_view(profile) == {"version": "2020-04", "given_at": "2026-04-11T03:00:00Z", "withdrawn_at": None}
    assert consent_active(profile)


def test_a_withdrawn_consent_stops_processing():
    profile = {"consent_version": "2020-04", "consent_at": "2026-04-11T03:00:00Z",
               "consent_withdrawn_at": "2026-04-12T03:00:00Z"}
    assert not consent_active(profile)
    with pytest.raises(Forbidden) as raised:
        require_active(profile)
    assert raised.value.code == "CONSENT_WITHDRAWN"


def test_consent_given_again_clears_the_withdrawal():
    assert consent_active({"consent_at": "2026-04-13T03:00:00Z", "consent_withdrawn_at": None})
    require_active({"consent_at": "2026-04-13T03:00:00Z", "consent_withdrawn_at": None})
    require_active(None)  # a missing profile is the caller's own check


def test_the_mailer_sends_to_the_punycode_form_of_an_idn_domain_and_leaves_ascii_alone():
    from prakerja.adapters.mailer import ascii_address

    assert ascii_address("a@bücher.de") == "a@xn--bcher-kva.de"
    assert ascii_address("siti+daftar@example.co.id") == "siti+daftar@example.co.id"


def test_new_addresses_need_an_ascii_local_part():
    with pytest.raises(InvalidInput):
        normalise_email("pendaftar.é@example.id")
