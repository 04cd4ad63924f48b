"""A circuit breaker shared by every instance of a function (state in the Limits table).

While a partner fails, calling it again and again only adds to its load and burns our retries.
The breaker counts *consecutive* failures of real calls; after ``threshold`` of them it opens:
no instance calls for ``cooldown`` seconds. Then it is half-open: one instance (the one whose
conditional claim wins) makes a probe call; a success closes the breaker, a failure opens it
again for another cool-down. All times come from :mod:`prakerja.clock`.

Item: ``pk = CIRCUIT#<name>``, ``sk = CIRCUIT``, ``failures`` (consecutive, number),
``opened_at`` (epoch seconds, absent when closed), ``probe_at`` (when the half-open probe was
claimed). Reads are strongly consistent. Cost: one read per batch of records (``observe``);
successes write only when the observed state was not clean; failures write once or twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from prakerja import clock
from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import is_condition_failure


@dataclass(frozen=True)
class CircuitState:
    """What one read saw: ``failures`` in a row and ``opened_at`` (None when closed).
    ``opened_now``: the breaker was opened (or re-opened) by the :meth:`CircuitBreaker.failed`
    call that returned this state."""

    failures: int = 0
    opened_at: float | None = None
    probe_at: float | None = None
    opened_now: bool = False


@dataclass(frozen=True)
class Gate:
    """Whether a call may go ahead now; otherwise how long until the breaker half-opens."""

    ok: bool
    wait_seconds: float = 0.0
    probe: bool = False


class CircuitBreaker:
    """One named breaker. ``probe_timeout``: a claimed probe that never reported is re-claimable
    after this many seconds (its caller crashed)."""

    def __init__(self, table_name: str, name: str, threshold: int, cooldown: float,
                 probe_timeout: float = 30.0) -> None:
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be >= 1 and cooldown >= 0")
        self.table_name, self.name = table_name, name
        self.threshold, self.cooldown, self.probe_timeout = threshold, cooldown, probe_timeout
        self.key = {"pk": f"CIRCUIT#{name}", "sk": "CIRCUIT"}

    @property
    def t(self) -> Any:
        return table(self.table_name)

    def observe(self) -> CircuitState:
        """Read the shared state (one consistent read)."""
        item = self.t.get_item(Key=self.key, ConsistentRead=True).get("Item") or {}
        return _state(item)

    def open_for(self, state: CircuitState) -> float:
        """Seconds until the breaker half-opens (0 when closed or already half-open); no write."""
        if state.opened_at is None:
            return 0.0
        return max(0.0, state.opened_at + self.cooldown - clock.now().timestamp())

    def gate(self, state: CircuitState) -> Gate:
        """Whether a call may go ahead given ``state`` (from :meth:`observe` or a failure).

        Closed: yes. Open: no, with the time left. Half-open: yes for the one caller whose claim
        of the probe wins (``probe=True``), no for the others (retry after a short while)."""
        if state.opened_at is None:
            return Gate(True)
        now = clock.now().timestamp()
        left = state.opened_at + self.cooldown - now
        if left > 0:
            return Gate(False, left)
        if self._claim_probe(state, now):
            return Gate(True, probe=True)
        return Gate(False, max(1.0, min(self.cooldown, self.probe_timeout) / 2))

    def _claim_probe(self, state: CircuitState, now: float) -> bool:
        values: dict[str, Any] = {":now": _dec(now), ":o": _dec(state.opened_at),
                                  ":stale": _dec(now - self.probe_timeout)}
        try:
            self.t.update_item(Key=self.key, UpdateExpression="SET probe_at = :now",
                               ConditionExpression="opened_at = :o AND (attribute_not_exists(probe_at)"
                                                   " OR probe_at < :o OR probe_at < :stale)",
                               ExpressionAttributeValues=values)
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def succeeded(self, state: CircuitState) -> CircuitState:
        """Record a successful call; writes only when ``state`` was not already clean."""
        if state.failures == 0 and state.opened_at is None:
            return state
        self.t.update_item(Key=self.key, UpdateExpression="SET failures = :zero REMOVE opened_at, probe_at",
                           ExpressionAttributeValues={":zero": 0})
        return CircuitState()

    def failed(self) -> CircuitState:
        """Record a failed call; opens the breaker at the threshold (or re-opens it after a failed
        half-open probe). Returns the new state."""
        response = self.t.update_item(Key=self.key, UpdateExpression="ADD failures :one",
                                      ExpressionAttributeValues={":one": 1}, ReturnValues="ALL_NEW")
        state = _state(response["Attributes"])
        now = clock.now().timestamp()
        half_open = state.opened_at is not None and now >= state.opened_at + self.cooldown
        if state.failures < self.threshold or (state.opened_at is not None and not half_open):
            return state
        if state.opened_at is None:
            condition, values = "attribute_not_exists(opened_at)", {":now": _dec(now)}
        else:
            condition, values = "opened_at = :o", {":now": _dec(now), ":o": _dec(state.opened_at)}
        try:
            self.t.update_item(Key=self.key, UpdateExpression="SET opened_at = :now REMOVE probe_at",
                               ConditionExpression=condition, ExpressionAttributeValues=values)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            return self.observe()  # another instance opened it first
        return CircuitState(state.failures, now, None, opened_now=True)


def _state(item: dict) -> CircuitState:
    opened, probe = item.get("opened_at"), item.get("probe_at")
    return CircuitState(int(item.get("failures", 0)), float(opened) if opened is not None else None,
                        float(probe) if probe is not None else None)


def _dec(value: float | None) -> Decimal:
    return Decimal(repr(value))
