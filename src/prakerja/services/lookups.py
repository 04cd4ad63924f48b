"""Keyed lookups of an email address or a NIK across an HMAC key rotation.

Items are written under the current HMAC key id only; lookups try the current kid, then every
previous one (``previous_hmac_kids`` in the app secret) until ``prakerja-ops keys rekey`` has
moved every item to the current kid and dropped the previous ones. The one-account-per-address
and one-account-per-NIK guarantees hold across a rotation because every write of a sentinel
under the current kid carries a condition that the same value's sentinel under each previous
kid is absent (or the writer's own): the write and the re-key, which moves a sentinel in one
transaction, cannot both see the value free. (NIK sentinels are written by the NIK worker on a
VERIFIED answer: :mod:`prakerja.services.nik_check`.)
"""

from __future__ import annotations

from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.secrets import Keys
from prakerja.domain.accounts import lookup_email
from prakerja.domain.errors import InvalidInput
from prakerja.services.security import lookup_key, lookup_keys


def find_email(store: ApplicantStore, keys: Keys, normalised: str) -> tuple[str, str] | None:
    """``(applicant_id, email_key)`` of the account holding the (normalised) address under any
    key id, current first; None when no account has it. ``email_key`` is the sentinel's HMAC,
    which is what the profile holds."""
    return store.find_email(key for key, _ in lookup_keys(keys, normalised))


def applicant_for_email(store: ApplicantStore, keys: Keys, email: str) -> str | None:
    """The applicant id holding ``email`` (as typed; normalised here) under any key id, or None
    (also for text that is not an address)."""
    try:
        normalised = lookup_email(email)
    except InvalidInput:
        return None
    found = find_email(store, keys, normalised)
    return found[0] if found else None


def find_nik(store: ApplicantStore, keys: Keys, nik: str) -> tuple[str, str] | None:
    """``(applicant_id, nik_key)`` of the applicant holding the (normalised) NIK under any key id."""
    return store.find_nik(key for key, _ in lookup_keys(keys, nik))


def holds_verified(store: ApplicantStore, sentinel: dict) -> bool:
    """Whether a NIK sentinel makes its applicant the NIK's holder: written on a VERIFIED answer
    (``verified_at``), or a submission-time claim (before issue 16) of an applicant whose nik
    step is VERIFIED. Costs one profile read for such an old claim, none otherwise."""
    if sentinel.get("verified_at"):
        return True
    profile = store.get_profile(str(sentinel["applicant_id"]))
    return bool(profile and (profile["steps"].get("nik") or {}).get("status") == "VERIFIED")


def nik_sentinels(store: ApplicantStore, keys: Keys, nik: str) -> list[tuple[str, str, dict | None]]:
    """``(nik_key, kid, sentinel or None)`` of the (normalised) NIK under every key id, current
    first. One strongly consistent read per key id (one outside a rotation)."""
    return [(key, kid, store.get_sentinel("NIK", key)) for key, kid in lookup_keys(keys, nik)]


def verified_nik_holder(store: ApplicantStore, keys: Keys, nik: str) -> str | None:
    """The applicant for whom the ministry verified the NIK (under any key id), or None. A
    pending or rejected submission holds nothing (issue 16)."""
    for _, _, sentinel in nik_sentinels(store, keys, nik):
        if sentinel and holds_verified(store, sentinel):
            return str(sentinel["applicant_id"])
    return None


def previous_guards(store: ApplicantStore, keys: Keys, kind: str, value: str, applicant_id: str | None = None,
                    skip: frozenset[str] = frozenset()) -> list[dict]:
    """``ConditionCheck`` items for a transaction that writes ``kind`` (``EMAIL``/``NIK``)
    sentinel of ``value`` under the current kid: the value's sentinels under the previous kids
    must be absent (or ``applicant_id``'s). Keys in ``skip`` (items the same transaction touches
    otherwise, e.g. deletes) are left out, since a transaction names an item once."""
    current = lookup_key(keys, value)[0]
    return [store.sentinel_free(kind, key, applicant_id) for key, _ in lookup_keys(keys, value)
            if key != current and key not in skip]


def same_address(keys: Keys, typed_email: str, email_key: str) -> bool:
    """Whether ``email_key`` is the HMAC of ``typed_email`` under a known kid: a link issued for
    an address stays good when only the address's key id changed (rotation, re-key)."""
    try:
        normalised = lookup_email(typed_email)
    except InvalidInput:
        return False
    return any(key == email_key for key, _ in lookup_keys(keys, normalised))


def address_unchanged(keys: Keys, profile: dict, token: dict) -> bool:
    """Whether the account still has the address an emailed link (``token``) was issued for.

    Links record the profile's ``email_generation`` (raised by every change of address), which
    no key rotation or re-key touches; links issued before that field existed compare the HMAC
    of the address under every known kid."""
    if "email_generation" in token:
        return int(token["email_generation"]) == int(profile.get("email_generation", 0))
    return profile["email_key"] == token.get("email_key") or same_address(keys, profile["email"],
                                                                           str(token.get("email_key", "")))
