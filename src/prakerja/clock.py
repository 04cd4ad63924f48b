"""The one clock: every read of "now" in prakerja goes through :func:`now`.

On AWS the clock is the system's UTC time. The local stack (``prakerja_local``) installs a
movable source with :func:`set_source` so that tokens, links, deadlines and batches all move
together when an operator or a test advances time (``POST /_local/clock``).

All values are timezone-aware ``datetime`` objects in UTC. Use :data:`WIB` to show times or to
take the calendar date in Indonesia's western time zone (Asia/Jakarta, UTC+7).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")

_source: Callable[[], datetime] | None = None


def _system_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return (_source or _system_now)()


def epoch() -> int:
    """Return :func:`now` as whole seconds since the Unix epoch (for TTL attributes and JWT)."""
    return int(now().timestamp())


def set_source(source: Callable[[], datetime] | None) -> None:
    """Install a clock source (a callable returning an aware UTC datetime); ``None`` restores
    the system clock. Used by the local stack and by tests only."""
    global _source
    _source = source


def iso(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (``Z`` or an offset) to an aware UTC datetime.

    Raises ValueError for text that is not a timestamp or carries no offset."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs an offset")
    return parsed.astimezone(UTC)
