"""The ASSESSMENT item of an applicant: its conditional writes and the DueIndex query.

The conditions (an attempt is written once, answers and the score only while the test is
``IN_PROGRESS``) and the sparse ``DueIndex`` (``due_shard`` + ``due_at``, removed once scored)
live here; :mod:`prakerja.services.assessment` holds the rules of the test.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from prakerja.adapters.applicants import ApplicantStore, app_pk
from prakerja.adapters.aws import table


class AssessmentItems:
    """The ASSESSMENT items in the Applicants table of ``store``. The ``*_item`` methods return
    transaction items for :meth:`ApplicantStore.transact`."""

    def __init__(self, store: ApplicantStore) -> None:
        self.store = store

    def first_attempt_item(self, applicant_id: str, item: dict) -> dict:
        """Put the first attempt, only if there is none yet."""
        return self.store.put_item(applicant_id, "ASSESSMENT", item, condition="attribute_not_exists(pk)")

    def retake_item(self, applicant_id: str, item: dict, previous_attempt: int) -> dict:
        """Put a new attempt over attempt number ``previous_attempt``, only if that one FAILED."""
        return self.store.put_item(applicant_id, "ASSESSMENT", item, condition="attempt = :prev AND #st = :failed",
                                   values={":prev": previous_attempt, ":failed": "FAILED"}, names={"#st": "status"})

    def answer_item(self, applicant_id: str, question_id: str, option_id: str) -> dict:
        """Save one answer, only while the test is IN_PROGRESS."""
        return self.store.update_item(applicant_id, "ASSESSMENT", {f"answers.{question_id}": option_id},
                                      condition="#st = :open", cond_values={":open": "IN_PROGRESS"},
                                      cond_names={"#st": "status"})

    def scored_item(self, applicant_id: str, status: str, score: Any, answers: dict[str, str], at: str) -> dict:
        """Store the score (``status`` PASSED or FAILED, ``at`` ISO UTC) once, only while the test is
        IN_PROGRESS, and take the item off the DueIndex."""
        return {"Update": {"TableName": self.store.name, "Key": {"pk": app_pk(applicant_id), "sk": "ASSESSMENT"},
                           "UpdateExpression": "SET #st = :s, score = :score, answers = :a, scored_at = :at "
                                               "REMOVE due_shard, due_at",
                           "ConditionExpression": "#st = :open",
                           "ExpressionAttributeNames": {"#st": "status"},
                           "ExpressionAttributeValues": {":s": status, ":score": score, ":a": answers,
                                                         ":at": at, ":open": "IN_PROGRESS"}}}

    def overdue(self, shard: int, cutoff: str, limit: int) -> list[str]:
        """The applicant ids of up to ``limit`` open tests on DueIndex shard ``shard`` due before
        ``cutoff`` (ISO UTC)."""
        page = table(self.store.name).query(
            IndexName="DueIndex", Limit=limit,
            KeyConditionExpression=Key("due_shard").eq(str(shard)) & Key("due_at").lt(cutoff))
        return [str(raw["pk"]).removeprefix("APP#") for raw in page.get("Items", [])]
