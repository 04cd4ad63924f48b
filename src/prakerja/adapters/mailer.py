"""SES (v2) sending: the only code that calls SES."""

from __future__ import annotations

from prakerja.adapters.aws import client


class Mailer:
    """Sends one email with a plain-text and an HTML part from the configured sender."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        """Send and return SES's message id. Raises botocore ClientError (e.g. Throttling)."""
        response = client("sesv2").send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": [to]},
            Content={"Simple": {
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html, "Charset": "UTF-8"}},
            }},
        )
        return str(response.get("MessageId", ""))
