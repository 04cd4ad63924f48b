"""The registration switch in SSM Parameter Store (``RegistrationSwitch`` in template.yaml).

Sign-up reads it through Powertools Parameters (``SSMProvider``), cached ``max_age`` seconds per
instance (``REGISTRATION_SWITCH_MAX_AGE_SECONDS``, default 10), so a pause reaches every
instance within that time and a burst of sign-ups makes at most one ``GetParameter`` per instance
per ``max_age``. A failed read is remembered for ``max_age`` as well, so an SSM outage or
throttling is not hammered by every request. The operator's command writes it with
``PutParameter`` (and reads it uncached).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities import parameters

from prakerja.adapters.aws import client, quick_client


class SwitchUnreadable(RuntimeError):
    """The parameter could not be read or parsed (the message names the error type only);
    ``remembered``: no read was tried, a recent one failed (already reported)."""

    def __init__(self, reason: str, remembered: bool = False) -> None:
        super().__init__(reason)
        self.remembered = remembered


class SwitchStore:
    """The parameter ``name``; reads cached ``max_age`` seconds (0 = read every time)."""

    def __init__(self, name: str, max_age: int = 10) -> None:
        self.name, self.max_age = name, max(0, int(max_age))
        self._provider: parameters.SSMProvider | None = None
        self._failed_until = 0.0

    def _ssm(self) -> parameters.SSMProvider:
        if self._provider is None:
            # gives up within ~1.5 s: a hung SSM must not hold sign-up (it fails open)
            self._provider = parameters.SSMProvider(boto3_client=quick_client("ssm"))
        return self._provider

    def read(self) -> dict[str, Any]:
        """The stored JSON document (cached). Raises SwitchUnreadable when the parameter is
        missing, unreachable, throttled or not JSON (and, for ``max_age``, without asking again)."""
        if not self.name:
            raise SwitchUnreadable("no parameter configured")
        if time.monotonic() < self._failed_until:
            raise SwitchUnreadable("recent read failed", remembered=True)
        try:
            value = self._ssm().get(self.name, max_age=self.max_age, transform="json")
        except Exception as exc:  # any failure: the caller decides (sign-up fails open)
            self._failed_until = time.monotonic() + self.max_age
            raise SwitchUnreadable(type(exc).__name__) from None
        if not isinstance(value, dict):
            raise SwitchUnreadable("not a JSON object")
        return value

    def read_fresh(self) -> dict[str, Any] | None:
        """The stored document, uncached (for operators); None when the parameter does not exist.
        Raises botocore errors other than ParameterNotFound, and ValueError when not JSON."""
        try:
            raw = client("ssm").get_parameter(Name=self.name)["Parameter"]["Value"]
        except client("ssm").exceptions.ParameterNotFound:
            return None
        return json.loads(raw)

    def write(self, document: dict[str, Any]) -> None:
        """Overwrite the parameter with ``document`` (JSON, type String)."""
        client("ssm").put_parameter(Name=self.name, Value=json.dumps(document, sort_keys=True), Type="String",
                                    Overwrite=True)
