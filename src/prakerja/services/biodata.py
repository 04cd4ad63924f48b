"""The biodata step: local checks, storing a new version, queueing the ministry's NIK check.

Every mistake that can be caught before the ministry is asked is caught here
(``prakerja.domain.biodata``). The latest stored version is the one verified: a change while a
check is in flight supersedes it (the worker skips stale versions; the PROFILE's ``nik_version``
names the version the nik step is about), unless the ministry already VERIFIED it.

One account per NIK, by a keyed-HMAC sentinel that the NIK worker writes only when the ministry
has VERIFIED the NIK for this account's data (:mod:`prakerja.services.nik_check`; issue 16). A
submission claims nothing: a NIK pending or rejected for another account never blocks one
(otherwise anyone holding a leaked NIK could lock its owner out); only a NIK verified for
another account answers 409 ``NIK_ALREADY_USED``.

NIK and KK are stored only as KMS envelopes (``nik_enc``, ``kk_enc``: AES-GCM under a data key,
bound to the applicant; :mod:`prakerja.adapters.crypto`) and found only by keyed HMAC.

Limits (Limits table, :mod:`prakerja.adapters.quota`): corrections (a new version after the
first) at most ``BIODATA_CORRECTIONS_PER_DAY`` per WIB day (429 ``TOO_MANY_CORRECTIONS``), and
``NIK_ALREADY_USED`` answers at most ``NIK_USED_PER_HOUR`` per applicant per hour; past that,
every submission is 429 ``TOO_MANY_NIK_ATTEMPTS`` until the hour ends, whatever the NIK, so the
answer cannot be used to find out which NIKs are registered; and ministry checks of one NIK
at most ``NIK_CHECKS_PER_DAY`` (3) per WIB day across every account (429
``TOO_MANY_NIK_CHECKS``, counted by the NIK's keyed HMAC), so the check is no oracle on a leaked
NIK. All with Retry-After.

What the citizen sees of a rejection is one generic reason (``DATA_NOT_MATCHING_DUKCAPIL``, or
``NIK_ALREADY_USED``), never the ministry's detail (:func:`prakerja.domain.nik.citizen_reason`);
the detail stays in the BIODATA item's ``check`` for operators.

Retention: each stored version carries a DynamoDB ``ttl`` ``BIODATA_RETENTION_DAYS`` (730) after
its submission, so the biodata goes on its own once that time has passed (0: kept until erasure).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from prakerja import clock
from prakerja.adapters.crypto import Envelopes, kk_aad, nik_aad
from prakerja.adapters.outbox import Message
from prakerja.adapters.quota import Quota
from prakerja.domain import applicant as states
from prakerja.domain.biodata import Biodata, check_biodata
from prakerja.domain.eligibility import wib_date
from prakerja.domain.errors import Conflict, FieldIssue, Forbidden, InvalidInput, NotFound, TooMany, validation_issues
from prakerja.domain.nik import NikError, citizen_step, mask_nik, normalize_nik, parse_nik
from prakerja.domain.regions import lookup_district
from prakerja.services.consent import require_active
from prakerja.services.lookups import verified_nik_holder
from prakerja.services.security import lookup_key
from prakerja.services.wiring import Wiring

NIK_QUEUE = "nik"


def _issues(items: list[FieldIssue]) -> list[dict]:
    return [{"field": i.field, "code": i.code} for i in items]


class BiodataService:
    """Use cases of the biodata / NIK step."""

    def __init__(self, w: Wiring, envelopes: Envelopes) -> None:
        self.w = w
        self.envelopes = envelopes
        s = w.settings
        self.corrections = Quota(s.limits_table, "corrections", s.biodata_corrections_per_day)
        self.nik_used = Quota(s.limits_table, "nik_used", s.nik_used_per_hour)
        self.nik_checks = Quota(s.limits_table, "nik_checks", s.nik_checks_per_day)

    def preview(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Check a form without storing it: ``{valid, errors, warnings, decoded}``.

        Reveals nothing about other applicants (not whether a NIK is registered). A key that is
        not a field of :class:`Biodata` is refused outright, as ``PUT`` refuses it: raises
        InvalidInput(VALIDATION_FAILED) naming each such key (code ``INVALID``)."""
        unknown = sorted(str(k) for k in raw if k not in Biodata.model_fields)
        if unknown:
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue(k[:64], "INVALID") for k in unknown[:20]])
        today = wib_date(clock.now())
        try:
            form = Biodata.model_validate(raw)
        except ValidationError as exc:
            return {"valid": False, "errors": _issues(validation_issues(exc.errors())), "warnings": [],
                    "decoded": self._decode_only(raw.get("nik"), today)}
        check = check_biodata(form, today=today)
        return {"valid": check.ok, "errors": _issues(check.errors), "warnings": _issues(check.warnings),
                "decoded": _decoded(check.decoded)}

    def _decode_only(self, nik: Any, today: Any) -> dict | None:
        if not isinstance(nik, str):
            return None
        try:
            return _decoded(parse_nik(nik, today=today))
        except NikError:
            return None

    def put(self, applicant_id: str, form: Biodata) -> dict[str, Any]:
        """Store a new biodata version and queue its check. ``{status, version, warnings}``.

        Raises Forbidden(EMAIL_NOT_VERIFIED), InvalidInput (every field), Conflict(NIK_ALREADY_USED
        | ALREADY_VERIFIED | NIK_CHECK_IN_PROGRESS on a lost race), TooMany(TOO_MANY_CORRECTIONS |
        TOO_MANY_NIK_ATTEMPTS | TOO_MANY_NIK_CHECKS, with retry_after).

        Cost: the profile, the NIK's sentinel under each key id (one outside a rotation; plus the
        holder's profile for a pre-issue-16 claim) and BIODATA read; on a correction the previous
        NIK's sentinel read and the corrections quota written; the per-NIK quota written; one
        transaction (BIODATA, profile, outbox, and the release of a claim of ours)."""
        store = self.w.store
        profile = store.get_profile(applicant_id)
        require_active(profile)
        if not profile or not states.email_verified(profile["steps"]):
            raise Forbidden("EMAIL_NOT_VERIFIED")
        if profile["steps"]["nik"]["status"] == "VERIFIED":
            raise Conflict("ALREADY_VERIFIED")
        now = clock.now()
        check = check_biodata(form, today=wib_date(now))
        if check.errors:
            raise InvalidInput("VALIDATION_FAILED", check.errors)
        nik = normalize_nik(form.nik)
        keys = self.w.keys()
        nik_key, kid = lookup_key(keys, nik)
        self._check_nik_owner(applicant_id, nik, now)
        previous = store.biodata(applicant_id)
        if previous and (previous.get("check") or {}).get("result") == "VERIFIED":
            raise Conflict("ALREADY_VERIFIED")  # the ministry verified it; the step follows at once
        if previous:
            self._take_correction(applicant_id, now)
        self._take_nik_check(lookup_key(keys, f"nik-checks:{nik}")[0], now)
        version = int(previous["version"]) + 1 if previous else 1
        at = clock.iso(now)
        data = form.model_dump(mode="json", exclude={"nik", "kk_number"})
        sealed = {"nik_enc": self.envelopes.seal(nik, nik_aad(applicant_id))}
        if form.kk_number:
            sealed["kk_enc"] = self.envelopes.seal(form.kk_number, kk_aad(applicant_id))
        message = Message(NIK_QUEUE, {"applicant_id": applicant_id, "version": version})
        items = [
            # a version the ministry VERIFIED is never superseded (its sentinel is written with it)
            store.biodata_put(applicant_id, {"version": version, "data": data, **sealed, "nik_key": nik_key,
                                             "nik_kid": kid, "submitted_at": at, "check": None,
                                             **self._retention(now)}),
            store.nik_pending_update(applicant_id, version, at, states.allowed_from("nik", "PENDING")),
            *self.w.outbox.put_items([message], now),
        ]
        # a claim of ours on the previous NIK (written at submission before issue 16) goes: a
        # pending submission holds no sentinel
        if previous and previous.get("nik_key") and store.nik_owner(previous["nik_key"]) == applicant_id:
            items.append(store.nik_sentinel_release(previous["nik_key"], applicant_id))
        if not store.transact(items):
            raise Conflict("NIK_CHECK_IN_PROGRESS", retry_after=1)
        self.w.outbox.dispatch([message])
        return {"status": "PENDING", "version": version, "warnings": _issues(check.warnings)}

    def _retention(self, now: datetime) -> dict[str, int]:
        """``{"ttl": epoch seconds}`` ``BIODATA_RETENTION_DAYS`` after ``now``, or ``{}`` when 0 (kept
        until erasure). DynamoDB's TTL then deletes the item (docs/runbook.md "Retention")."""
        days = self.w.settings.biodata_retention_days
        return {"ttl": int(now.timestamp()) + days * 86400} if days else {}

    def _check_nik_owner(self, applicant_id: str, nik: str, now: datetime) -> None:
        """Raise Conflict(NIK_ALREADY_USED) when the ministry verified the NIK for another account
        (under any key id), at most ``nik_used_per_hour`` times an hour; past that
        TooMany(TOO_MANY_NIK_ATTEMPTS) for any NIK. A pending or rejected claim never blocks."""
        hour = int(now.timestamp()) // 3600
        retry_after = (hour + 1) * 3600 - int(now.timestamp())
        if self.nik_used.exhausted(applicant_id, str(hour)):
            raise TooMany("TOO_MANY_NIK_ATTEMPTS", retry_after=retry_after)
        owner = verified_nik_holder(self.w.store, self.w.keys(), nik)
        if owner and owner != applicant_id:
            if not self.nik_used.take(applicant_id, str(hour), expires_at=(hour + 2) * 3600):
                raise TooMany("TOO_MANY_NIK_ATTEMPTS", retry_after=retry_after)
            raise Conflict("NIK_ALREADY_USED", [FieldIssue("nik", "NIK_ALREADY_USED")])

    def _take_nik_check(self, subject: str, now: datetime) -> None:
        """Count one ministry check of a NIK, whatever the account, in the WIB day;
        TooMany(TOO_MANY_NIK_CHECKS) past ``nik_checks_per_day``. One conditional write.

        ``subject``: a keyed HMAC of the NIK of its own (``nik-checks:<nik>``), not its lookup
        HMAC, so the counter cannot be joined with sentinels or priority lists. It names no
        account, outlives an erasure (deleting the account must not reset the limit) and expires
        the day after its WIB day (:mod:`prakerja.services.privacy`, "What stays")."""
        day = now.astimezone(clock.WIB).date()
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.WIB)
        if not self.nik_checks.take(subject, day.isoformat(), expires_at=int(midnight.timestamp()) + 86400):
            raise TooMany("TOO_MANY_NIK_CHECKS", retry_after=max(1, int((midnight - now).total_seconds())))

    def _take_correction(self, applicant_id: str, now: datetime) -> None:
        """Count one correction in the applicant's WIB day; TooMany(TOO_MANY_CORRECTIONS) past the limit."""
        day = now.astimezone(clock.WIB).date()
        midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.WIB)
        if not self.corrections.take(applicant_id, day.isoformat(), expires_at=int(midnight.timestamp()) + 86400):
            raise TooMany("TOO_MANY_CORRECTIONS", retry_after=max(1, int((midnight - now).total_seconds())))

    def get(self, applicant_id: str) -> dict[str, Any]:
        """The stored biodata with the NIK (and KK) masked, and the check's state. Raises NotFound."""
        item = self.w.store.biodata(applicant_id)
        if not item:
            raise NotFound("NOT_FOUND")
        data = dict(item["data"])
        data["nik"] = mask_nik(self.envelopes.open(item["nik_enc"], nik_aad(applicant_id)))
        data["kk_number"] = mask_nik(self.envelopes.open(item["kk_enc"], kk_aad(applicant_id))) \
            if item.get("kk_enc") else None
        profile = self.w.store.get_profile(applicant_id) or {"steps": {}}
        # the citizen sees one generic reason and no field list (issue 16): the ministry's detail
        # stays in the check record for operators; ``mismatched_fields`` stays in the contract, empty
        return {"biodata": data, "version": item["version"], "submitted_at": item["submitted_at"],
                "check": citizen_step(profile["steps"].get("nik")), "mismatched_fields": []}


def _decoded(parts: Any) -> dict | None:
    if parts is None:
        return None
    region = lookup_district(parts.district_code)
    return {
        "province": {"code": parts.province_code, "name": region.province_name if region else None},
        "regency": {"code": parts.regency_code, "name": region.regency_name if region else None},
        "district": {"code": parts.district_code, "name": region.district_name if region else None},
        "date_of_birth": parts.birth_date.isoformat(),
        "sex": parts.sex,
    }
