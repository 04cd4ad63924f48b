"""Make moto's DynamoDB behave atomically under concurrency.

moto 5's DynamoDB is not thread-safe: ``TransactWriteItems`` (and conditional writes) racing on
the same key can all succeed (measured: 20 threads, one key, up to 4 winners), which real
DynamoDB never allows. :func:`install` runs every DynamoDB request under one process-wide
re-entrant lock by wrapping the response dispatcher (``DynamoHandler.call_action``), which both
the moto server (werkzeug, threaded) and ``moto.mock_aws()`` go through.

Note: moto >= 5.1.9 puts S3 object keys in event notifications ``quote_plus``-encoded, as AWS
does; consumers must ``unquote_plus`` them. Nothing to do here.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

LOCK = threading.RLock()
_MARK = "_prakerja_guarded"


def install() -> None:
    """Serialise every moto DynamoDB request under :data:`LOCK` (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def guarded(self: Any) -> Any:
        with LOCK:
            return original(self)

    setattr(guarded, _MARK, True)
    DynamoHandler.call_action = guarded  # type: ignore[method-assign]


def installed() -> bool:
    """Whether :func:`install` has wrapped the dispatcher."""
    from moto.dynamodb.responses import DynamoHandler

    return bool(getattr(DynamoHandler.call_action, _MARK, False))
