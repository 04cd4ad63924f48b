"""The applicant's way through registration: one status per step, and the gates between them.

Source: the programme's flow (Perpres 36/2020 and the 2020 registration site) as fixed in
DESIGN.md section 4::

    email:      PENDING -> VERIFIED            (or UNDELIVERABLE -> change address -> PENDING)
    ktp:        NOT_STARTED -> PROCESSING -> VALID | REJECTED -> new upload -> PROCESSING
    nik:        NOT_STARTED -> PENDING -> VERIFIED | REJECTED -> corrected -> PENDING
    assessment: NOT_STARTED -> IN_PROGRESS -> PASSED | FAILED
    batch:      NOT_JOINED -> JOINED(n) -> SELECTED(n) | NOT_SELECTED(n) -> may join n+1

KTP (issue 16, the photo parser and its recorder): PROCESSING is shown from the parser's notice,
sent before it decodes the photo, and only while that upload's verdict is not recorded; the notice
is best effort and SQS keeps no order, so a verdict may also come straight from NOT_STARTED (or the
previous outcome). A VALID KTP never goes back to PROCESSING (a new upload keeps it shown until its
own verdict, and a refused one never replaces it). Each write of the step records which upload it
shows (``upload_seq``, the upload's sequence number): a notice or refusal of an older upload does
not replace a later one's, and the newest issued valid upload is the KTP.

Biodata and the test need a verified email; joining a batch needs every step done. The test may
be taken while the NIK check is pending (a slow ministry never blocks a citizen's progress).
Storage enforces each transition with a conditional write on the allowed ``from`` statuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STEPS = ("email", "ktp", "nik", "assessment", "batch")

INITIAL: dict[str, str] = {
    "email": "PENDING",
    "ktp": "NOT_STARTED",
    "nik": "NOT_STARTED",
    "assessment": "NOT_STARTED",
    "batch": "NOT_JOINED",
}

# step -> new status -> statuses it may come from
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "email": {
        "VERIFIED": frozenset({"PENDING"}),
        "UNDELIVERABLE": frozenset({"PENDING", "VERIFIED"}),
        "PENDING": frozenset({"UNDELIVERABLE", "VERIFIED", "PENDING"}),
    },
    "ktp": {
        # PROCESSING over PROCESSING or REJECTED: of an older upload only (the upload_seq condition)
        "PROCESSING": frozenset({"NOT_STARTED", "PROCESSING", "REJECTED"}),
        "VALID": frozenset({"NOT_STARTED", "PROCESSING", "VALID", "REJECTED"}),
        "REJECTED": frozenset({"NOT_STARTED", "PROCESSING", "REJECTED"}),
    },
    "nik": {
        "PENDING": frozenset({"NOT_STARTED", "PENDING", "REJECTED"}),
        "VERIFIED": frozenset({"PENDING"}),
        "REJECTED": frozenset({"PENDING"}),
    },
    "assessment": {
        "IN_PROGRESS": frozenset({"NOT_STARTED"}),
        "PASSED": frozenset({"IN_PROGRESS"}),
        "FAILED": frozenset({"IN_PROGRESS"}),
    },
}

DONE: dict[str, str] = {"email": "VERIFIED", "ktp": "VALID", "nik": "VERIFIED", "assessment": "PASSED"}


def allowed_from(step: str, new_status: str) -> frozenset[str]:
    """The statuses from which ``step`` may move to ``new_status``.

    Raises KeyError for a transition the state machine does not have."""
    return TRANSITIONS[step][new_status]


def missing_for_join(steps: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The steps (in order) not yet done that joining a batch needs; empty when eligible.

    ``steps`` maps step name -> ``{"status": ...}`` as stored on the applicant."""
    return [step for step, done in DONE.items() if steps.get(step, {}).get("status") != done]


def email_verified(steps: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether the email step is VERIFIED (the gate for biodata and the test)."""
    return steps.get("email", {}).get("status") == "VERIFIED"
