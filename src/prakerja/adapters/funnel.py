"""Live funnel counters: how many distinct applicants reached each step, kept as the steps happen.

**Table: Applicants** (not Limits). Every function that records a step already holds read/write
access to the Applicants table (no new IAM policy), the first-time markers below live on the
applicant's PROFILE item there, and the counters are lasting programme figures, whereas the Limits
table holds short-lived throttling state (windows, token buckets, the circuit breaker) that is
not granted to every step's function.

**Items.** ``pk = FUNNEL#<step>#<shard>`` (shard ``00``..``<SHARDS-1>``), ``sk = FUNNEL``,
``count`` (number). A write adds one to a shard chosen at random (``ADD count :1``), so at twice
the April 2020 peak (about 2,700 sign-ups a second) each partition key takes under 200 writes a
second. The shard is in the partition key, not the sort key: items sharing a partition key
share a partition and its write limit, which is what sharding must avoid (the same convention
as the batch membership, ``BATCH#<id>#M#<shard>``). Reading is a BatchGetItem of the
``len(STEPS) x SHARDS`` known keys, summed per step: no scan, no query over applicants.

**Distinct people.** A counter is added to only the first time an applicant reaches a step:
:meth:`FunnelCounters.first_time` sets ``funnel_<step>`` (ISO UTC) on the PROFILE item with
``attribute_not_exists``, so a retaken test passed, a second batch joined or a NIK verified again
after a correction counts once. The marker goes first and the counter second (two single-item
writes, no transaction: transactions on a hot counter item would conflict): a crash between them
loses one count rather than counting anyone twice.
"""

from __future__ import annotations

import random
from typing import Any

from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import applied

#: the steps counted, in funnel order (the April 2020 statement's, plus ``ktp_valid``)
STEPS = ("registered", "email_verified", "ktp_valid", "nik_verified", "assessment_passed", "joined_batch",
         "selected")
#: shards per step; writers and readers must agree, so it is a constant, not a setting
SHARDS = 16
_BATCH_GET_MAX = 100


def counter_key(step: str, shard: int) -> dict[str, str]:
    """The key of one shard of one step's counter."""
    return {"pk": f"FUNNEL#{step}#{shard:02d}", "sk": "FUNNEL"}


def marker_attribute(step: str) -> str:
    """The PROFILE attribute recording when the applicant first reached ``step``."""
    return f"funnel_{step}"


class FunnelCounters:
    """The write-sharded counters of :data:`STEPS` in the Applicants table ``table_name``.

    Raises ValueError for a step not in :data:`STEPS`; DynamoDB errors other than a failed
    condition propagate (callers decide whether a lost count may fail their request)."""

    def __init__(self, table_name: str, rng: random.Random | None = None) -> None:
        self.table_name = table_name
        self.rng = rng or random.Random()

    @property
    def t(self) -> Any:
        return table(self.table_name)

    @staticmethod
    def _check(step: str) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown funnel step {step!r}")

    def add(self, step: str, count: int = 1) -> None:
        """Add ``count`` people to ``step`` on a random shard (one write)."""
        self._check(step)
        self.t.update_item(Key=counter_key(step, self.rng.randrange(SHARDS)), UpdateExpression="ADD #c :n",
                           ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":n": count})

    def first_time(self, applicant_id: str, step: str, at: str) -> bool:
        """Mark that the applicant reached ``step`` at ``at`` (ISO UTC), only if never marked before.

        True when this call set the marker (the first time); False when it was set already or the
        applicant's profile no longer exists."""
        self._check(step)
        return applied(lambda: self.t.update_item(
            Key={"pk": f"APP#{applicant_id}", "sk": "PROFILE"}, UpdateExpression="SET #m = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#m)",
            ExpressionAttributeNames={"#m": marker_attribute(step)}, ExpressionAttributeValues={":at": at}))

    def reached(self, applicant_id: str, step: str, at: str) -> bool:
        """Count the applicant on ``step`` if this is the first time they reached it; True if counted."""
        if not self.first_time(applicant_id, step, at):
            return False
        self.add(step)
        return True

    def totals(self) -> dict[str, int]:
        """People per step, every step of :data:`STEPS` in order (0 when never counted):
        ``{"registered": 1432133, ...}``. Strongly consistent reads of the known keys."""
        keys = [counter_key(step, shard) for step in STEPS for shard in range(SHARDS)]
        totals = dict.fromkeys(STEPS, 0)
        client = self.t.meta.client
        for start in range(0, len(keys), _BATCH_GET_MAX):
            request: dict[str, Any] = {self.table_name: {"Keys": keys[start:start + _BATCH_GET_MAX],
                                                         "ConsistentRead": True,
                                                         "ProjectionExpression": "pk, #c",
                                                         "ExpressionAttributeNames": {"#c": "count"}}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    step = str(item["pk"]).split("#")[1]
                    totals[step] += int(item.get("count", 0))
                request = response.get("UnprocessedKeys") or {}
        return totals
