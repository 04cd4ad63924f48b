"""Personal-data rights (Law 27/2022): show, export and erase everything held about one applicant.

Operators act on an email address (``prakerja-ops applicant show|export|delete <email>``); the
applicant is found through the keyed HMAC of the address (every HMAC key id still in use, see
:func:`prakerja.services.lookups.find_email`) and the ``EMAIL#`` sentinel. From there on
only the pseudonymous applicant id is used. Where each kind of item lives and how it is found
without a table scan: :mod:`prakerja.adapters.personal_data`.

* **show**: a summary safe for a terminal: the address masked (``b***@e***.id``), the NIK masked
  as ``GET /v1/me/biodata`` shows it, step statuses (a rejected NIK check with the ministry's
  reason and mismatched fields, which the citizen is not shown), batch memberships, counts.
* **export**: one JSON document with every item held about the person (profile, biodata with
  NIK and KK decrypted from their KMS envelopes, step states, the NIK check record, the test,
  uploads and every stored version of the KTP photos, batch memberships and priority-list
  entries, email and refresh tokens, the EMAIL#/NIK# sentinels, revoked sessions, per-applicant
  limits, pending outbox messages) and nothing about anyone else. A pending email's single-use
  link (``params.link``, or any text holding ``token=``) is redacted: it would still work. Left out on purpose: the
  password hash (its presence is stated) and the SHA-256 hashes that key tokens (random values,
  not personal data: they identify a token, not a person).
* **delete** (:meth:`PersonalData.erase`, also behind the citizen's own ``DELETE /v1/me``):
  every version and delete marker of the KTP photos (``uploads/<id>/`` and ``ktp/<id>/``; the
  bucket is versioned), the batch member items and priority entries, the per-applicant limits,
  pending outbox items, revoked-session items, email and refresh tokens, NIK sentinels, every
  item of the applicant's partition, and last, in one transaction, the profile with its email
  and NIK sentinels. Because the profile and the email sentinel go last, an erasure that stops
  half-way is finished by running it again.

What stays, and why:

* the draw's audit record (``draws/<batch>.json`` in the Audit bucket) lists participants only
  by applicant id (a random uuid4), province code and priority flag, so anyone can re-run the
  draw; once the applicant is erased the id leads to no one;
* Idempotency records (Powertools) hold a hash of the client's Idempotency-Key, a keyed hash of
  the request and the reply ``{"status": "ACCEPTED"}``: nothing that leads to the person; they
  expire after an hour;
* the count of ministry checks of a NIK in a WIB day (Limits table, ``QUOTA#nik_checks#<hmac>``;
  issue 16): keyed by an HMAC of the NIK of its own (not joinable with sentinels or priority
  lists), it names no account, and it must survive an erasure, or deleting an account would
  reset the limit; it expires the day after;
* messages already in SQS (an email on its way) are sent; sign-in failure counters (HMACs of the
  email key and client address) expire within 30 minutes; CloudWatch logs carry no personal
  data.

Every operator action writes an audit record (who, what, when, applicant id; never the email)
to the Audit bucket under ``privacy/YYYY/MM/DD/`` (:class:`prakerja.adapters.personal_data.PrivacyAuditLog`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from prakerja import clock
from prakerja.adapters.applicants import kind_of, linked_key, sentinel_kind, sentinel_pk
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.personal_data import PersonalDataStore, PrivacyAuditLog, limit_counter
from prakerja.adapters.storage import PhotoStore
from prakerja.domain import applicant as states
from prakerja.domain.accounts import consent_view, lookup_email
from prakerja.domain.errors import DomainError, NotFound, Unavailable
from prakerja.domain.nik import mask_nik
from prakerja.domain.privacy import mask_email, outbox_item_names
from prakerja.observability import logger
from prakerja.services.lookups import find_email
from prakerja.services.security import lookup_key
from prakerja.services.wiring import Wiring

if TYPE_CHECKING:  # the citizen's DELETE /v1/me needs neither (no cryptography import at its cold start)
    from prakerja.adapters.crypto import Envelopes

EXPORT_FORMAT = "prakerja-personal-data/1"
AUDIT_FORMAT = "prakerja-privacy-audit/1"
PHOTO_PREFIXES = ("uploads/", "ktp/")
#: what an export shows instead of a pending email's single-use link (a live token)
REDACTED_LINK = "[redacted: a single-use link, still valid, is not exported]"
T = TypeVar("T")

NOTES = [
    "password_hash: an argon2id hash of the password is held; it is not exported.",
    "Email and refresh tokens are stored under the SHA-256 hash of a random token; the hashes are not "
    "personal data (they identify a token, not a person) and are left out.",
    "Draw audit records (draws/<batch>.json) list participants only by applicant id, province code and "
    "priority flag; they are kept so the draw can be re-run, and lead to no one once the applicant is erased.",
    "Idempotency records hold only hashes of the request and the reply {\"status\": \"ACCEPTED\"}.",
]


@dataclass
class Held:
    """Everything found about one applicant (items as stored, ``pk``/``sk`` included)."""

    applicant_id: str
    profile: dict | None
    partition: list[dict]
    linked: list[dict]
    families: list[dict]
    outbox: list[dict]
    limits: list[dict]
    batch_items: list[dict]
    photos: list[dict] = field(default_factory=list)

    def item(self, kind: str) -> dict | None:
        """The partition item of ``kind`` (``profile``, ``biodata``, ``assessment``:
        adapters.applicants.kind_of), or None."""
        return next((i for i in self.partition if kind_of(i) == kind), None)

    def in_partition(self, kind: str) -> list[dict]:
        """The partition items of ``kind`` (``ktp_upload``, ``membership``, ...), by sort key."""
        return sorted((i for i in self.partition if kind_of(i) == kind), key=lambda i: str(i["sk"]))

    def of_kind(self, kind: str) -> list[dict]:
        """Linked items of ``kind`` (``email_sentinel``, ``nik_sentinel``, ``email_token``, ``refresh_token``)."""
        return [i for i in self.linked if kind_of(i) == kind]

    def count(self) -> int:
        """How many stored things were found (items and photo versions)."""
        return sum(len(x) for x in (self.partition, self.linked, self.families, self.outbox, self.limits,
                                    self.batch_items, self.photos))


class PersonalData:
    """Show, export and erase one applicant's data; the operator actions are audited.

    ``envelopes`` opens the NIK/KK envelopes (only for show and export; None: not decrypted).
    ``audit`` is where operator actions are recorded (None: not recorded, for the citizen's own
    deletion, which the API's access log records)."""

    def __init__(self, w: Wiring, data: PersonalDataStore, photos: PhotoStore | None,
                 envelopes: Envelopes | None = None, audit: PrivacyAuditLog | None = None) -> None:
        self.w, self.data, self.photos = w, data, photos
        self.envelopes, self.audit = envelopes, audit

    @classmethod
    def from_wiring(cls, w: Wiring, envelopes: Envelopes | None = None, audit: PrivacyAuditLog | None = None
                    ) -> PersonalData:
        """Built from the settings' table and bucket names (``ktp_bucket`` empty: no photos)."""
        s = w.settings
        data = PersonalDataStore(s.applicants_table, s.limits_table, BatchStore(s.batches_table, s.member_shards),
                                 s.outbox_shards)
        photos = PhotoStore(s.ktp_bucket, s.presign_region) if s.ktp_bucket else None
        return cls(w, data, photos, envelopes, audit)

    # ------------------------------------------------------------------ finding
    def locate(self, email: str) -> str | None:
        """The applicant id registered under ``email`` (tried under every HMAC key id in use), or
        None. Raises InvalidInput(EMAIL_INVALID) for text that is not an address."""
        found = find_email(self.w.store, self.w.keys(), lookup_email(email))
        return found[0] if found else None

    def collect(self, applicant_id: str) -> Held:
        """Everything stored about the applicant, across tables and the KTP bucket."""
        partition = self.data.partition(applicant_id)
        linked = self.data.linked(applicant_id)
        profile = next((i for i in partition if kind_of(i) == "profile"), None)
        families = self.data.families(i.get("family", "") for i in linked if kind_of(i) == "refresh_token")
        emails = [e for e in [(profile or {}).get("email")] + [i.get("new_email") for i in linked] if e]
        outbox = [i for i in self.data.pending_outbox() if outbox_item_names(i, applicant_id, emails)]
        nik_keys = [linked_key(i) for i in linked if kind_of(i) == "nik_sentinel"]
        nik_keys += [i["nik_key"] for i in partition if kind_of(i) == "biodata" and i.get("nik_key")]
        nik_keys += self._nik_keys_under_every_kid(applicant_id, partition)
        if not any(self.w.store.nik_owner(k) == applicant_id for k in dict.fromkeys(nik_keys)):
            # the NIK is this applicant's only once the ministry verified it for them (the owner
            # sentinel, issue 16): a NIK merely typed (pending, rejected, or held by another account)
            # may be someone else's, whose priority-list entries this erasure and export must not
            # touch or show. One read per key id.
            nik_keys = []
        photos = [v for prefix in PHOTO_PREFIXES for v in self.photos.versions_under(f"{prefix}{applicant_id}/")] \
            if self.photos else []
        return Held(applicant_id, profile, partition, linked, families, outbox, self.data.limits(applicant_id),
                    self.data.batch_items(applicant_id, nik_keys), photos)

    # ------------------------------------------------------------------ operator actions
    def show(self, email: str, operator: str) -> dict[str, Any]:
        """A masked summary: ``{applicant_id, email (masked), created_at, consent, steps: {step:
        {status, reason}}, nik (masked or None), batches: [{batch_id, joined_at, result}], photos
        (versions held), sessions (refresh tokens held), items (everything found)}``.
        Raises NotFound(NOT_FOUND) for an unknown address, InvalidInput(EMAIL_INVALID)."""
        return self._audited("show", operator, email, self._show)

    def export(self, email: str, operator: str, presign_seconds: int = 0) -> dict[str, Any]:
        """Every item held about the applicant as one JSON-ready document (see the module
        docstring); with ``presign_seconds`` each photo version gets a presigned GET ``url``.
        Raises NotFound(NOT_FOUND), InvalidInput(EMAIL_INVALID)."""
        return self._audited("export", operator, email, lambda aid: self._export(aid, presign_seconds))

    def delete(self, email: str, operator: str) -> dict[str, Any]:
        """Erase the applicant (:meth:`erase`) and check nothing is left: ``{applicant_id,
        deleted: {kind: count}, remaining: count}``. Raises NotFound(NOT_FOUND), InvalidInput."""
        def run(aid: str) -> dict[str, Any]:
            deleted = self.erase(aid)
            return {"applicant_id": aid, "deleted": deleted, "remaining": self.collect(aid).count()}
        return self._audited("delete", operator, email, run)

    def _audited(self, action: str, operator: str, email: str, run: Callable[[str], T]) -> T:
        aid: str | None = None
        result, counts = "ERROR", None
        try:
            aid = self.locate(email)
            if aid is None:
                result = "NOT_FOUND"
                raise NotFound("NOT_FOUND")
            out = run(aid)
            result = "OK"
            if isinstance(out, dict) and isinstance(out.get("deleted"), dict):
                counts = out["deleted"]
            return out
        except DomainError as exc:
            if result == "ERROR":
                result = f"ERROR:{exc.code}"
            raise
        finally:
            self._record(action, operator, aid, result, counts)

    def _record(self, action: str, operator: str, aid: str | None, result: str, counts: dict | None) -> None:
        if self.audit is None:
            return
        now = clock.now()
        record: dict[str, Any] = {"format": AUDIT_FORMAT, "action": action, "operator": operator,
                                  "at": clock.iso(now), "applicant_id": aid, "result": result}
        if counts is not None:
            record["deleted"] = counts
        self.audit.write(record, now)

    # ------------------------------------------------------------------ show
    def _show(self, aid: str) -> dict[str, Any]:
        held = self.collect(aid)
        profile = held.profile or {}
        biodata = held.item("biodata")
        nik = None
        if biodata and biodata.get("nik_enc"):
            nik = self._open(biodata["nik_enc"], _aad(aid, "nik"), mask=True)
        steps = {s: {"status": (profile.get("steps", {}).get(s) or {}).get("status", states.INITIAL[s]),
                     "reason": (profile.get("steps", {}).get(s) or {}).get("reason")}
                 for s in states.STEPS if s != "batch"}
        check = (biodata or {}).get("check") or {}
        if check.get("reason") and steps["nik"]["status"] == "REJECTED":
            # operators see the ministry's detail the citizen is not shown (issue 16)
            fields = ",".join(check.get("fields") or [])
            steps["nik"]["reason"] = str(check["reason"]) + (f": {fields}" if fields else "")
        members = sorted(held.in_partition("membership"), key=lambda i: i.get("joined_at", ""))
        return {"applicant_id": aid, "email": mask_email(profile.get("email", "")),
                "created_at": profile.get("created_at"), "consent": consent_view(profile), "steps": steps,
                "nik": nik, "batches": [{"batch_id": m.get("batch_id"), "joined_at": m.get("joined_at"),
                                         "result": m.get("result")} for m in members],
                "photos": len([p for p in held.photos if not p["delete_marker"]]),
                "sessions": len(held.of_kind("refresh_token")), "items": held.count()}

    def _nik_keys_under_every_kid(self, applicant_id: str, partition: list[dict]) -> list[str]:
        """The NIK's keyed HMAC under every kid still in the secret (a priority list made during
        a key rotation holds it under both); none when the NIK cannot be opened here."""
        biodata = next((i for i in partition if kind_of(i) == "biodata" and i.get("nik_enc")), None)
        nik = self._open(biodata["nik_enc"], _aad(applicant_id, "nik")) if biodata else None
        if not nik:
            return []
        keys = self.w.keys()
        return [lookup_key(keys, nik, kid)[0] for kid in keys.hmac_kids]

    def _open(self, envelope: Any, aad: str, mask: bool = False) -> str | None:
        if self.envelopes is None:
            return None
        from prakerja.adapters.crypto import EnvelopeError

        try:
            value = self.envelopes.open(envelope, aad)
        except EnvelopeError as exc:
            logger.warning("envelope not opened", extra={"code": str(exc)})
            return None
        return mask_nik(value) if mask else value

    # ------------------------------------------------------------------ export
    def _export(self, aid: str, presign_seconds: int) -> dict[str, Any]:
        held = self.collect(aid)
        profile = dict(held.profile or {})
        if profile.pop("password_hash", None) is not None:
            profile["password_hash"] = "held (argon2id), not exported"
        biodata, assessment = held.item("biodata"), held.item("assessment")
        photos = [dict(p) for p in held.photos]
        if presign_seconds and self.photos:
            for p in photos:
                if not p["delete_marker"]:
                    p["url"] = self.photos.presigned_get(p["key"], p["version_id"], presign_seconds)
        return {
            "format": EXPORT_FORMAT, "generated_at": clock.iso(clock.now()), "applicant_id": aid,
            "profile": _strip(profile),
            "steps": profile.get("steps"),
            "biodata": self._biodata(aid, biodata) if biodata else None,
            "assessment": _strip(assessment) if assessment else None,
            "ktp_uploads": [_strip(i) for i in held.in_partition("ktp_upload")],
            "ktp_photo_versions": photos,
            "batch_memberships": [_strip(i) for i in held.in_partition("membership")],
            "batch_items": [_batch_item(i) for i in held.batch_items],
            "other_items": [_strip(i) | {"sk": i["sk"]} for i in held.in_partition("applicant_item")],
            "sentinels": [{"kind": sentinel_kind(i), "hmac": linked_key(i), "kid": i.get("kid")}
                          for i in held.linked if sentinel_kind(i)],
            "email_tokens": [_strip(i, "applicant_id") for i in held.of_kind("email_token")],
            "refresh_tokens": [_strip(i, "applicant_id") for i in held.of_kind("refresh_token")],
            "revoked_sessions": [{"family": linked_key(i), **_strip(i)} for i in held.families],
            "limits": [{"counter": limit_counter(i), "window": i["sk"], **_strip(i)}
                       for i in held.limits],
            "pending_outbox": [_outbox(i) for i in held.outbox],
            "notes": NOTES,
        }

    def _biodata(self, aid: str, item: dict) -> dict[str, Any]:
        out = _strip(item, "nik_enc", "kk_enc")
        out["nik"] = self._open(item["nik_enc"], _aad(aid, "nik")) if item.get("nik_enc") else None
        out["kk_number"] = self._open(item["kk_enc"], _aad(aid, "kk")) if item.get("kk_enc") else None
        if self.envelopes is None:
            out["decrypted"] = False
        return out

    # ------------------------------------------------------------------ erasure
    def erase(self, applicant_id: str) -> dict[str, int]:
        """Delete everything held about the applicant (see the module docstring for the order);
        safe to run again after a failure. Returns how many things of each kind went:
        ``{photo_versions, batch_items, limits, outbox, revoked_sessions, linked_items,
        applicant_items}``."""
        held = self.collect(applicant_id)
        profile = held.profile or {}
        counts = {"photo_versions": self.photos.delete_versions(held.photos) if self.photos and held.photos else 0,
                  "batch_items": self.data.delete(self.data.batches.name, held.batch_items),
                  "limits": self.data.delete(self.data.limits_table, held.limits) if held.limits else 0,
                  "outbox": self.data.delete(self.data.applicants_table, held.outbox),
                  "revoked_sessions": self.data.delete(self.data.applicants_table, held.families)}
        email_key = profile.get("email_key")
        biodata = held.item("biodata") or {}
        # the sentinels the last transaction deletes with the profile stay ours until then (freed
        # earlier, the NIK could be claimed by someone else and the transaction would fail)
        last = {sentinel_pk("EMAIL", email_key)} if email_key else set()
        if biodata.get("nik_key"):
            last.add(sentinel_pk("NIK", biodata["nik_key"]))
        counts["linked_items"] = self.data.delete_owned([i for i in held.linked if i["pk"] not in last], applicant_id)
        counts["applicant_items"] = len(held.partition)
        if profile:
            if not self.w.store.delete_account(applicant_id, email_key or "", biodata.get("nik_key")) \
                    and self.w.store.get_profile(applicant_id):
                # the account is still there: say so (the caller retries) rather than report done
                raise Unavailable("SERVICE_BUSY", retry_after=5)
            counts["linked_items"] += len(last)
        else:
            self.data.delete(self.data.applicants_table, held.partition)
        # a KTP worker that was checking a photo meanwhile may have written its output after the
        # first sweep: with the profile gone it writes nothing more (services.ktp), so this second
        # sweep (one listing per prefix, usually empty) leaves no photo behind
        counts["photo_versions"] += self._delete_photos(applicant_id)
        logger.info("applicant erased", extra={"applicant_id": applicant_id, **counts})
        return counts


    def _delete_photos(self, applicant_id: str) -> int:
        """Delete every version of the applicant's photos still in the bucket; how many went."""
        if not self.photos:
            return 0
        found = [v for prefix in PHOTO_PREFIXES for v in self.photos.versions_under(f"{prefix}{applicant_id}/")]
        return self.photos.delete_versions(found) if found else 0


def _aad(applicant_id: str, field_name: str) -> str:
    """The envelope's associated data, as :func:`prakerja.services.nik_check.nik_aad` / ``kk_aad``."""
    from prakerja.adapters.crypto import kk_aad, nik_aad

    return nik_aad(applicant_id) if field_name == "nik" else kk_aad(applicant_id)


def _strip(item: dict, *drop: str) -> dict[str, Any]:
    """An item without its table keys (and the attributes in ``drop``)."""
    return {k: v for k, v in item.items() if k not in {"pk", "sk", *drop}}


def _batch_item(item: dict) -> dict[str, Any]:
    return BatchStore.parse_key(str(item["pk"])) | _strip(item)


def _outbox(item: dict) -> dict[str, Any]:
    body: Any = item.get("body")
    try:
        body = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        pass
    if isinstance(body, dict) and isinstance(body.get("params"), dict):
        body = {**body, "params": {k: REDACTED_LINK if k == "link" or (isinstance(v, str) and "token=" in v) else v
                                   for k, v in body["params"].items()}}
    elif isinstance(body, str) and "token=" in body:
        body = REDACTED_LINK
    return {"queue": item.get("queue"), "written_at": item.get("outbox_at"), "body": body}
