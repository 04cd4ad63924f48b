"""A shared token bucket in DynamoDB: at most ``rate`` per second with bursts of ``burst``,
across every concurrent instance of a function (SES sends, ministry calls).

Guarantee (the token-bucket property): in every window of W seconds at most ``rate * W + burst``
acquisitions succeed. Each acquisition is an optimistic conditional update of the bucket item
(``tokens``, ``updated_at`` in epoch seconds, read from :mod:`prakerja.clock`). ``shards`` splits
the bucket into that many items of ``rate / shards`` and ``burst / shards`` each, picked at
random, so no single key takes every write at a high rate; the sum of the shards keeps the bound.

Items live in the Limits table: ``pk = BUCKET#<name>#<shard>``, ``sk = BUCKET``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prakerja import clock
from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import is_condition_failure


@dataclass(frozen=True)
class Acquired:
    """The result of :meth:`TokenBucket.try_acquire`: ``ok``, or how long to wait (seconds)."""

    ok: bool
    wait_seconds: float = 0.0


class TokenBucket:
    """One named bucket. ``rate`` per second, ``burst`` tokens at most (defaults to ``rate``)."""

    def __init__(self, table_name: str, name: str, rate: float, burst: float | None = None, shards: int = 1,
                 attempts: int = 5) -> None:
        if rate <= 0 or shards < 1:
            raise ValueError("rate must be > 0 and shards >= 1")
        self.table_name, self.name, self.shards, self.attempts = table_name, name, shards, attempts
        self.rate = rate / shards
        self.burst = (burst if burst is not None else rate) / shards

    def try_acquire(self) -> Acquired:
        """Take one token now if there is one; otherwise say how long until there will be.

        Starts at a random shard and tries the others before giving up, so an empty shard does
        not waste the capacity of a full one. Never sleeps. Raises botocore errors other than a
        lost condition (retried internally)."""
        start = random.randrange(self.shards)
        waits = []
        for offset in range(self.shards):
            got = self._try_shard((start + offset) % self.shards)
            if got.ok:
                return got
            waits.append(got.wait_seconds)
        return Acquired(False, min(waits))

    def _try_shard(self, shard: int) -> Acquired:
        key = {"pk": f"BUCKET#{self.name}#{shard}", "sk": "BUCKET"}
        for _ in range(self.attempts):
            item = table(self.table_name).get_item(Key=key, ConsistentRead=True).get("Item")
            now = clock.now().timestamp()
            tokens = self._refill(item, now)
            if tokens < 1.0:
                return Acquired(False, (1.0 - tokens) / self.rate)
            if self._store(key, item, tokens - 1.0, now):
                return Acquired(True)
        return Acquired(False, 1.0 / self.rate)

    def _refill(self, item: dict | None, now: float) -> float:
        if not item:
            return self.burst
        tokens, updated = float(item["tokens"]), float(item["updated_at"])
        return min(self.burst, tokens + max(0.0, now - updated) * self.rate)

    def _store(self, key: dict, old: dict | None, tokens: float, now: float) -> bool:
        values: dict[str, Any] = {":t": Decimal(repr(tokens)), ":u": Decimal(repr(now))}
        if old:
            # both fields: two takers that read the same item at the same instant (a clock that
            # did not move, or moved back) would otherwise both win the one token
            condition = "updated_at = :old AND tokens = :oldt"
            values[":old"], values[":oldt"] = old["updated_at"], old["tokens"]
        else:
            condition = "attribute_not_exists(pk)"
        try:
            table(self.table_name).update_item(Key=key, UpdateExpression="SET tokens = :t, updated_at = :u",
                                               ConditionExpression=condition, ExpressionAttributeValues=values)
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True
