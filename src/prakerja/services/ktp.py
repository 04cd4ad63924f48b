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
The worker is two functions (issue 16 item 11): the photo parser (:class:`KtpPhotoCheck`, no table
access) checks and normalises and queues a :class:`KtpVerdict`; the recorder (:class:`KtpVerdicts`)
records it. The recorder refuses (deletes) an upload whose account is gone, and when the account
is erased while the photo is checked it deletes what was written and records nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
_ID = r"^[A-Za-z0-9_-]+$"


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


def output_key(applicant_id: str, upload_id: str) -> str:
    """The S3 key of an upload's normalised JPEG."""
    return f"{OUTPUT_PREFIX}{applicant_id}/{upload_id}.jpg"


class KtpVerdict(BaseModel):
    """What the photo parser found, as queued to the recorder (KtpVerdictQueue): no personal data.

    ``applicant_id`` and ``upload_id`` come from the object key (the server chose both at
    presign), ``version`` is the S3 version (or ETag) that was checked, ``outcome`` VALID or
    REJECTED with ``reason`` (a REJECTED code, None when VALID) and ``output_key`` the normalised
    JPEG's key (``ktp/<applicant_id>/<upload_id>.jpg``; None when REJECTED). ``outcome``
    PROCESSING (no reason, no output key) is the parser's notice, sent before it decodes the
    photo, that the upload is being checked: the recorder shows it only while that upload's
    verdict is not recorded (:meth:`KtpVerdicts.record`). The upload's sequence number is not in
    it: the recorder reads it from the upload item (the parser cannot, and a compromised parser's
    word on it would not be trusted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    applicant_id: str = Field(pattern=_ID, max_length=64)
    upload_id: str = Field(pattern=_ID, max_length=64)
    version: str = Field(min_length=1, max_length=1024, pattern=r"^[\x21-\x7e]+$")
    outcome: Literal["PROCESSING", "VALID", "REJECTED"]
    reason: Literal["TOO_SMALL", "TOO_LARGE", "UNSUPPORTED_TYPE", "CORRUPT", "LOW_RESOLUTION"] | None = None
    output_key: str | None = Field(None, max_length=256)

    @model_validator(mode="after")
    def _consistent(self) -> KtpVerdict:
        if self.outcome == "VALID":
            if self.reason is not None or self.output_key != output_key(self.applicant_id, self.upload_id):
                raise ValueError("a VALID verdict names its own output key and no reason")
        elif self.outcome == "PROCESSING":
            if self.reason is not None or self.output_key is not None:
                raise ValueError("a PROCESSING notice names no reason and no output")
        elif self.reason is None or self.output_key is not None:
            raise ValueError("a REJECTED verdict names a reason and no output")
        return self

    @classmethod
    def parse(cls, body: str) -> KtpVerdict:
        """The verdict in one queued message. Raises MalformedEvent (the message then goes back
        to the queue and, after maxReceiveCount, to the DLQ)."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            raise MalformedEvent(f"bad verdict: {[e['loc'] for e in exc.errors()]}") from None


class KtpPhotoCheck:
    """The photo parser (KtpProcessFunction): decodes, validates and normalises what landed, and
    hands its verdict on. It has no table access at all (issue 16 item 11, the split): it reads the
    upload, writes the normalised JPEG, deletes the original's versions and sends, with
    ``send_verdict`` (one SQS message each, a :class:`KtpVerdict`'s JSON), a PROCESSING notice
    before it decodes the photo and the verdict once it has."""

    def __init__(self, photos: PhotoStore, limits: photo.Limits, send_verdict: Callable[[str], None]) -> None:
        self.photos, self.limits, self.send_verdict = photos, limits, send_verdict

    def process(self, landed: LandedObject) -> str:
        """Check and normalise one landed object and queue its verdict. Returns what happened (for
        logs): ``ignored`` (not an upload key, or the object is gone: a redelivery after the
        clean-up), ``VALID`` or ``REJECTED:<code>``. Raises on I/O failures (the message then goes
        back to the queue). The original's versions are deleted only after the verdict is queued:
        a failed send leaves the upload in place, so the retry checks it again and re-sends (the
        recorder ignores a verdict it already recorded); nothing a citizen uploaded goes without
        a verdict.

        Before the decode (a photo within the size limits), a PROCESSING notice is queued so the
        status shows the photo is being checked: one more ``SendMessage`` per photo. It is best
        effort: a failed send is logged (ids only) and the check goes on; the verdict, which is
        what matters, is sent as above."""
        parts = landed.key.split("/")
        if not landed.key.startswith(UPLOAD_PREFIX) or len(parts) != 3 or not all(parts[1:]):
            return "ignored"
        applicant_id, upload_id = parts[1], parts[2]
        head = self.photos.latest(landed.key)
        if head is None:
            logger.info("upload gone", extra={"upload_id": upload_id})
            return "ignored"
        version = str(head.get("VersionId") or head.get("ETag", "")).strip('"')
        outcome, reason, clean_up = self._check(landed.key, version, int(head.get("ContentLength", 0)),
                                                applicant_id, upload_id)
        # validated like any outside input (outcome and reason are checked against their codes)
        verdict = KtpVerdict.model_validate({
            "applicant_id": applicant_id, "upload_id": upload_id, "version": version, "outcome": outcome,
            "reason": reason, "output_key": output_key(applicant_id, upload_id) if reason is None else None})
        self.send_verdict(verdict.model_dump_json())
        if clean_up:  # only now: before the send, a failure would have lost the verdict
            self.photos.delete_all_versions(landed.key)
        return outcome if reason is None else f"{outcome}:{reason}"

    def _check(self, key: str, version: str, size: int, applicant_id: str,
               upload_id: str) -> tuple[str, str | None, bool]:
        """(outcome, reason, whether the original's versions go once the verdict is queued)."""
        if size < self.limits.min_bytes:
            return "REJECTED", "TOO_SMALL", False
        if size > self.limits.max_bytes:
            return "REJECTED", "TOO_LARGE", False
        self._notify_processing(applicant_id, upload_id, version)
        data = self.photos.read(key, version_id=version if version and "-" not in version else None,
                                limit=self.limits.max_bytes + 1)
        try:
            result = photo.normalise(data, self.limits)
        except photo.PhotoRejected as rejected:
            return "REJECTED", rejected.code, True
        self.photos.write(output_key(applicant_id, upload_id), result.jpeg, "image/jpeg")
        return "VALID", None, True

    def _notify_processing(self, applicant_id: str, upload_id: str, version: str) -> None:
        """Queue the PROCESSING notice; a failure is logged and swallowed (the status then goes
        straight to the verdict, as it does when the notice arrives late)."""
        notice = KtpVerdict(applicant_id=applicant_id, upload_id=upload_id, version=version, outcome="PROCESSING")
        try:
            self.send_verdict(notice.model_dump_json())
        except Exception as exc:  # noqa: BLE001 - best effort by design: never blocks the check
            logger.warning("processing notice not queued", extra={"upload_id": upload_id,
                                                                  "error": type(exc).__name__})


class KtpVerdicts:
    """The verdict recorder (KtpVerdictFunction): records what the parser found, with the
    conditional, idempotent writes of the KTP step. Parses nothing."""

    def __init__(self, w: Wiring, photos: PhotoStore) -> None:
        self.w, self.photos = w, photos

    def record(self, verdict: KtpVerdict) -> str:
        """Record one verdict. Returns what happened (for logs): ``ignored`` (no such upload was
        issued), ``duplicate`` (this version's outcome is already recorded), ``account_gone``,
        ``VALID`` or ``REJECTED:<code>``; for a PROCESSING notice see :meth:`processing`. Raises on
        I/O failures (the message goes back to the queue).

        Out-of-order and repeated verdicts are harmless: a verdict of a version already recorded
        is ignored, the newest issued valid upload wins (``ktp_valid``'s sequence condition, the
        sequence read from the upload item) and a refusal never replaces a valid KTP. An upload
        whose account is gone, or went while the photo was checked, loses every version of its
        original and of its output, and nothing is recorded for it (the erasure's second sweep of
        the bucket catches a write this check came too early to see). Costs two GetItems of the
        profile's key and one of the upload's.

        Least privilege (issue 16 item 11): only the narrow adapter calls
        (:meth:`ApplicantStore.has_profile`, ``upload_progress``, ``record_upload_outcome``,
        ``ktp_valid``, ``ktp_refused``, ``ktp_processing`` and the funnel's ``ktp_valid`` count),
        which its IAM grant
        (template.yaml, ``dynamodb:Attributes``) allows; no profile attribute is read."""
        if verdict.outcome == "PROCESSING":
            return self.processing(verdict)
        applicant_id, upload_id = verdict.applicant_id, verdict.upload_id
        if not self.w.store.has_profile(applicant_id):
            self._drop(applicant_id, upload_id)
            logger.info("upload refused: account gone", extra={"upload_id": upload_id})
            return "account_gone"
        upload = self.w.store.upload_progress(applicant_id, upload_id)
        if upload is None:
            self.photos.delete_all_versions(output_key(applicant_id, upload_id))
            logger.info("upload not known", extra={"upload_id": upload_id})
            return "ignored"
        if upload.get("processed_version") == verdict.version:
            return "duplicate"
        won = self._record(applicant_id, upload, verdict)
        if not self.w.store.has_profile(applicant_id):
            self._drop(applicant_id, upload_id)
            logger.info("upload dropped: account erased while it was checked", extra={"upload_id": upload_id})
            return "account_gone"
        if verdict.outcome == "VALID":
            if won:
                self.w.funnel.reached(applicant_id, "ktp_valid")
        else:
            self.w.funnel.outcome("KtpRejected")
        return verdict.outcome if verdict.reason is None else f"{verdict.outcome}:{verdict.reason}"

    def processing(self, notice: KtpVerdict) -> str:
        """Show the KTP step as PROCESSING for the upload the parser is checking. Returns
        ``ignored`` (no such upload was issued, or the account is gone), ``late`` (this version's
        verdict is already recorded), ``stale`` (the step already shows this upload, a later one,
        or a VALID KTP) or ``PROCESSING``. Deletes nothing: the parser is still at work, and its
        verdict does the clean-up.

        Out-of-order delivery is harmless (SQS standard queues keep no order): the write is
        conditional on the step not being VALID and not already showing this upload or a
        later-issued one (``steps.ktp.upload_seq``, which every write of the step sets to the
        upload's sequence number), so a notice that arrives after its verdict, even in the window
        where the verdict's step is written and its "recorded" marker not yet, or a notice of an
        older upload, changes nothing. Costs one GetItem of the upload (projection) and one
        conditional UpdateItem of the profile (about 1 WCU, also when the condition fails)."""
        applicant_id, upload_id = notice.applicant_id, notice.upload_id
        upload = self.w.store.upload_progress(applicant_id, upload_id)
        if upload is None:
            logger.info("upload not known", extra={"upload_id": upload_id})
            return "ignored"
        if upload.get("processed_version") == notice.version:
            return "late"
        step = {"status": "PROCESSING", "reason": None, "updated_at": clock.iso(clock.now()),
                "upload_seq": upload["sequence"]}
        shown = self.w.store.ktp_processing(applicant_id, step, upload["sequence"],
                                            states.allowed_from("ktp", "PROCESSING"))
        return "PROCESSING" if shown else "stale"

    def _drop(self, applicant_id: str, upload_id: str) -> None:
        self.photos.delete_all_versions(output_key(applicant_id, upload_id))
        self.photos.delete_all_versions(upload_key(applicant_id, upload_id))

    def _record(self, applicant_id: str, upload: dict, verdict: KtpVerdict) -> bool:
        """Record the outcome on the upload and the profile; every write needs the item to exist
        (an erased account gets nothing back). True when a VALID photo became the applicant's KTP."""
        store = self.w.store
        at = clock.iso(clock.now())
        # upload_seq: which upload the step shows (a later PROCESSING notice of it, or anything
        # of an older upload, does not replace it)
        step = {"status": verdict.outcome, "reason": verdict.reason, "updated_at": at,
                "upload_seq": upload["sequence"]}
        # the profile's step first, the upload's processed_version (the duplicate marker) last: if
        # the second write fails, the retry finds no marker and writes the step again (both writes
        # are safe to repeat), instead of taking a half-done recording for a duplicate
        if verdict.outcome == "VALID":
            # newest issued valid upload wins, whatever order verdicts arrive in
            won = store.ktp_valid(applicant_id, step, upload["sequence"],
                                  output_key(applicant_id, upload["upload_id"]))
        else:
            # a refused photo never replaces a valid KTP, nor the step of a later-issued upload
            store.ktp_refused(applicant_id, step, upload["sequence"])
            won = False
        store.record_upload_outcome(applicant_id, upload["upload_id"], verdict.outcome, verdict.reason,
                                    verdict.version, at)
        return won
