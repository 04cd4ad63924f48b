"""The one Logger and Metrics for every prakerja function (Powertools).

Import ``logger`` and ``metrics`` from here; never construct others. Service name and metric
namespace come from the standard Powertools variables (``POWERTOOLS_SERVICE_NAME``,
``POWERTOOLS_METRICS_NAMESPACE``) set per function in template.yaml. Tracing is off unless
``POWERTOOLS_TRACE_ENABLED`` is ``true`` (constructing a Tracer imports the X-Ray SDK, 0.3–0.4 s
of cold start), see :func:`tracer`.

No personal data (NIK, KK, email, phone, names, photos) is ever passed to the logger: log ids
only. As a second line of defence every serialised log line goes through :func:`mask`, which
blanks anything shaped like an email address, a 16-digit NIK/KK number or an Indonesian mobile
number (exception messages from libraries can carry input values).

Metrics: services emit through :func:`count` and :func:`measure` (names in :data:`METRIC_NAMES`,
no dimension beyond Powertools' ``service``, so no personal data can reach one), and every
handler is wrapped in :func:`flushes_metrics`, which writes them as one EMF line per invocation.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Prakerja")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "prakerja")

_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"(?<![\w.])\d{16}(?![\w.])"), "[nik]"),
    (re.compile(r"(?<!\d)(?:\+62|62|0)8\d{7,12}(?!\d)"), "[phone]"),
)


def mask(text: str) -> str:
    """``text`` with emails, 16-digit numbers and Indonesian mobile numbers blanked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFormatter(LambdaPowertoolsFormatter):
    """The Powertools JSON formatter, with :func:`mask` applied to every serialised line."""

    def serialize(self, log: dict[str, Any]) -> str:
        return mask(super().serialize(log))


logger = Logger(logger_formatter=MaskingFormatter())
metrics = Metrics()

#: every application metric (namespace ``Prakerja``): the funnel's events, then partner health
METRIC_NAMES = (
    "AccountCreated", "EmailVerified", "KtpValid", "KtpRejected", "NikVerified", "NikRejected", "AssessmentPassed",
    "AssessmentFailed", "BatchJoined", "Selected", "NotSelected",
    "MinistryCall", "MinistryError", "MinistryLatency", "MinistryCircuitOpen",
    "SesSent", "SesThrottled", "SesBounce", "SesComplaint",
)
#: the unit of each metric that is not a count
METRIC_UNITS = {"MinistryLatency": MetricUnit.Milliseconds}
# Powertools' metric set is a plain dict shared by every Metrics instance: the NIK worker adds to
# it from its call threads, and the local stack runs every function's handler in threads of one
# process, so adding and flushing go through one lock.
_METRICS_LOCK = threading.Lock()


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the count metric ``name`` (one of :data:`METRIC_NAMES`). Raises ValueError
    for an unknown name."""
    _add(name, MetricUnit.Count, value)


def measure(name: str, value: float) -> None:
    """Record one value of the metric ``name`` in its unit (``MinistryLatency``: milliseconds)."""
    _add(name, METRIC_UNITS.get(name, MetricUnit.Count), value)


def _add(name: str, unit: MetricUnit, value: float) -> None:
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}")
    with _METRICS_LOCK:
        metrics.add_metric(name=name, unit=unit, value=value)


def flush() -> None:
    """Write the metrics recorded so far as one EMF line on stdout (nothing when there are none,
    or when ``POWERTOOLS_METRICS_DISABLED`` is set, as on the local stack), then forget them."""
    with _METRICS_LOCK:
        if metrics.metric_set:
            metrics.flush_metrics()
            metrics.clear_metrics()  # a disabled flush would keep them, growing per invocation


def flushes_metrics(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Lambda handler: :func:`flush` when it returns or raises (what Powertools'
    ``log_metrics`` does, under the lock, and without a warning for an invocation that recorded
    nothing)."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            flush()

    return wrapper


@cache
def tracer() -> Any:
    """The Powertools Tracer when ``POWERTOOLS_TRACE_ENABLED=true``, else None (no X-Ray import)."""
    if os.environ.get("POWERTOOLS_TRACE_ENABLED", "").lower() != "true":
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()
