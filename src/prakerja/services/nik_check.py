"""The NIK check worker's use case: one queued check -> at most one effective ministry call.

Message body: ``{"applicant_id", "version"}``. A stale version (superseded by a newer biodata
submission) or a version whose outcome is already recorded makes no call. The request id is
deterministic (``<applicant_id>:<version>``) so a retry after a crash is the same request to the
ministry. Transient ministry failures raise :class:`MinistryUnavailable` (message retried).
"""

from __future__ import annotations

import json

from prakerja import clock
from prakerja.adapters.ministry import Ministry
from prakerja.services.wiring import Wiring


class InvalidCheckMessage(ValueError):
    """The queued message is malformed (retried, then dead-lettered; never silently dropped)."""


def parse(body: str) -> tuple[str, int]:
    """``(applicant_id, version)`` from a queued body. Raises InvalidCheckMessage."""
    try:
        data = json.loads(body)
        applicant_id, version = data["applicant_id"], data["version"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidCheckMessage("malformed") from exc
    if not isinstance(applicant_id, str) or not isinstance(version, int) or version < 1:
        raise InvalidCheckMessage("malformed")
    return applicant_id, version


def request_id(applicant_id: str, version: int) -> str:
    """The deterministic ministry request id of one biodata version."""
    return f"{applicant_id}:{version}"


class NikChecks:
    """Runs queued checks against the ministry and records outcomes."""

    def __init__(self, w: Wiring, ministry: Ministry) -> None:
        self.w = w
        self.ministry = ministry

    def run(self, applicant_id: str, version: int) -> str:
        """Check one biodata version; returns ``stale``, ``done`` (already recorded), or the outcome."""
        store = self.w.store
        item = store.get_item(applicant_id, "BIODATA")
        if not item or int(item["version"]) != version:
            return "stale"
        if item.get("check"):
            return "done"
        data = item["data"]
        reply = self.ministry.verify(request_id(applicant_id, version), data["nik"], data["full_name"],
                                     data["date_of_birth"])
        at = clock.iso(clock.now())
        check = {"result": reply.result, "reason": reply.reason, "fields": reply.mismatched_fields,
                 "checked_at": at, "request_id": reply.request_id}
        recorded = store.transact([
            store.update_item(applicant_id, "BIODATA", {"check": check},
                              condition="version = :v AND (attribute_not_exists(#c) OR #c = :null)",
                              cond_values={":v": version, ":null": None}, cond_names={"#c": "check"}),
            store.step_update(applicant_id, "nik", reply.result, reply.reason, at, {"PENDING"}),
        ])
        return reply.result if recorded else "stale"
