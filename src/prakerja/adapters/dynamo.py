"""Small helpers shared by the DynamoDB repositories."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from prakerja.adapters.aws import error_code


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


def cancellation_codes(exc: Exception) -> list[str]:
    """The per-item cancellation codes of a cancelled transaction ("None" for items that passed)."""
    if isinstance(exc, ClientError):
        return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons") or []]
    return []
