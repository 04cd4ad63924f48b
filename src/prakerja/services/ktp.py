"""The KTP photo step: hand out a presigned POST; check and normalise what lands in S3.

Rules: the server chooses the key (``uploads/<applicant_id>/<upload_id>``) and gives each upload a
per-applicant sequence number at presign; the most recently issued upload that turns out valid is
the applicant's KTP, whatever order S3 events arrive in. Everything that lands is re-checked
(size, type by magic bytes, full decode) because the policy is not enforced by the local emulator
and clients lie.
The normalised JPEG is stored under ``ktp/<applicant_id>/<upload_id>.jpg`` and every version of
the original is deleted (no GPS-tagged original lingers).

Gates (issue 16): a presign needs the account (gone: 401 TOKEN_INVALID), active consent (403
CONSENT_WITHDRAWN) and a verified email (403 EMAIL_NOT_VERIFIED), and is limited to
``KTP_PRESIGNS_PER_HOUR`` per applicant per clock hour (429 TOO_MANY_UPLOADS with Retry-After).
The worker refuses (deletes) an upload whose account is gone, and when the account is erased while
it runs it deletes what it wrote and records nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any
from urllib.parse import unquote_plus

from prakerja import clock
from prakerja.adapters.quota import Quota
from prakerja.adapters.storage import PhotoStore
from prakerja.domain import applicant as states
from prakerja.domain import photo
from prakerja.domain.errors import FieldIssue, Forbidden, InvalidInput, TooMany, Unauthorized
from prakerja.observability import logger
from prakerja.services.consent import require_active
from prakerja.services.wiring import Wiring

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif")
UPLOAD_PREFIX = "uploads/"
OUTPUT_PREFIX = "ktp/"


class MalformedEvent(ValueError):
    """The queued S3 notification is not one this function understands (goes to the DLQ)."""


@dataclass(frozen=True)
class LandedObject:
    """One ObjectCreated record: the decoded key and the size S3 reported (bytes)."""

    key: str
    size: int


def upload_key(applicant_id: str, upload_id: str) -> str:
    """The S3 key the server chooses for an upload."""
    return f"{UPLOAD_PREFIX}{applicant_id}/{upload_id}"


def parse_notification(body: str) -> list[LandedObject]:
    """The objects named by one SQS message from S3. ``s3:TestEvent`` gives an empty list.

    Keys arrive ``quote_plus``-encoded and are decoded here. Raises MalformedEvent."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedEvent("not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedEvent("not an object")
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise MalformedEvent("no Records")
    out = []
    for record in records:
        try:
            obj = record["s3"]["object"]
            out.append(LandedObject(unquote_plus(str(obj["key"])), int(obj.get("size", 0))))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent("bad record") from exc
    return out


class KtpPhotos:
    """Use cases of the KTP step."""

    def __init__(self, w: Wiring, photos: PhotoStore, limits: photo.Limits | None = None) -> None:
        self.w = w
        self.photos = photos
        s = w.settings
        self.limits = limits or photo.Limits(min_bytes=s.ktp_min_bytes, max_bytes=s.ktp_max_bytes)

    @cached_property
    def presigns(self) -> Quota:
        """Presigned POSTs per applicant per hour (the Limits table: only the upload function,
        which hands them out, names it)."""
        return Quota(self.w.settings.limits_table, "ktp_presigns", self.w.settings.ktp_presigns_per_hour)

    def presign(self, applicant_id: str, content_type: str, profile: dict | None = None) -> dict[str, Any]:
        """A presigned POST for a new upload: ``{upload_id, url, fields, expires_at, max_bytes,
        min_bytes, accepted_types}``. ``profile``: the PROFILE item when the caller already read
        it (the session check, :func:`prakerja.services.security.signed_in`), else it is read.
        Raises InvalidInput(CONTENT_TYPE_UNSUPPORTED),
        Unauthorized(TOKEN_INVALID) when the account is gone, Forbidden(CONSENT_WITHDRAWN |
        EMAIL_NOT_VERIFIED), TooMany(TOO_MANY_UPLOADS, retry_after: seconds to the next hour)."""
        if content_type not in ACCEPTED_TYPES:
            raise InvalidInput("VALIDATION_FAILED", [FieldIssue("content_type", "CONTENT_TYPE_UNSUPPORTED")])
        now = clock.now()
        self._gate(applicant_id, now, profile)
        upload_id = uuid.uuid4().hex
        key = upload_key(applicant_id, upload_id)
        expires = now + timedelta(seconds=self.w.settings.ktp_upload_seconds)
        sequence = self.w.store.next_counter(applicant_id, "ktp_uploads_issued")
        self.w.store.put_upload(applicant_id, upload_id, {
            "content_type": content_type, "issued_at": clock.iso(now), "sequence": sequence,
            "key": key, "status": "ISSUED", "ttl": int(now.timestamp()) + 30 * 86400,
        })
        post = self.photos.presigned_post(key, content_type, self.limits.min_bytes, self.limits.max_bytes,
                                          self.w.settings.ktp_upload_seconds)
        return {"upload_id": upload_id, "url": post["url"], "fields": post["fields"],
                "expires_at": clock.iso(expires), "max_bytes": self.limits.max_bytes,
                "min_bytes": self.limits.min_bytes, "accepted_types": list(ACCEPTED_TYPES)}

    def _gate(self, applicant_id: str, now: Any, profile: dict | None) -> None:
        """The presign's gates, in order: the account, consent, a verified email, the hourly quota.
        Costs one UpdateItem (the Limits table's quota item), and one GetItem when ``profile`` was
        not given."""
        profile = profile or self.w.store.get_profile(applicant_id)
        if profile is None:
            raise Unauthorized("TOKEN_INVALID")
        require_active(profile)
        if not states.email_verified(profile["steps"]):
            raise Forbidden("EMAIL_NOT_VERIFIED")
        hour = int(now.timestamp()) // 3600
        if not self.presigns.take(applicant_id, str(hour), expires_at=(hour + 2) * 3600):
            raise TooMany("TOO_MANY_UPLOADS", retry_after=max(1, (hour + 1) * 3600 - int(now.timestamp())))

    def process(self, landed: LandedObject) -> str:
        """Check, normalise and record one landed object. Returns what happened (for logs):
        ``ignored``, ``duplicate``, ``account_gone``, ``VALID`` or ``REJECTED:<code>``. Raises on
        I/O failures (the message then goes back to the queue).

        An upload whose account is gone (erased, or never there) is deleted, every version. Costs
        two GetItems of the profile's key per processed object (before, and after recording).

        Least privilege (issue 16 item 11): this parses untrusted bytes, so its table access is
        the narrow adapter calls alone (:meth:`ApplicantStore.has_profile`, ``upload_progress``,
        ``ktp_processing``, ``record_upload_outcome``, ``ktp_valid``, ``ktp_refused`` and the funnel's
        ``ktp_valid`` count): projections and named attributes that its IAM grant
        (template.yaml, ``dynamodb:Attributes``) allows; no profile attribute is read."""
        parts = landed.key.split("/")
        if not landed.key.startswith(UPLOAD_PREFIX) or len(parts) != 3:
            return "ignored"
        applicant_id, upload_id = parts[1], parts[2]
        if not self.w.store.has_profile(applicant_id):
            self.photos.delete_all_versions(landed.key)
            logger.info("upload refused: account gone", extra={"upload_id": upload_id})
            return "account_gone"
        upload = self.w.store.upload_progress(applicant_id, upload_id)
        head = self.photos.latest(landed.key)
        if upload is None or head is None:
            logger.info("upload not known or gone", extra={"upload_id": upload_id, "known": upload is not None})
            return "ignored"
        version = str(head.get("VersionId") or head.get("ETag", "")).strip('"')
        if upload.get("processed_version") == version:
            return "duplicate"
        self._mark_processing(applicant_id)
        outcome, reason = self._check(landed.key, version, int(head.get("ContentLength", 0)), applicant_id,
                                      upload_id)
        won = self._record(applicant_id, upload, version, outcome, reason)
        if not self.w.store.has_profile(applicant_id):
            # erased while this ran: what was written goes too (the erasure's second sweep of the
            # bucket, after the profile, catches a write this check came too early to see)
            self.photos.delete_all_versions(self._output_key(applicant_id, upload_id))
            self.photos.delete_all_versions(landed.key)
            logger.info("upload dropped: account erased while it was checked", extra={"upload_id": upload_id})
            return "account_gone"
        if outcome == "VALID":
            if won:
                self.w.funnel.reached(applicant_id, "ktp_valid")
        else:
            self.w.funnel.outcome("KtpRejected")
        return outcome if reason is None else f"{outcome}:{reason}"

    @staticmethod
    def _output_key(applicant_id: str, upload_id: str) -> str:
        return f"{OUTPUT_PREFIX}{applicant_id}/{upload_id}.jpg"

    def _check(self, key: str, version: str, size: int, applicant_id: str, upload_id: str) -> tuple[str, str | None]:
        if size < self.limits.min_bytes:
            return "REJECTED", "TOO_SMALL"
        if size > self.limits.max_bytes:
            return "REJECTED", "TOO_LARGE"
        data = self.photos.read(key, version_id=version if version and "-" not in version else None,
                                limit=self.limits.max_bytes + 1)
        try:
            result = photo.normalise(data, self.limits)
        except photo.PhotoRejected as rejected:
            self.photos.delete_all_versions(key)
            return "REJECTED", rejected.code
        self.photos.write(self._output_key(applicant_id, upload_id), result.jpeg, "image/jpeg")
        self.photos.delete_all_versions(key)
        return "VALID", None

    def _mark_processing(self, applicant_id: str) -> None:
        self.w.store.ktp_processing(applicant_id, clock.iso(clock.now()))

    def _record(self, applicant_id: str, upload: dict, version: str, outcome: str, reason: str | None) -> bool:
        """Record the outcome on the upload and the profile; every write needs the item to exist
        (an erased account gets nothing back). True when a VALID photo became the applicant's KTP."""
        store = self.w.store
        at = clock.iso(clock.now())
        store.record_upload_outcome(applicant_id, upload["upload_id"], outcome, reason, version, at)
        step = {"status": outcome, "reason": reason, "updated_at": at}
        if outcome == "VALID":
            # newest issued valid upload wins, whatever order events arrive in
            return store.ktp_valid(applicant_id, step, upload["sequence"],
                                   self._output_key(applicant_id, upload["upload_id"]))
        # a refused photo never replaces a valid KTP
        store.ktp_refused(applicant_id, step)
        return False
