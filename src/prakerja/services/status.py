"""The applicant's own status (``GET /v1/me``): every step with its status, reason and time."""

from __future__ import annotations

from prakerja import clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.batches import BatchStore
from prakerja.domain import applicant as states
from prakerja.domain.accounts import consent_view
from prakerja.domain.errors import Unauthorized
from prakerja.domain.nik import citizen_step


def batch_step(memberships: list[dict], batches: BatchStore) -> dict:
    """The batch step from the latest membership: JOINED until its batch is ANNOUNCED, then
    SELECTED or NOT_SELECTED. ``batch_id`` names the batch."""
    if not memberships:
        return {"status": "NOT_JOINED", "reason": None, "updated_at": None, "batch_id": None}
    latest = memberships[-1]
    meta = batches.get_batch(latest["batch_id"]) or {}
    result = latest.get("result")
    if meta.get("status") == "ANNOUNCED" and result:
        return {"status": result, "reason": None, "updated_at": meta.get("announced_at"),
                "batch_id": latest["batch_id"]}
    return {"status": "JOINED", "reason": None, "updated_at": latest["joined_at"], "batch_id": latest["batch_id"]}


def me(store: ApplicantStore, batches: BatchStore, applicant_id: str, profile: dict | None = None) -> dict:
    """``{applicant_id, email, consent_version, consent: {version, given_at, withdrawn_at}, steps: {email, ktp,
    nik, assessment, batch}}``.

    ``profile``: the PROFILE item when the caller has just read it (strongly consistent, as the
    bearer check does), saving a second read. Raises Unauthorized(TOKEN_INVALID) when the account
    no longer exists."""
    profile = profile or store.get_profile(applicant_id)
    if not profile:
        raise Unauthorized("TOKEN_INVALID")
    steps: dict[str, dict | None]
    steps = {step: dict(profile["steps"].get(step) or {"status": states.INITIAL[step], "reason": None,
                                                       "updated_at": None})
             for step in states.STEPS if step != "batch"}
    # which upload the KTP step shows is the recorder's ordering detail, not part of the reply
    if ktp := steps["ktp"]:
        ktp.pop("upload_seq", None)
    # a rejected NIK check shows one generic reason, never the ministry's detail (issue 16)
    steps["nik"] = citizen_step(steps["nik"])
    steps["batch"] = batch_step(store.memberships(applicant_id), batches)
    return {"applicant_id": applicant_id, "email": profile["email"],
            "consent_version": profile.get("consent_version"), "consent": consent_view(profile), "steps": steps,
            "as_of": clock.iso(clock.now())}
