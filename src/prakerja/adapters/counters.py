"""Event counters in clock-aligned windows, shared by every instance of a function (Limits table).

Used for per-client limits (sign-in attempts, verification resends, password-reset mails, every
email a request can cause). :meth:`WindowCounters.take` reserves one unit atomically (a single
conditional update: concurrent callers can never take more than the limit between them) and
:meth:`WindowCounters.release` gives it back; :meth:`count`/:meth:`add` remain for plain
counting. Items:
``pk = COUNT#<name>#<subject>``, ``sk = <window start, epoch seconds>``, ``count`` (number),
``ttl`` (epoch seconds, one window after the window ends). ``subject`` is an opaque key chosen by
the caller (an HMAC or an applicant id: never an email address or a raw client address).
Times come from :mod:`prakerja.clock`.
"""

from __future__ import annotations

from typing import Any

from prakerja import clock
from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import applied
from prakerja.domain.accounts import seconds_left, window_start


class WindowCounters:
    """Counts per subject in fixed windows of ``window_seconds`` (aligned to the epoch)."""

    def __init__(self, table_name: str, name: str, window_seconds: int) -> None:
        self.table_name, self.name, self.window = table_name, name, window_seconds

    @property
    def t(self) -> Any:
        return table(self.table_name)

    def _key(self, subject: str) -> dict:
        return {"pk": f"COUNT#{self.name}#{subject}", "sk": str(window_start(clock.epoch(), self.window))}

    def count(self, subject: str) -> int:
        """Events counted for ``subject`` in the current window (0 when none)."""
        item = self.t.get_item(Key=self._key(subject), ConsistentRead=True).get("Item")
        return int(item["count"]) if item else 0

    def add(self, subject: str) -> int:
        """Count one event for ``subject`` in the current window; returns the new count."""
        key = self._key(subject)
        response = self.t.update_item(Key=key, UpdateExpression="ADD #c :one SET #t = if_not_exists(#t, :ttl)",
                                      ExpressionAttributeNames={"#c": "count", "#t": "ttl"},
                                      ExpressionAttributeValues={":one": 1,
                                                                 ":ttl": int(key["sk"]) + 2 * self.window},
                                      ReturnValues="UPDATED_NEW")
        return int(response["Attributes"]["count"])

    def take(self, subject: str, limit: int) -> dict | None:
        """Reserve one unit for ``subject`` in the current window if fewer than ``limit`` are taken.

        One conditional UpdateItem (1 write, no read). Returns the item's key (pass it to
        :meth:`release`, so a release after the window rolled over touches the window it took
        from), or None (nothing written) when the window's ``limit`` units are all taken."""
        key = self._key(subject)
        if not applied(lambda: self.t.update_item(
                Key=key, UpdateExpression="ADD #c :one SET #t = if_not_exists(#t, :ttl)",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count", "#t": "ttl"},
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":ttl": int(key["sk"]) + 2 * self.window})):
            return None
        return key

    def release(self, key: dict) -> None:
        """Give back one unit taken by :meth:`take` (``key`` is what it returned); 1 write. A unit
        of a window whose item is gone (TTL) is not recreated."""
        applied(lambda: self.t.update_item(Key=key, UpdateExpression="ADD #c :minus",
                                           ConditionExpression="#c > :zero", ExpressionAttributeNames={"#c": "count"},
                                           ExpressionAttributeValues={":minus": -1, ":zero": 0}))

    def forget(self, key: dict) -> None:
        """Delete the window item ``key`` (as returned by :meth:`take`); 1 write."""
        self.t.delete_item(Key=key)

    def clear(self, subject: str) -> None:
        """Forget the current window's count for ``subject`` (e.g. after a successful sign-in)."""
        self.t.delete_item(Key=self._key(subject))

    def retry_after(self) -> int:
        """Seconds until the current window ends (what a refused caller should wait)."""
        return seconds_left(clock.epoch(), self.window)
