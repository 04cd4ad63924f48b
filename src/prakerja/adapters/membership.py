"""Batch membership: the one place that knows how joining, results and announcements are stored.

A membership is held in three items, written together:

* the member item in the Batches table, ``BATCH#<batch_id>#M#<shard>`` / ``<applicant_id>``
  (:meth:`BatchStore.member_put`; sharded so that 2,700 joins a second spread over partitions,
  and read by the draw);
* ``APP#<applicant_id>`` / ``MEMBER#<batch_id>`` in the Applicants table (read by ``GET /v1/me``,
  with the result and rank after the draw and ``notified_at`` once announced);
* the PROFILE's ``active_batch`` / ``active_batch_closes_at`` (one open membership at a time) and,
  once drawn, ``selected_batch`` (a selected applicant joins no later batch).

Costs (DynamoDB, items under 1 KB): a join is one TransactWriteItems of three items (6 WCU,
transactions cost double); a result 1 UpdateItem (1 WCU) or, when selected, a two-item transaction
(4 WCU); an announcement mark 1 conditional UpdateItem (1 WCU).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prakerja import clock
from prakerja.adapters.applicants import ApplicantStore
from prakerja.adapters.batches import BatchStore

_PREFIX = "MEMBER#"


def member_sk(batch_id: str) -> str:
    """Sort key of an applicant's membership item of ``batch_id``."""
    return f"{_PREFIX}{batch_id}"


def is_membership(sort_key: str) -> bool:
    """True for the sort key of a membership item (the privacy export and erasure sort by it)."""
    return sort_key.startswith(_PREFIX)


class BatchMembership:
    """An applicant's memberships of batches, over the Applicants and Batches tables."""

    def __init__(self, applicants: ApplicantStore, batches: BatchStore) -> None:
        self.applicants = applicants
        self.batches = batches

    def join_batch(self, applicant_id: str, batch_id: str, closes_at: str, member: dict[str, Any],
                   now: datetime) -> bool:
        """Join ``batch_id`` (closing at ``closes_at``, ISO UTC) in one transaction: the member
        item (``member``: ``joined_at``, ``province_code``, ``priority``, what the draw reads),
        the applicant's membership item and the PROFILE's active batch. False, with nothing
        written, when the applicant is a member already, was selected in an earlier batch, or
        holds a membership of another batch that has not closed yet at ``now`` (the rule of one
        open batch at a time: DESIGN.md "batches"). Throttling and outages propagate."""
        store = self.applicants
        return store.transact([
            self.batches.member_put(batch_id, applicant_id, member),
            store.put_item(applicant_id, member_sk(batch_id), {"batch_id": batch_id, "joined_at": member["joined_at"]},
                           condition="attribute_not_exists(pk)"),
            store.update_item(applicant_id, "PROFILE", {"active_batch": batch_id, "active_batch_closes_at": closes_at},
                              condition="attribute_not_exists(selected_batch) AND "
                                        "(attribute_not_exists(active_batch_closes_at)"
                                        " OR active_batch_closes_at <= :now)",
                              cond_values={":now": clock.iso(now)}),
        ])

    def record_result(self, applicant_id: str, batch_id: str, outcome: str, rank: int) -> bool:
        """Write the draw's ``outcome`` (SELECTED, WAITLISTED, NOT_SELECTED) and ``rank`` on the
        membership; a SELECTED member's PROFILE also gets ``selected_batch`` in the same
        transaction. Idempotent (a redelivered chunk writes the same values). False when the
        membership or the account no longer exists (erased since the close)."""
        store = self.applicants
        items = [store.update_item(applicant_id, member_sk(batch_id), {"result": outcome, "rank": rank},
                                   condition="attribute_exists(pk)")]
        if outcome == "SELECTED":
            items.append(store.update_item(applicant_id, "PROFILE", {"selected_batch": batch_id},
                                           condition="attribute_exists(pk)"))
        return store.transact(items)

    def member(self, applicant_id: str, batch_id: str) -> dict | None:
        """The applicant's membership item of ``batch_id`` (strongly consistent), or None."""
        return self.applicants.get_item(applicant_id, member_sk(batch_id))

    def memberships(self, applicant_id: str) -> list[dict]:
        """All of the applicant's memberships, oldest first by join time (one Query)."""
        return self.applicants.memberships(applicant_id)

    def mark_notified(self, applicant_id: str, batch_id: str, at: str) -> bool:
        """Set ``notified_at`` (ISO UTC) on the membership if it exists and is not set yet; True
        when this call set it (its caller then sends the announcement), False when another copy
        of the chunk got there first or the membership is gone."""
        store = self.applicants
        first = "attribute_exists(pk) AND attribute_not_exists(notified_at)"
        return store.transact([store.update_item(applicant_id, member_sk(batch_id), {"notified_at": at},
                                                 condition=first)])

    def unmark_notified(self, applicant_id: str, batch_id: str) -> None:
        """Take back :meth:`mark_notified` after a failed send, so the retried chunk sends again."""
        self.applicants.remove_attribute(applicant_id, member_sk(batch_id), "notified_at")
