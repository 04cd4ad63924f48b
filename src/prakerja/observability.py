"""The one Logger and Metrics for every prakerja function (Powertools).

Import ``logger`` and ``metrics`` from here; never construct others. Service name and metric
namespace come from the standard Powertools variables (``POWERTOOLS_SERVICE_NAME``,
``POWERTOOLS_METRICS_NAMESPACE``) set per function in template.yaml.

No personal data (NIK, email, phone, names, photos) is ever passed to the logger: log ids only.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Prakerja")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "prakerja")

logger = Logger()
metrics = Metrics()
