"""The 2xx body of every HTTP route, as pydantic models (issue 14 item 4).

Each route declares one of these as its ``response_model`` (the 204 routes have no body and
``response_model=None``); ``scripts/openapi.py`` publishes their schemas in docs/openapi.json under
these class names, and ``tests/unit/test_response_models.py`` fails for a route without one. The
request models stay next to their routes (``functions/*/app.py``; the biodata form is
``prakerja.domain.biodata.Biodata``); the error body is ``prakerja.api.errors.error_body``.

The models describe the dicts the services return, key for key and in the same order, so FastAPI's
serialisation neither adds, drops, nulls nor reorders a key:

- a key the service always sends is a field without a default (``str | None`` when it may be
  null);
- a key it sends only sometimes has the default ``None``, and its route sets
  ``response_model_exclude_unset=True``, so the body keeps exactly the keys the service returned
  (``GET /v1/me``, ``GET /v1/me/biodata``, ``GET /v1/batches``,
  ``POST /v1/email-verifications/{token}``); one that is a value whenever sent, never null, keeps
  ``null`` out of its schema (``SkipJsonSchema[None]``);
- numbers keep their JSON type (``float | int`` where DynamoDB may hand back either);
- free-form parts (the stored biodata form) are typed as far as the service guarantees.

Unknown keys are ignored (pydantic's default): a key a service adds without a field here would
be dropped, and every integration test fails on that (``tests/integration/conftest.py`` compares
each body sent with the handler's own dict). A body that breaks its model (a service bug) is a
500 ``INTERNAL_ERROR`` (``ResponseValidationError``, logged by type only). Cost per request:
README, "Architecture".
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import SkipJsonSchema

__all__ = [
    "AnswerSaved", "Assessment", "Batch", "BatchStep", "Batches", "BiodataAccepted", "BiodataPreview",
    "BiodataStored", "ConsentRecord", "ConsentState", "DecodedNik", "EmailConfirmed", "Issue", "Joined",
    "KtpUpload", "LinkDescription", "Me", "Message", "PasswordReset", "PublicOption", "PublicQuestion",
    "RegionName", "Score", "Step", "Steps", "Tokens",
]


class Message(BaseModel):
    """A neutral answer that reveals nothing (``POST /v1/accounts``, ``PUT /v1/me/email``,
    ``POST /v1/password-resets``, ``POST /v1/email-verifications``; 202): ``message`` in
    Indonesian and English, one text."""

    message: str


class Tokens(BaseModel):
    """A new session (``POST /v1/sessions``, ``POST /v1/sessions/refresh``, ``PUT /v1/me/password``).

    ``expires_in``: the access token's lifetime in seconds (900); ``token_type``: ``Bearer``."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class Step(BaseModel):
    """One step of the applicant (``GET /v1/me`` ``steps``, ``GET /v1/me/biodata`` ``check``):
    ``status`` (README, "The applicant's statuses"), ``reason`` (a code or null), ``updated_at``
    (ISO 8601 UTC, null before the step started). Every step written since the first release has
    all three keys; ``reason`` and ``updated_at`` stay optional in the contract (as published
    before the models), and their routes leave out a key a stored step lacks."""

    status: str
    reason: str | None = None
    updated_at: str | None = None


class BatchStep(Step):
    """The batch step: a :class:`Step` with ``batch_id`` (the latest batch joined, null when none)."""

    batch_id: str | None


class Steps(BaseModel):
    """Every step of ``GET /v1/me``, in the order an applicant meets them."""

    email: Step
    ktp: Step
    nik: Step
    assessment: Step
    batch: BatchStep


class ConsentRecord(BaseModel):
    """The consent (``prakerja.domain.accounts.consent_view``): the text's ``version``, when it was
    given and when withdrawn (ISO 8601 UTC or null)."""

    version: str | None
    given_at: str | None
    withdrawn_at: str | None


class Me(BaseModel):
    """``GET /v1/me``: the applicant's own status (``prakerja.services.status.me``); ``as_of`` is
    the server's time of the answer (ISO 8601 UTC)."""

    applicant_id: str
    email: str
    consent_version: str | None
    consent: ConsentRecord
    steps: Steps
    as_of: str


class ConsentState(BaseModel):
    """``PUT`` and ``DELETE /v1/me/consent``: the consent after the change."""

    consent: ConsentRecord


class LinkDescription(BaseModel):
    """``GET /v1/password-resets/{token}`` and ``GET /v1/email-verifications/{token}`` (as JSON): a
    live link's ``purpose`` and ``expires_at`` (ISO 8601 UTC); a spent or unknown link is an error."""

    purpose: str
    expires_at: str
    status: Literal["VALID"]


class EmailConfirmed(BaseModel):
    """``POST /v1/email-verifications/{token}``: the address is verified at ``verified_at``;
    ``email_changed`` (true) only when the link confirmed a change of address, absent otherwise."""

    status: Literal["VERIFIED"]
    verified_at: str
    email_changed: bool | SkipJsonSchema[None] = None


class PasswordReset(BaseModel):
    """``POST /v1/password-resets/{token}``: the password was set; every session ended."""

    status: Literal["PASSWORD_RESET"]


class KtpUpload(BaseModel):
    """``POST /v1/me/documents/ktp``: a presigned S3 POST (``url`` and form ``fields``, sent as
    they are with the file last) valid until ``expires_at``; sizes in bytes; ``accepted_types``:
    the content types the photo may have."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int
    min_bytes: int
    accepted_types: list[str]


class Issue(BaseModel):
    """One finding on a biodata form field: the ``field`` and its code (docs/errors.md), without
    a message (the page words it)."""

    field: str
    code: str


class BiodataAccepted(BaseModel):
    """``PUT /v1/me/biodata`` (202): the form is stored as ``version`` and the NIK check queued;
    ``warnings``: findings that do not block."""

    status: Literal["PENDING"]
    version: int
    warnings: list[Issue]


class BiodataStored(BaseModel):
    """``GET /v1/me/biodata``: the stored form (the fields of ``prakerja.domain.biodata.Biodata``
    as stored, ``nik`` and ``kk_number`` masked), its ``version``, ``submitted_at``, the NIK
    check's step (null when the profile is gone) and ``mismatched_fields`` (always empty since
    issue 16; kept in the contract)."""

    biodata: dict[str, Any]
    version: int
    submitted_at: str
    check: Step | None
    mismatched_fields: list[str]


class RegionName(BaseModel):
    """A Kemendagri region decoded from a NIK: its ``code`` and ``name`` (null when the code is not
    in the region list)."""

    code: str
    name: str | None


class DecodedNik(BaseModel):
    """What a NIK's digits say (``prakerja.domain.nik.parse_nik``): its regions, the date of birth
    (ISO date) and ``sex`` (``M``/``F``)."""

    province: RegionName
    regency: RegionName
    district: RegionName
    date_of_birth: str
    sex: str


class BiodataPreview(BaseModel):
    """``POST /v1/me/biodata/preview``: the form's check without storing anything; ``decoded``:
    the NIK's parts when its digits parse, else null."""

    valid: bool
    errors: list[Issue]
    warnings: list[Issue]
    decoded: DecodedNik | None


class PublicOption(BaseModel):
    """An answer option of a question, in the asked language."""

    option_id: str
    text: str | None


class PublicQuestion(BaseModel):
    """A question as the applicant sees it (``prakerja.domain.assessment.public_questions``): no
    correct answer, no reverse key."""

    question_id: str
    text: str | None
    options: list[PublicOption]


class Assessment(BaseModel):
    """``POST /v1/me/assessment``: the open (or finished) attempt: its questions, the saved
    ``answers`` (question id -> option id), ``deadline_at`` (ISO 8601 UTC), ``seconds_left``
    (0 once past), ``status`` (``IN_PROGRESS``, ``PASSED``, ``FAILED``), ``attempt`` (1-based) and
    ``attempts_left``."""

    questions: list[PublicQuestion]
    answers: dict[str, str]
    deadline_at: str
    seconds_left: int
    status: str
    attempt: int
    attempts_left: int


class AnswerSaved(BaseModel):
    """``PUT /v1/me/assessment/answers/{question_id}``: the answer saved at ``saved_at``."""

    question_id: str
    option_id: str
    saved_at: str


class Score(BaseModel):
    """``POST /v1/me/assessment/submit``: the ``score`` (0..100; null for an attempt closed
    without one) and whether it ``passed``."""

    score: int | None
    passed: bool


class Batch(BaseModel):
    """A batch as the public sees it (``prakerja.services.batches.Batches.list``): times in ISO
    8601 UTC, the ``quota`` of places, the ``commitment`` (sha256 hex of the draw secret) and the
    shown ``status``; ``priority_share`` (0..1) and ``province_quotas`` only when set, and the
    counts ``participants`` and ``selected`` only once drawn (absent, not null, otherwise)."""

    batch_id: str
    opens_at: str
    closes_at: str
    announce_at: str
    quota: int
    commitment: str
    status: str
    priority_share: float | int | SkipJsonSchema[None] = None
    province_quotas: dict[str, int] | SkipJsonSchema[None] = None
    participants: int | None = None
    selected: int | None = None


class Batches(BaseModel):
    """``GET /v1/batches``: every batch."""

    batches: list[Batch]


class Joined(BaseModel):
    """``POST /v1/batches/{batch_id}/participants`` (201): joined at ``joined_at``."""

    batch_id: str
    status: Literal["JOINED"]
    joined_at: str
