"""The email sender: renders queued email messages and sends them through SES.

Each SQS record is one message (``services.mail`` body). A malformed message is logged by
reference and dropped as a failure to the DLQ path (it is reported failed so SQS retries and
finally dead-letters it); an SES throttle is reported failed so the message goes back to the
queue. Nothing is dropped silently.
"""

from __future__ import annotations

import json
from typing import Any

from prakerja.adapters.mailer import Mailer
from prakerja.services import mail


class InvalidEmailMessage(ValueError):
    """The queued message is not a renderable email (goes to the DLQ after retries)."""


def parse(body: str) -> dict[str, Any]:
    """Validate a queued email body; raises InvalidEmailMessage."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidEmailMessage("not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("to"), str) or not isinstance(data.get("params"), dict):
        raise InvalidEmailMessage("missing fields")
    return data


def send_one(mailer: Mailer, body: str) -> None:
    """Render and send one queued email. Raises on anything that must be retried."""
    data = parse(body)
    try:
        rendered = mail.render(str(data.get("template")), data["params"])
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidEmailMessage("unknown template or parameters") from exc
    mailer.send(data["to"], rendered.subject, rendered.text, rendered.html)
