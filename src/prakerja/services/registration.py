"""Pausing and resuming sign-up (``prakerja-ops registration pause|resume|status``).

While the switch (:mod:`prakerja.domain.registration`, stored by
:class:`prakerja.adapters.switch.SwitchStore`) says paused, :meth:`Registration.ensure_open`
raises Unavailable(REGISTRATION_PAUSED) and sign-up answers 503 with Retry-After. Nothing else
checks the switch: accounts already made, queued emails and NIK checks keep flowing.

**Fail open.** When the switch cannot be read (parameter missing or unset, SSM throttled or down,
a malformed value) sign-up stays open and a warning is logged (error type only). Pausing is a
load-shedding measure, not a security control: a broken read must not close registration for
the whole country, and the downstream queues already absorb a burst.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prakerja import clock
from prakerja.adapters.aws import error_code
from prakerja.adapters.switch import SwitchStore, SwitchUnreadable
from prakerja.domain.errors import Unavailable
from prakerja.domain.registration import DEFAULT_RETRY_AFTER, SwitchState, check_retry_after, ensure_open
from prakerja.observability import logger

T = TypeVar("T")


def _aws(call: Callable[[], T]) -> T:
    """Run an operator's SSM call; an AWS error becomes Unavailable(SWITCH_UNAVAILABLE, aws=<code>)."""
    try:
        return call()
    except Exception as exc:
        code = error_code(exc)
        if not code:
            raise
        raise Unavailable("SWITCH_UNAVAILABLE", detail={"aws": code}) from None


class Registration:
    """The switch as sign-up and operators use it."""

    def __init__(self, store: SwitchStore) -> None:
        self.store = store

    def state(self) -> SwitchState | None:
        """The cached state, or None when it cannot be read (logged as a warning, once per failed
        read: not again while the failure is remembered)."""
        try:
            return SwitchState.parse(self.store.read())
        except (SwitchUnreadable, ValueError) as exc:
            if getattr(exc, "remembered", False):
                return None
            logger.warning("registration switch unreadable: sign-up stays open",
                           extra={"error_type": type(exc).__name__, "error": str(exc)[:80]})
            return None

    def ensure_open(self) -> None:
        """Return when sign-up is open (or the switch is unreadable: fail open); raises
        Unavailable(REGISTRATION_PAUSED, retry_after=seconds) while paused."""
        state = self.state()
        if state is not None:
            ensure_open(state)

    # ------------------------------------------------------------------ operators
    def status(self) -> dict[str, Any]:
        """``{"parameter", "paused", "retry_after", "changed_at", "readable"}`` read uncached.
        ``readable`` false means sign-up treats the switch as open (fail open). Raises
        Unavailable(SWITCH_UNAVAILABLE) when SSM refuses (access denied, throttled)."""
        try:
            document = _aws(self.store.read_fresh)
            state = SwitchState.parse(document if document is not None else {})
            readable = document is not None
        except ValueError:
            state, readable = SwitchState(), False
        return {"parameter": self.store.name, **state.to_json(), "changed_at": state.changed_at,
                "readable": readable}

    def pause(self, retry_after: int = DEFAULT_RETRY_AFTER) -> dict[str, Any]:
        """Pause sign-up (clients told to retry after ``retry_after`` seconds, 1..86,400; raises
        InvalidInput(RETRY_AFTER_INVALID) otherwise). Returns :meth:`status`."""
        state = SwitchState(True, check_retry_after(retry_after), clock.iso(clock.now()))
        _aws(lambda: self.store.write(state.to_json()))
        return self.status()

    def resume(self) -> dict[str, Any]:
        """Open sign-up again (keeps the last ``retry_after``). Returns :meth:`status`."""
        try:
            previous = SwitchState.parse(_aws(self.store.read_fresh) or {})
        except ValueError:
            previous = SwitchState()
        state = SwitchState(False, previous.retry_after, clock.iso(clock.now()))
        _aws(lambda: self.store.write(state.to_json()))
        return self.status()
