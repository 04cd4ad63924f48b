"""The NIK check worker's use case: one queued check -> at most one effective ministry call,
within the ministry's capacity, nothing lost.

Message body: ``{"applicant_id", "version"}``. For a batch of records:

1. **Stale or done.** A superseded version (a newer biodata submission) makes no call. A version
   whose outcome is already recorded makes no call either; its step is (re)applied in case a
   crash came between the two writes below.
2. **Circuit.** While the shared breaker (:mod:`prakerja.adapters.circuit`) is open, the records
   go back to the queue until it half-opens; then one caller probes. Not an attempt.
3. **Rate.** One token per call from the shared bucket ``ministry`` (rate - burst per second,
   bursts of ``burst``: in every one-second window at most the ministry's rate), reserved ahead
   for the whole batch in one conditional write (:class:`prakerja.adapters.pacing.PacedBucket`).
   Each call waits for its token's time, if that is within the token wait; otherwise the records
   go back with their visibility set to about when tokens will be free. Not an attempt.
4. **Calls**, the batch's at once (each at its token's time), so calls in flight are at most the
   event source's MaximumConcurrency x BatchSize (template.yaml: 4 x 5 = the ministry's 20).
   Each carries the deterministic request id ``<applicant_id>:<version>``, so a retry after a
   crash is the same request to the ministry (it de-duplicates).
5. **Transient failure** (429, 5xx, timeout, unreadable reply): a real attempt, counted on the
   BIODATA item. Below ``max_attempts`` the record returns to the queue after an exponential
   backoff with jitter (its visibility, capped at SQS's 12 hours); at ``max_attempts`` the worker
   sends it to the NIK DLQ itself and the step stays PENDING (an alarm watches the DLQ; a redrive
   starts the attempts afresh). SQS's own maxReceiveCount is only a backstop for crashes.
6. **Outcome** recorded by two conditional writes: the check on BIODATA (only if none yet, same
   version), then the nik step (only if PENDING for that version); when the step moved, the
   funnel counts it (:mod:`prakerja.services.funnel`). The step's reason is what the citizen may
   see (:func:`prakerja.domain.nik.citizen_reason`: one generic code for every ministry
   rejection); the ministry's reason and mismatched fields stay in the BIODATA check for
   operators (issue 16).
7. **The NIK is claimed only when VERIFIED** (issue 16). A VERIFIED check is recorded in one
   transaction with the NIK sentinel under the current key id (``verified_at``), conditional on
   the sentinel being absent or this applicant's, and with the same NIK's sentinels under the
   previous key ids removed on the same condition. If another account already holds the NIK
   verified, this check ends REJECTED ``NIK_ALREADY_USED`` (the ministry's VERIFIED kept in the
   check as ``ministry_result``). Two verified checks of one NIK in flight race on that write;
   exactly one wins. A claim written at submission before this change (no ``verified_at``) is
   replaced unless its applicant's nik step is VERIFIED. Cost of a VERIFIED answer: one
   sentinel read per key id (plus the holder's profile for such an old claim) and one
   transaction instead of one update.

Metrics (partner health): ``MinistryCall`` per call made, ``MinistryLatency`` (ms) per call,
``MinistryError`` per 429/5xx/timeout/connection failure, ``MinistryCircuitOpen`` each time this
worker's failure opens the shared breaker.

A malformed body, or a stored NIK that cannot be opened, can never succeed: dead-lettered at
once. The NIK is decrypted only for the call; it never reaches logs, metrics or errors.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from prakerja import clock
from prakerja.adapters.circuit import CircuitBreaker, CircuitState
from prakerja.adapters.crypto import EnvelopeError, Envelopes, nik_aad
from prakerja.adapters.funnel import marker_attribute
from prakerja.adapters.ministry import Ministry, MinistryUnavailable
from prakerja.adapters.nik_queue import NikQueue
from prakerja.adapters.pacing import PacedBucket
from prakerja.domain.nik import NIK_ALREADY_USED, citizen_reason
from prakerja.observability import count, measure
from prakerja.services.lookups import holds_verified, nik_sentinels
from prakerja.services.wiring import Wiring
from prakerja.settings import MinistryRules, SettingsError

BUCKET_NAME = "ministry"
CIRCUIT_NAME = "ministry"
SQS_MAX_VISIBILITY = 43200  # seconds (12 hours)
CALL_MARGIN_SECONDS = 1.0
LATE_TOLERANCE_SECONDS = 0.05
CLAIM_ATTEMPTS = 3  # a VERIFIED claim re-planned after a lost race on a sentinel


class InvalidCheckMessage(ValueError):
    """The queued message is malformed (dead-lettered at once: a retry cannot mend it)."""


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


@dataclass(frozen=True)
class NikPolicy:
    """The worker's pacing and patience (seconds unless named otherwise), from the settings part
    :class:`~prakerja.settings.MinistryRules` (where the defaults are:
    ``NikPolicy.from_settings(MinistryRules())``)."""

    rate: float
    burst: float
    shards: int
    max_in_flight: int
    token_wait: float
    max_attempts: int
    backoff_base: float
    backoff_max: float
    circuit_failures: int
    circuit_cooldown: float
    call_timeout: float

    @property
    def late_tolerance(self) -> float:
        """How late after its token's time a call may still go out: what the burst covers, and
        never more than ``LATE_TOLERANCE_SECONDS``."""
        return min(self.burst / self.bucket_rate, LATE_TOLERANCE_SECONDS)

    @property
    def bucket_rate(self) -> float:
        """The bucket's refill rate: ``rate - burst``, so that rate x 1 s + burst <= the capacity."""
        return self.rate - self.burst

    @classmethod
    def from_settings(cls, s: MinistryRules) -> NikPolicy:
        """Raises SettingsError when the burst leaves no rate (a cold-start failure)."""
        if s.ministry_burst >= s.ministry_rate_per_second or s.ministry_burst < s.ministry_bucket_shards:
            raise SettingsError("MINISTRY_BURST must be below MINISTRY_RATE_PER_SECOND and at least one token per "
                                "shard (MINISTRY_BUCKET_SHARDS)")
        return cls(rate=s.ministry_rate_per_second, burst=s.ministry_burst, shards=s.ministry_bucket_shards,
                   max_in_flight=s.ministry_max_in_flight, token_wait=s.ministry_token_wait_seconds,
                   max_attempts=s.ministry_max_attempts, backoff_base=s.ministry_backoff_base_seconds,
                   backoff_max=s.ministry_backoff_max_seconds, circuit_failures=s.ministry_circuit_failures,
                   circuit_cooldown=s.ministry_circuit_cooldown_seconds, call_timeout=s.ministry_timeout)


def backoff_seconds(attempts: int, base: float, cap: float, rng: random.Random,
                    at_least: float | None = None) -> int:
    """Whole seconds before attempt ``attempts + 1``: "equal jitter" on ``base`` doubled per
    attempt (a random point in the upper half), at most ``cap`` and SQS's 12 hours, and no less
    than the partner's Retry-After (``at_least``)."""
    ceiling = min(cap, SQS_MAX_VISIBILITY, base * 2 ** min(max(attempts, 1) - 1, 30))
    delay = rng.uniform(ceiling / 2, ceiling)
    if at_least:
        delay = max(delay, at_least)
    return int(min(SQS_MAX_VISIBILITY, math.ceil(delay)))


class OutcomeKind(Enum):
    """What became of one queued check. Finished (its message may be deleted): ``STALE`` (the
    biodata changed or is gone), ``DONE`` (an outcome was already recorded), ``DEAD_LETTERED``,
    ``VERIFIED``, ``REJECTED`` (the ministry's answer, recorded now). Not finished (reported
    failed): ``DEFERRED`` (put back on the queue with its visibility set) and ``ERROR`` (an
    unexpected exception; it returns after the queue's visibility timeout)."""

    STALE = "stale"
    DONE = "done"
    DEAD_LETTERED = "dead_lettered"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    DEFERRED = "deferred"
    ERROR = "error"


@dataclass(frozen=True)
class CheckOutcome:
    """One record's outcome: its kind and, for ``DEFERRED`` the reason (``no_token``,
    ``circuit_open``, ``late_for_token``, ``ministry_<kind>``), for ``ERROR`` the exception's type
    name (never its message: a message could carry data). ``str()`` is the form logged:
    ``VERIFIED``, ``deferred:no_token``, ``error:KeyError``."""

    kind: OutcomeKind
    detail: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the record is done with (its message may be deleted)."""
        return self.kind not in (OutcomeKind.DEFERRED, OutcomeKind.ERROR)

    def __str__(self) -> str:
        return self.kind.value if self.detail is None else f"{self.kind.value}:{self.detail}"


def error_outcome(exc: BaseException) -> CheckOutcome:
    """The ``ERROR`` outcome of ``exc``: its type name only."""
    return CheckOutcome(OutcomeKind.ERROR, type(exc).__name__)


@dataclass
class QueuedCheck:
    """One received record."""

    body: str
    receipt_handle: str
    message_id: str = ""


@dataclass
class _Call:
    """A record whose check needs a ministry call, with its BIODATA item."""

    record: QueuedCheck
    applicant_id: str
    version: int
    item: dict


@dataclass
class _Shared:
    """What the concurrent calls of one batch share: the breaker as last seen (under a lock)."""

    circuit: CircuitState
    lock: threading.Lock = field(default_factory=threading.Lock)
    verified: int = 0  # steps moved to VERIFIED by this batch (the NikVerified metric)
    first_verified: int = 0  # of them, applicants verified for the first time (the funnel counter)


class NikChecks:
    """Runs queued checks against the ministry and records outcomes.

    ``sleep`` waits for a token (``time.sleep`` on Lambda; a test may pass one that moves its
    clock); ``rng`` draws the jitter."""

    def __init__(self, w: Wiring, ministry: Ministry, queue: NikQueue, envelopes: Envelopes, policy: NikPolicy,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self.w, self.ministry, self.queue, self.envelopes, self.policy = w, ministry, queue, envelopes, policy
        self.sleep = sleep
        self.rng = rng or random.Random()
        limits = w.settings.limits_table
        self.bucket = PacedBucket(limits, BUCKET_NAME, rate=policy.bucket_rate, burst=policy.burst,
                                  shards=policy.shards)
        self.circuit = CircuitBreaker(limits, CIRCUIT_NAME, policy.circuit_failures, policy.circuit_cooldown,
                                      probe_timeout=max(policy.call_timeout * 2, 1.0))

    # ------------------------------------------------------------------ a batch
    def run(self, records: list[QueuedCheck],
            remaining: Callable[[], float] | None = None) -> dict[str, CheckOutcome]:
        """Process one batch; returns message id -> outcome (:class:`OutcomeKind` says which
        finish a record). ``remaining``: seconds the invocation has left (``None``: unbounded)."""
        outcomes: dict[str, CheckOutcome] = {}
        parsed: list[tuple[QueuedCheck, str, int]] = []
        for record in records:
            try:
                applicant_id, version = parse(record.body)
            except InvalidCheckMessage:
                self.queue.dead_letter(record.body, {"reason": "malformed"})
                outcomes[record.message_id] = CheckOutcome(OutcomeKind.DEAD_LETTERED)
                continue
            parsed.append((record, applicant_id, version))
        if parsed:
            outcomes.update(self._run(parsed, remaining or (lambda: math.inf)))
        return outcomes

    def _run(self, parsed: list[tuple[QueuedCheck, str, int]],
             remaining: Callable[[], float]) -> dict[str, CheckOutcome]:
        """The breaker first (one read), then the BIODATA items (one batch read), then the tokens
        for the records that need a call (one reservation for them all), then the calls at once,
        each at its token's time. Reading before reserving keeps the first token from going stale
        while the items are read (a call later than its token is deferred and the token is lost),
        and reserves none for stale or finished records. Waiting for the breaker or a token is not
        an attempt."""
        shared = _Shared(self.circuit.observe())
        left = self.circuit.open_for(shared.circuit)
        if left > 0:
            pause = left + self.rng.uniform(0, self.policy.circuit_cooldown / 2)
            return {r.message_id: self._defer(r, "circuit_open", pause) for r, _, _ in parsed}
        items = self.w.store.biodata_of([aid for _, aid, _ in parsed])
        outcomes: dict[str, CheckOutcome] = {}
        calls: list[_Call] = []
        for record, applicant_id, version in parsed:
            try:
                prepared = self._prepare(shared, record, applicant_id, version, items.get(applicant_id))
            except Exception as exc:  # the type only: a message could carry data
                outcomes[record.message_id] = error_outcome(exc)
                continue
            if isinstance(prepared, _Call):
                calls.append(prepared)
            else:
                outcomes[record.message_id] = prepared
        if calls:
            outcomes.update(self._calls(shared, calls, remaining))
        self._count_funnel(shared)
        return outcomes

    def _calls(self, shared: _Shared, calls: list[_Call],
               remaining: Callable[[], float]) -> dict[str, CheckOutcome]:
        """One reservation for ``calls``, then the calls at once, each at its token's time."""
        budget = max(0.0, min(self.policy.token_wait,
                              remaining() - self.policy.call_timeout - CALL_MARGIN_SECONDS))
        got = self.bucket.reserve(budget, count=len(calls))
        if not got.ok:
            spread = min(1.0, self.policy.max_in_flight / self.policy.bucket_rate)
            pause = got.wait_seconds + budget + self.rng.uniform(0, spread)
            return {c.record.message_id: self._defer(c.record, "no_token", pause) for c in calls}
        if len(calls) == 1:
            return {calls[0].record.message_id: self._call_one(shared, calls[0], got.times[0])}
        with ThreadPoolExecutor(len(calls), thread_name_prefix="nik-call") as pool:
            futures = [(c, pool.submit(self._call_one, shared, c, at)) for c, at in zip(calls, got.times, strict=True)]
        return {c.record.message_id: f.result() for c, f in futures}

    def _prepare(self, shared: _Shared, record: QueuedCheck, applicant_id: str, version: int,
                 item: dict | None) -> _Call | CheckOutcome:
        """The call a record needs, or its outcome when it needs none (stale, done)."""
        if not item or int(item["version"]) != version:
            return CheckOutcome(OutcomeKind.STALE)
        if item.get("check"):
            check = item["check"]
            self._apply(shared, applicant_id, version, check["result"],
                        citizen_reason(check["result"], check.get("reason")), check["checked_at"])
            return CheckOutcome(OutcomeKind.DONE)
        return _Call(record, applicant_id, version, item)

    def _call_one(self, shared: _Shared, call: _Call, at: float) -> CheckOutcome:
        """Wait for the token's time, pass the breaker, call, record. Never raises: the outcome."""
        try:
            return self._call(shared, call, at)
        except Exception as exc:  # the type only: a message could carry data
            return error_outcome(exc)

    def _call(self, shared: _Shared, call: _Call, at: float) -> CheckOutcome:
        record, applicant_id, version = call.record, call.applicant_id, call.version
        wait = at - clock.now().timestamp()
        if wait > 0:
            self.sleep(wait)
        if clock.now().timestamp() - at > self.policy.late_tolerance:
            # this call comes too late for its token (a slow start, or a late wake-up): sent now
            # it would bunch with the calls of the tokens after it
            return self._defer(record, "late_for_token", self.rng.uniform(0, 1))
        with shared.lock:
            observed = shared.circuit
        gate = self.circuit.gate(observed)
        if not gate.ok:
            return self._defer(record, "circuit_open", gate.wait_seconds)
        try:
            nik = self.envelopes.open(call.item.get("nik_enc"), nik_aad(applicant_id))
        except EnvelopeError as exc:
            if str(exc) == "ENVELOPE_KEY_UNAVAILABLE":
                raise  # KMS trouble: the record returns after its visibility timeout
            self.queue.dead_letter(record.body, {"reason": "unreadable_nik"})
            return CheckOutcome(OutcomeKind.DEAD_LETTERED)
        data = call.item["data"]
        count("MinistryCall")
        started = time.perf_counter()
        try:
            reply = self.ministry.verify(request_id(applicant_id, version), nik, data["full_name"],
                                         data["date_of_birth"])
        except MinistryUnavailable as exc:
            measure("MinistryLatency", (time.perf_counter() - started) * 1000)
            if exc.overload:
                count("MinistryError")
            return self._failed(shared, record, applicant_id, version, exc)
        measure("MinistryLatency", (time.perf_counter() - started) * 1000)
        with shared.lock:
            shared.circuit = self.circuit.succeeded(shared.circuit)
        return self._record(shared, applicant_id, version, reply, nik)

    def _failed(self, shared: _Shared, record: QueuedCheck, applicant_id: str, version: int,
                exc: MinistryUnavailable) -> CheckOutcome:
        if exc.overload:
            state = self.circuit.failed()
            if state.opened_now:
                count("MinistryCircuitOpen")
            with shared.lock:
                shared.circuit = state
        attempts = self.w.store.count_nik_failure(applicant_id, version, exc.kind, clock.iso(clock.now()))
        if attempts is None:
            return CheckOutcome(OutcomeKind.STALE)  # superseded or recorded meanwhile
        if attempts >= self.policy.max_attempts:
            self.queue.dead_letter(record.body, {"reason": "max_attempts", "attempts": str(attempts),
                                                 "last_error": exc.kind})
            self.w.store.nik_dead_lettered(applicant_id, version, clock.iso(clock.now()))
            return CheckOutcome(OutcomeKind.DEAD_LETTERED)
        delay = backoff_seconds(attempts, self.policy.backoff_base, self.policy.backoff_max, self.rng,
                                exc.retry_after)
        return self._defer(record, f"ministry_{exc.kind}", delay)

    def _defer(self, record: QueuedCheck, why: str, seconds: float) -> CheckOutcome:
        """Put the record back on the queue for ``seconds``; its outcome ``DEFERRED`` (``why``)."""
        whole = int(min(SQS_MAX_VISIBILITY, math.ceil(max(0.0, seconds))))
        self.queue.defer(record.receipt_handle, whole)
        return CheckOutcome(OutcomeKind.DEFERRED, why)

    def _record(self, shared: _Shared, applicant_id: str, version: int, reply: Any, nik: str) -> CheckOutcome:
        at = clock.iso(clock.now())
        check = {"result": reply.result, "reason": reply.reason, "fields": reply.mismatched_fields,
                 "checked_at": at, "request_id": reply.request_id}
        if reply.result == "VERIFIED":
            recorded = self._claim(applicant_id, version, nik, check)
            if recorded is None:
                return CheckOutcome(OutcomeKind.STALE)
            check = recorded
        elif not self.w.store.record_nik_check(applicant_id, version, check):
            return CheckOutcome(OutcomeKind.STALE)
        self._apply(shared, applicant_id, version, check["result"], citizen_reason(check["result"], check["reason"]),
                    at)
        return CheckOutcome(OutcomeKind(str(check["result"])))  # VERIFIED or REJECTED

    def _claim(self, applicant_id: str, version: int, nik: str, check: dict) -> dict | None:
        """Record a VERIFIED ``check`` with the NIK's sentinel (module docstring, point 7); the
        check recorded (REJECTED ``NIK_ALREADY_USED`` when another account holds the NIK), or None
        when the version was superseded or recorded meanwhile. Raises RuntimeError when the
        sentinels kept changing (the record returns after its visibility timeout)."""
        store = self.w.store
        for _ in range(CLAIM_ATTEMPTS):
            plan = self._claim_items(applicant_id, version, nik, check)
            if plan is None:
                taken = {**check, "result": "REJECTED", "reason": NIK_ALREADY_USED, "fields": [],
                         "ministry_result": "VERIFIED"}
                return taken if store.record_nik_check(applicant_id, version, taken) else None
            if store.transact(plan):
                return check
            item = store.biodata(applicant_id)
            if not item or int(item["version"]) != version or item.get("check"):
                return None
        raise RuntimeError("nik claim kept conflicting")

    def _claim_items(self, applicant_id: str, version: int, nik: str, check: dict) -> list[dict] | None:
        """The transaction recording a VERIFIED check with its sentinel, or None when another
        account holds the NIK verified."""
        store = self.w.store
        sentinels = nik_sentinels(store, self.w.keys(), nik)
        current_key, current_kid, _ = sentinels[0]
        items = [store.nik_verified_check(applicant_id, version, check, current_key, current_kid)]
        displaced: set[str] = set()
        for key, kid, sentinel in sentinels:
            holder = str(sentinel["applicant_id"]) if sentinel else applicant_id
            displace = None
            if holder != applicant_id:
                if holds_verified(store, sentinel or {}):
                    return None
                displace = holder  # a claim written at submission before issue 16
                displaced.add(holder)
            items.append(store.nik_sentinel_claim(key, applicant_id, kid, check["checked_at"], displace)
                         if key == current_key else store.nik_sentinel_clear(key, applicant_id, displace))
        # and its applicant was not verified meanwhile (a worker of before this change)
        items += [store.nik_not_verified(other) for other in sorted(displaced)]
        return items

    def _apply(self, shared: _Shared, applicant_id: str, version: int, result: str, reason: str | None,
               at: str) -> None:
        """Move the nik step to the recorded outcome (if still PENDING for ``version``: one
        single-item conditional update, which also sets the funnel's first-time marker on
        VERIFIED) and tally it for the batch's funnel count (:meth:`_count_funnel`)."""
        verified = result == "VERIFIED"
        moved, first = self.w.store.nik_outcome(applicant_id, version, result, reason, at,
                                                marker=marker_attribute("nik_verified") if verified else None)
        if not moved:
            return
        if not verified:
            self.w.funnel.outcome("NikRejected")
            return
        with shared.lock:
            shared.verified += 1
            shared.first_verified += first

    def _count_funnel(self, shared: _Shared) -> None:
        """The batch's verified checks in the funnel: the metric, and one counter write for the
        applicants verified for the first time."""
        self.w.funnel.reached_many("nik_verified", shared.verified, shared.first_verified)


def finished(outcome: CheckOutcome) -> bool:
    """Whether a record with this outcome is done with (its message may be deleted)."""
    return outcome.finished
