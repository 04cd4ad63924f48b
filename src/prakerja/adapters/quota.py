"""Per-subject quotas in named windows (Limits table): "at most N per applicant per WIB day".

The caller names the window (a WIB date, an hour number), so a window can follow a calendar the
epoch-aligned counters of :mod:`prakerja.adapters.counters` cannot (a WIB day starts at 17:00
UTC). Taking one unit is a single conditional update, so concurrent requests can never take more
than ``limit`` between them. Item: ``pk = QUOTA#<name>#<subject>``, ``sk = <window>``,
``used`` (number), ``ttl`` (epoch seconds). ``subject`` is an opaque id (an applicant id), never
personal data.
"""

from __future__ import annotations

from typing import Any

from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import applied


class Quota:
    """``limit`` units per subject per window."""

    def __init__(self, table_name: str, name: str, limit: int) -> None:
        self.table_name, self.name, self.limit = table_name, name, limit

    @property
    def t(self) -> Any:
        return table(self.table_name)

    def _key(self, subject: str, window: str) -> dict:
        return {"pk": f"QUOTA#{self.name}#{subject}", "sk": window}

    def used(self, subject: str, window: str) -> int:
        """Units taken by ``subject`` in ``window`` (0 when none)."""
        item = self.t.get_item(Key=self._key(subject, window), ConsistentRead=True).get("Item")
        return int(item["used"]) if item else 0

    def exhausted(self, subject: str, window: str) -> bool:
        """Whether ``subject`` has no unit left in ``window``."""
        return self.used(subject, window) >= self.limit

    def take(self, subject: str, window: str, expires_at: int) -> bool:
        """Take one unit; False (nothing written) when the window's units are all taken.
        ``expires_at``: the item's TTL (epoch seconds), after the window ends."""
        return applied(lambda: self.t.update_item(
            Key=self._key(subject, window), UpdateExpression="ADD used :one SET #t = :ttl",
            ConditionExpression="attribute_not_exists(used) OR used < :limit", ExpressionAttributeNames={"#t": "ttl"},
            ExpressionAttributeValues={":one": 1, ":limit": self.limit, ":ttl": expires_at}))
