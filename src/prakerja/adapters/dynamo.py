"""Small helpers shared by the DynamoDB repositories."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from prakerja.adapters.aws import error_code

T = TypeVar("T")


def plain(value: Any) -> Any:
    """Turn DynamoDB's Decimals back into int/float, recursively (items are JSON-ready after)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def is_condition_failure(exc: Exception) -> bool:
    """True when a write lost its condition (single item or any item of a transaction)."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException" and isinstance(exc, ClientError):
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def conditional(write: Callable[[], T]) -> T | None:
    """Run one conditional write (``update_item``, ``put_item``, ``delete_item`` or
    ``transact_write_items``, as a zero-argument callable) and return its response, or None when
    DynamoDB refused it because a condition failed (:func:`is_condition_failure`). Every other
    error propagates unchanged: throttling and outages reach the caller, which answers 503 or
    lets the queue retry (issue 15), so a lost condition is never confused with a failure. The
    one place for the repository pattern "try the write; a lost condition means False"."""
    try:
        return write()
    except Exception as exc:
        if is_condition_failure(exc):
            return None
        raise


def applied(write: Callable[[], object]) -> bool:
    """True when the conditional write was applied, False when its condition failed
    (:func:`conditional`; other errors propagate)."""
    return conditional(write) is not None


def cancellation_codes(exc: Exception) -> list[str]:
    """The per-item cancellation codes of a cancelled transaction ("None" for items that passed)."""
    if isinstance(exc, ClientError):
        return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons") or []]
    return []
