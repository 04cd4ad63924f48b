"""Key rotation: new key ids for the JWT signing key and the HMAC lookup key, and the background
re-key of every HMAC lookup to the current key id (``prakerja-ops keys ...``).

The app secret's shape is in :mod:`prakerja.adapters.secrets`. Every rotation writes a new
secret version whose new kid has fresh random key material (32 bytes from :mod:`secrets`), so it
owes nothing to a leaked seed or key; functions pick the version up within
``MAX_AGE_SECONDS`` (the Powertools Parameters cache).

* **JWT** (``rotate("jwt")``): tokens are signed with the new kid at once; the old kid joins
  ``previous_jwt_kids`` so tokens issued before still verify until they expire (15 minutes).
  Previous JWT kids retired more than ``JWT_KEEP_SECONDS`` ago are dropped at the next rotation.
* **JWT, emergency** (``rotate("jwt", emergency=True)``, for a leaked signing key): the new kid
  is current at once (no ``active_from``) and every previous JWT kid is dropped, so every access
  token issued before is refused; raising ``session_epoch`` ends every refresh token issued
  before too (:meth:`prakerja.services.accounts.Accounts.refresh`). Every applicant signs in
  again: that is the point. A function still holding the cached secret from before (at most
  ``MAX_AGE_SECONDS``) keeps the old kid until its cache runs out.
* **HMAC** (``rotate("hmac")``): writes (email and NIK sentinels, the profile's ``email_key``,
  the biodata's ``nik_key``) use the new kid at once; every lookup tries the new kid, then the
  previous one (:mod:`prakerja.services.lookups`). :meth:`KeyManager.rekey` then moves each
  applicant's lookups to the current kid, one transaction per applicant (profile or biodata,
  new sentinel, old sentinel removed), and drops the previous kid from the secret once no item
  under it is left and ``REKEY_GRACE_SECONDS`` have passed since the rotation (so no function
  still holds a cached secret in which the old kid was current). A second HMAC rotation is
  refused while a previous kid remains: at most two kids are ever tried.

The re-key is idempotent and resumable: it scans for whatever is still under a previous kid, so
running it again after an interruption carries on where it stopped, and running it when nothing
is left only drops the previous kid. It needs the plaintext of each lookup: the email from the
profile, the NIK from its KMS envelope (``kms:Decrypt`` on the PII key). Sentinels left under a
previous kid by an applicant that no longer holds them (deleted accounts) are removed.

Not re-keyed (they expire): single-use email tokens (links carry HMACs of the addresses they
were issued for; they are recomputed when a link is used), sign-in failure counters (Limits
table, 15-minute windows), idempotency fingerprints (one hour). Batch priority lists store only
HMACs of NIKs under the kids in use when the batch was created (``priority_kids``): a list made
before an HMAC rotation matches NIKs only under the old kid, so :meth:`KeyManager.status` names
every batch still to close whose list lacks the current kid.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from prakerja import clock
from prakerja.adapters.applicants import kind_of, linked_key, sentinel_kind
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.crypto import EnvelopeError, Envelopes, nik_aad
from prakerja.adapters.secrets import (
    MAX_AGE_SECONDS,
    Keys,
    encode_key,
    keys_from_document,
    pending,
    read_document,
    write_document,
)
from prakerja.domain.accounts import lookup_email
from prakerja.domain.errors import Conflict, InvalidInput
from prakerja.observability import logger
from prakerja.services.security import lookup_key
from prakerja.services.wiring import Wiring

Kind = Literal["hmac", "jwt"]
#: a function holding a secret cached before the rotation may write under the old kid this long
#: after it (the Powertools cache age plus the longest request)
#: seconds from a rotation until its new kid is current (every function's cached secret knows it)
ACTIVATION_SECONDS = MAX_AGE_SECONDS + 60
#: the re-key moves nothing before the new kid is current everywhere
REKEY_GRACE_SECONDS = ACTIVATION_SECONDS
#: previous JWT kids are kept at least this long (access tokens live 15 minutes)
JWT_KEEP_SECONDS = 3600
PREFIX = {"jwt": "k", "hmac": "h"}
#: outcomes of re-keying one applicant
REKEYED, CURRENT, GONE, CONFLICT, FAILED = "rekeyed", "current", "gone", "conflict", "failed"
#: the HMAC kid of the template's first secret version (batches created before ``priority_kids``)
INITIAL_HMAC_KID = "h1"


def next_kid(kind: Kind, document: dict[str, Any]) -> str:
    """A key id never used before in ``document``: ``k``/``h`` and one more than the highest
    number among the current, previous and retired kids (``h1`` -> ``h2``)."""
    prefix = PREFIX[kind]
    seen = {document.get("jwt_kid"), document.get("hmac_kid"), *(document.get("previous_jwt_kids") or ()),
            *(document.get("previous_hmac_kids") or ()), *(document.get("keys") or {}),
            *(document.get("retired_at") or {})}
    numbers = [int(m.group(1)) for kid in seen if kid and (m := re.fullmatch(rf"{prefix}(\d+)", str(kid)))]
    return f"{prefix}{max(numbers, default=0) + 1}"


def compact(document: dict[str, Any]) -> dict[str, Any]:
    """Drop key material no kid in use needs: ``keys`` entries of dropped kids, and the legacy
    ``seed`` once every kid in use has its own material (after a leak of the seed, rotating both
    kinds and finishing the re-key removes it). Returns ``document``, changed in place."""
    in_use = {document["jwt_kid"], document["hmac_kid"], *(document.get("previous_jwt_kids") or ()),
              *(document.get("previous_hmac_kids") or ())}
    material = {kid: value for kid, value in (document.get("keys") or {}).items() if kid in in_use}
    if material:
        document["keys"] = material
    else:
        document.pop("keys", None)
    if in_use <= set(material):
        document.pop("seed", None)
    return document


class KeyManager:
    """Rotation, re-key and status over one stack (``w``: settings naming the Applicants table,
    the secret and, for the priority-list check, the Batches table)."""

    def __init__(self, w: Wiring) -> None:
        self.w = w
        self.name = w.settings.secrets_name
        self._envelopes: Envelopes | None = None

    # ------------------------------------------------------------------ rotate
    def rotate(self, kind: str, emergency: bool = False) -> dict[str, Any]:
        """Write a secret version with a new ``kind`` (``hmac`` or ``jwt``) kid of fresh key
        material; the old kid becomes previous. Returns ``{kind, old_kid, new_kid, previous,
        version_id, cache_seconds, active_from, rekey_from, emergency}`` (``rekey_from``: hmac
        only, when the previous kid may be dropped at the earliest). ``emergency`` (jwt only):
        see :meth:`rotate_jwt_emergency`. Raises InvalidInput(KEY_KIND_UNKNOWN; KEY_EMERGENCY_JWT_ONLY),
        Conflict(KEYS_ROTATION_PENDING; KEYS_REKEY_UNFINISHED for hmac while a previous HMAC kid remains)."""
        if kind not in PREFIX:
            raise InvalidInput("KEY_KIND_UNKNOWN")
        if emergency:
            if kind != "jwt":
                raise InvalidInput("KEY_EMERGENCY_JWT_ONLY")
            return self.rotate_jwt_emergency()
        document = read_document(self.name)
        keys = keys_from_document(document)
        now = clock.now()
        at = clock.iso(now)
        if pending(document, kind):
            raise Conflict("KEYS_ROTATION_PENDING", detail={"active_from": document["active_from"][kind]})
        if kind == "hmac" and keys.previous_hmac_kids:
            raise Conflict("KEYS_REKEY_UNFINISHED", detail={"previous": ",".join(keys.previous_hmac_kids)})
        old, new = document[f"{kind}_kid"], next_kid(cast(Kind, kind), document)
        retired = document.setdefault("retired_at", {})
        if kind == "jwt":
            keep = [k for k in keys.previous_jwt_kids
                    if k != old and clock.parse_iso(retired.get(k, at)) > now - timedelta(seconds=JWT_KEEP_SECONDS)]
            document["previous_jwt_kids"] = [old, *keep]
        else:
            document["previous_hmac_kids"] = [old]
        document.setdefault("keys", {})[new] = encode_key(secrets.token_bytes(32))
        document[f"{kind}_kid"] = new
        document.setdefault("rotated_at", {})[kind] = at
        # current only once no function can hold a version without it (two phases: see secrets)
        active_from = clock.iso(now + timedelta(seconds=ACTIVATION_SECONDS))
        document.setdefault("active_from", {})[kind] = active_from
        retired[old] = at
        version = write_document(self.name, compact(document))
        logger.info("key rotated", extra={"kind": kind, "old_kid": old, "new_kid": new})
        result = {"kind": kind, "old_kid": old, "new_kid": new, "previous": document[f"previous_{kind}_kids"],
                  "version_id": version, "cache_seconds": MAX_AGE_SECONDS, "active_from": active_from,
                  "emergency": False}
        if kind == "hmac":
            result["rekey_from"] = clock.iso(now + timedelta(seconds=REKEY_GRACE_SECONDS))
        return result

    def rotate_jwt_emergency(self) -> dict[str, Any]:
        """A leaked JWT key: a new kid of fresh material, current at once; every other JWT kid
        (the current one, the previous ones and one still pending) is dropped from the secret, and
        ``session_epoch`` goes up by one, so every access and refresh token issued before is
        refused. Also allowed while an ordinary JWT rotation is pending. Returns what
        :meth:`rotate` returns, ``previous`` empty, ``dropped`` the kids removed."""
        document = read_document(self.name)
        keys = keys_from_document(document)
        now = clock.now()
        at = clock.iso(now)
        dropped = list(dict.fromkeys([str(document["jwt_kid"]), *keys.jwt_kids]))
        new = next_kid("jwt", document)
        retired = document.setdefault("retired_at", {})
        for kid in dropped:
            retired[kid] = at
        document["previous_jwt_kids"] = []
        document.setdefault("keys", {})[new] = encode_key(secrets.token_bytes(32))
        document["jwt_kid"] = new
        document.setdefault("rotated_at", {})["jwt"] = at
        document.setdefault("active_from", {}).pop("jwt", None)
        document["session_epoch"] = int(document.get("session_epoch") or 0) + 1
        document["sessions_ended_at"] = at
        version = write_document(self.name, compact(document))
        logger.warning("jwt key rotated in an emergency", extra={"old_kid": keys.jwt_kid, "new_kid": new,
                                                                 "dropped": dropped})
        return {"kind": "jwt", "old_kid": keys.jwt_kid, "new_kid": new, "previous": [], "dropped": dropped,
                "version_id": version, "cache_seconds": MAX_AGE_SECONDS, "active_from": at, "emergency": True}

    # ------------------------------------------------------------------ status
    def remaining(self, kids: tuple[str, ...]) -> dict[str, int]:
        """Items still keyed under ``kids``: ``{email_sentinels, nik_sentinels, profiles, biodata}``."""
        counts = {"email_sentinels": 0, "nik_sentinels": 0, "profiles": 0, "biodata": 0}
        for item in self.w.store.items_under_kids(kids):
            if category := _category(item):
                counts[category] += 1
        return counts

    def status(self) -> dict[str, Any]:
        """Current and previous kids of both kinds, what is left to re-key, whether the previous
        HMAC kid can be dropped now (``rekey_complete``: nothing left and the grace time passed)
        and the batches whose priority list lacks the current HMAC kid."""
        document = read_document(self.name)
        keys = keys_from_document(document)
        now = clock.now()
        rotated = document.get("rotated_at") or {}
        retired = document.get("retired_at") or {}
        waiting = pending(document, "hmac")
        previous = () if waiting else keys.previous_hmac_kids  # nothing to re-key before the switch
        left = self.remaining(previous)
        hmac: dict[str, Any] = {"current": keys.hmac_kid, "previous": list(previous),
                                "rotated_at": rotated.get("hmac"), "remaining": left}
        if waiting:
            hmac["next"], hmac["active_from"] = document["hmac_kid"], document["active_from"]["hmac"]
        if previous:
            grace = self._grace_end(document)
            hmac["rekey_complete"] = not any(left.values()) and now >= grace
            hmac["drop_from"] = clock.iso(grace)
        upcoming = document["jwt_kid"] if pending(document, "jwt") else None
        jwt = {"current": keys.jwt_kid, "rotated_at": rotated.get("jwt"),
               "previous": [{"kid": kid, "retired_at": retired.get(kid)} for kid in keys.previous_jwt_kids
                            if kid != upcoming]}
        if pending(document, "jwt"):
            jwt["next"], jwt["active_from"] = document["jwt_kid"], document["active_from"]["jwt"]
        if document.get("sessions_ended_at"):
            jwt["sessions_ended_at"] = document["sessions_ended_at"]
        return {"hmac": hmac, "jwt": jwt, "seed": "seed" in document,
                "stale_priority_lists": self.stale_priority_lists(str(document["hmac_kid"]))}

    def stale_priority_lists(self, kid: str) -> list[str]:
        """Ids of batches not yet closed whose priority list was keyed without the HMAC kid
        ``kid`` (the latest: current, or about to be)."""
        if not self.w.settings.batches_table:
            return []
        now = clock.iso(clock.now())
        return sorted(meta["batch_id"] for meta in BatchStore(self.w.settings.batches_table).list_batches()
                      if meta.get("priority_list") and str(meta.get("closes_at", "")) > now
                      and kid not in (meta.get("priority_kids") or [INITIAL_HMAC_KID]))

    # ------------------------------------------------------------------ re-key
    def rekey(self) -> dict[str, Any]:
        """Move every lookup under a previous HMAC kid to the current one (see the module
        docstring); drop the previous kid when nothing is left and the grace time has passed.

        Returns ``{current, previous, applicants: {rekeyed, current, gone, conflict, failed},
        stale_sentinels_removed, remaining, dropped (kids dropped now), drop_from}``."""
        document = read_document(self.name)
        if pending(document, "hmac"):
            # the new kid is not current everywhere yet: moving lookups to it now would hide them
            # from functions still writing and looking up under the old one
            return {"current": document["hmac_kid"], "previous": list(document.get("previous_hmac_kids") or ()),
                    "applicants": dict.fromkeys((REKEYED, CURRENT, GONE, CONFLICT, FAILED), 0),
                    "stale_sentinels_removed": 0, "remaining": {}, "dropped": [],
                    "waiting_until": document["active_from"]["hmac"]}
        keys = keys_from_document(document)
        previous = keys.previous_hmac_kids
        outcomes: Counter[str] = Counter()
        done: dict[str, str] = {}
        removed = 0
        for item in self.w.store.items_under_kids(previous):
            if not _category(item):
                continue
            aid = _applicant_of(item)
            if aid not in done:
                done[aid] = self.rekey_applicant(aid, keys)
                outcomes[done[aid]] += 1
            kind = sentinel_kind(item)
            if kind and done[aid] in {REKEYED, CURRENT, GONE}:
                # still there although its applicant holds the value under the current kid (or is gone)
                key = linked_key(item)
                if kind == "NIK" and done[aid] != GONE and not self._holds_current_nik(aid, keys):
                    # biodata gone (retention) but the account lives: its NIK cannot be re-keyed
                    # without the plaintext, and removing the sentinel would free the NIK; it stays,
                    # and with it the previous kid (reported as left)
                    continue
                removed += self.w.store.delete_stale_sentinel(kind, key, aid, str(item["kid"]))
        left = self.remaining(previous)
        result: dict[str, Any] = {"current": keys.hmac_kid, "previous": list(previous),
                                  "applicants": {k: outcomes.get(k, 0) for k in (REKEYED, CURRENT, GONE, CONFLICT,
                                                                                 FAILED)},
                                  "stale_sentinels_removed": removed, "remaining": left, "dropped": []}
        if previous:
            result["dropped"], result["drop_from"] = self._drop_if_done(previous, left)
        logger.info("rekey pass", extra={k: result[k] for k in ("applicants", "remaining", "dropped")})
        return result

    def _grace_end(self, document: dict[str, Any]) -> datetime:
        rotated = (document.get("rotated_at") or {}).get("hmac")
        start = clock.parse_iso(rotated) if rotated else clock.now()
        return start + timedelta(seconds=REKEY_GRACE_SECONDS)

    def _drop_if_done(self, previous: tuple[str, ...], left: dict[str, int]) -> tuple[list[str], str]:
        document = read_document(self.name)  # afresh: write over nothing newer
        grace = self._grace_end(document)
        if any(left.values()) or clock.now() < grace or tuple(document.get("previous_hmac_kids") or ()) != previous:
            return [], clock.iso(grace)
        document["previous_hmac_kids"] = []
        write_document(self.name, compact(document))
        logger.info("previous hmac kids dropped", extra={"kids": list(previous)})
        return list(previous), clock.iso(grace)

    def rekey_applicant(self, applicant_id: str, keys: Keys, attempts: int = 3) -> str:
        """Move one applicant's email and NIK lookups to the current HMAC kid in one transaction.

        Returns ``rekeyed``, ``current`` (nothing to move), ``gone`` (no profile), ``conflict``
        (another write kept winning, or the value's current-kid sentinel belongs to someone
        else) or ``failed`` (the NIK envelope could not be opened)."""
        store = self.w.store
        for _ in range(attempts):
            profile = store.get_profile(applicant_id)
            if not profile:
                return GONE
            items: list[dict] = []
            if profile.get("email_kid") != keys.hmac_kid:
                new_key, kid = lookup_key(keys, lookup_email(profile["email"]))
                items += store.rekey_email(applicant_id, profile["email_key"], new_key, kid)
            biodata = store.biodata(applicant_id)
            if biodata and biodata.get("nik_key") and biodata.get("nik_kid") != keys.hmac_kid:
                try:
                    nik = self._open(biodata["nik_enc"], nik_aad(applicant_id))
                except EnvelopeError:
                    return FAILED
                new_key, kid = lookup_key(keys, nik)
                # the sentinel moves only if it is ours: a NIK not (yet) verified for this applicant
                # holds none, and re-keying must not create one (issue 16). One read.
                sentinel = store.get_sentinel("NIK", biodata["nik_key"])
                ours = bool(sentinel and sentinel.get("applicant_id") == applicant_id)
                items += store.rekey_nik(applicant_id, int(biodata["version"]), biodata["nik_key"], new_key, kid,
                                         sentinel=sentinel, move_sentinel=ours)
            if not items:
                return CURRENT
            if store.transact(items):
                return REKEYED
        return CONFLICT

    def _holds_current_nik(self, applicant_id: str, keys: Keys) -> bool:
        """Whether the applicant's BIODATA exists with its NIK lookup under the current kid."""
        biodata = self.w.store.biodata(applicant_id)
        return bool(biodata and biodata.get("nik_kid") == keys.hmac_kid)

    def _open(self, envelope: dict, aad: str) -> str:
        if self._envelopes is None:
            key_id = self.w.settings.pii_key_id or (envelope.get("kid") if isinstance(envelope, dict) else "")
            if not key_id:
                raise EnvelopeError("ENVELOPE_MALFORMED")
            self._envelopes = Envelopes(key_id)  # opening needs no key id; KMS reads it from the blob
        return self._envelopes.open(envelope, aad)


#: the keyed kinds the re-key counts (adapters.applicants.kind_of -> category of the report)
_CATEGORIES = {"email_sentinel": "email_sentinels", "nik_sentinel": "nik_sentinels", "profile": "profiles",
               "biodata": "biodata"}


def _applicant_of(item: dict) -> str:
    return str(item.get("applicant_id") or "") if sentinel_kind(item) else linked_key(item)


def _category(item: dict) -> str | None:
    """Which kind of keyed item this is (None: something else that happens to carry a kid)."""
    return _CATEGORIES.get(kind_of(item))
