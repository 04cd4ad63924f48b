"""The local stack's movable clock and the schedules it drives.

:class:`LocalClock` starts at the real UTC time and runs at real speed; ``advance`` and ``set``
move it. Installed with ``prakerja.clock.set_source`` it is the "now" of every handler, since
the whole stack runs in one process.

:class:`Scheduler` invokes each ``Schedule`` event's function once whenever the clock crosses
one of its period boundaries (a ``rate(1 minute)`` schedule fires at every whole minute since
the epoch), whether by real time passing or by ``advance``/``set`` -- once per crossing, not
once per missed period. ``advance``/``set`` fire due schedules before returning; the work a
tick queues is processed asynchronously by the pumps.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prakerja import clock as prakerja_clock
from prakerja_local.template import ACCOUNT_ID, REGION, Schedule

log = logging.getLogger("prakerja_local.clock")


class LocalClock:
    """A clock that runs at real speed from a movable origin (aware UTC datetimes)."""

    def __init__(self, start: datetime | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._origin = (start or datetime.now(UTC)).astimezone(UTC)
        self._origin_mono = monotonic()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> datetime:
        """The current local time."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        return self._origin + timedelta(seconds=self._monotonic() - self._origin_mono)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward (or back, if negative) and fire due schedules; returns now."""
        with self._lock:
            self._rebase(self._now_locked() + timedelta(seconds=seconds))
        return self._changed()

    def set(self, value: datetime) -> datetime:
        """Set the clock to ``value`` (aware) and fire due schedules; returns now."""
        if value.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        with self._lock:
            self._rebase(value.astimezone(UTC))
        return self._changed()

    def _rebase(self, value: datetime) -> None:
        self._origin = value
        self._origin_mono = self._monotonic()

    def _changed(self) -> datetime:
        for listener in list(self._listeners):
            listener()
        return self.now()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously) after every ``advance``/``set``."""
        self._listeners.append(listener)

    def install(self) -> None:
        """Make this clock the source of ``prakerja.clock.now()``."""
        prakerja_clock.set_source(self.now)

    @staticmethod
    def uninstall() -> None:
        """Restore the system clock as ``prakerja.clock``'s source."""
        prakerja_clock.set_source(None)


def scheduled_event(rule_arn: str, at: datetime) -> dict[str, Any]:
    """An EventBridge "Scheduled Event" as Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": prakerja_clock.iso(at),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass
class _Job:
    schedule: Schedule
    last_boundary: int

    @property
    def rule_arn(self) -> str:
        return f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{self.schedule.rule_name}"

    def event(self, at: datetime) -> Any:
        if self.schedule.event_input is not None:
            return json.loads(self.schedule.event_input)
        return scheduled_event(self.rule_arn, at)


class Scheduler:
    """Fires schedules on period-boundary crossings of a :class:`LocalClock`.

    ``invoke(function_id, event)`` runs the function; errors are logged, never raised.
    """

    def __init__(
        self,
        clock: LocalClock,
        schedules: list[Schedule],
        invoke: Callable[[str, Any], Any],
        poll_seconds: float = 0.2,
    ) -> None:
        self.clock = clock
        self.invoke = invoke
        self.poll_seconds = poll_seconds
        now = clock.now().timestamp()
        self.jobs = []
        for schedule in schedules:
            if schedule.seconds is None:
                log.warning("schedule %s (%s) not supported locally: skipped", schedule.rule_name, schedule.expression)
                continue
            self.jobs.append(_Job(schedule, int(now // schedule.seconds)))
        self.fired: deque[tuple[str, str]] = deque(maxlen=100)
        self._fire_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        clock.on_change(self.fire_due)

    def fire_due(self) -> int:
        """Invoke every schedule whose boundary the clock crossed since the last check, once.

        A clock moved backwards re-arms the schedule without firing. Returns the number fired."""
        with self._fire_lock:
            now = self.clock.now()
            fired = 0
            for job in self.jobs:
                boundary = int(now.timestamp() // job.schedule.seconds)
                if boundary > job.last_boundary:
                    job.last_boundary = boundary
                    self._fire(job, datetime.fromtimestamp(boundary * job.schedule.seconds, UTC))
                    fired += 1
                elif boundary < job.last_boundary:
                    job.last_boundary = boundary
            return fired

    def _fire(self, job: _Job, at: datetime) -> None:
        name = job.schedule.function_id
        self.fired.append((name, prakerja_clock.iso(at)))
        try:
            self.invoke(name, job.event(at))
        except Exception:
            log.exception("schedule %s: %s failed", job.schedule.rule_name, name)

    def start(self) -> None:
        """Start the background thread that fires schedules as real time passes."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.fire_due()

    def stop(self) -> None:
        """Stop the background thread (waits for a running invocation to finish)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        """Whether the background thread is running."""
        return bool(self._thread and self._thread.is_alive())
