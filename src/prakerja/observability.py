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
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

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


@cache
def tracer() -> Any:
    """The Powertools Tracer when ``POWERTOOLS_TRACE_ENABLED=true``, else None (no X-Ray import)."""
    if os.environ.get("POWERTOOLS_TRACE_ENABLED", "").lower() != "true":
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()
