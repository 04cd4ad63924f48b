"""Every email sent through moto's SES (v1 ``SendEmail``/``SendRawEmail``, v2 ``SendEmail``).

moto keeps only one body per message (the HTML one when both are given), so :func:`install`
wraps moto's SES response handlers to record the text and the HTML body, the recipients and the
subject, stamped with the local clock. Messages that reach moto's backend another way (templated
sends) are picked up from ``ses_backends[account][region].sent_messages`` when first listed.
"""

from __future__ import annotations

import base64
import email
import functools
import html
import json
import re
import threading
from collections.abc import Callable
from email.message import Message
from typing import Any

from prakerja import clock as prakerja_clock
from prakerja_local.template import ACCOUNT_ID, REGION

_LOCK = threading.Lock()
_MESSAGES: list[dict[str, Any]] = []
_MARK = "_prakerja_mailbox"
_URL_RE = re.compile(r"https?://[^\s<>\"')]+")


def _record(message_id: str | None, sender: str, to: list[str], subject: str, text: str, body_html: str) -> None:
    entry = {
        "message_id": message_id,
        "from": sender,
        "to": ", ".join(to),
        "recipients": to,
        "subject": subject,
        "text": text,
        "html": body_html,
        "sent_at": prakerja_clock.iso(prakerja_clock.now()),
    }
    with _LOCK:
        _MESSAGES.append(entry)


def _message_id(result: Any) -> str | None:
    """The MessageId in a moto response method's result (an ActionResult or a JSON string)."""
    payload = getattr(result, "result", None)
    if isinstance(payload, dict):
        return payload.get("MessageId")
    try:
        return json.loads(result).get("MessageId")
    except (TypeError, ValueError, AttributeError):
        return None


def _mime_parts(raw: str) -> tuple[str, str, str, list[str], str]:
    msg = email.message_from_string(raw)
    text, body_html = "", ""
    for part in msg.walk() if msg.is_multipart() else [msg]:
        content = _decoded(part)
        if part.get_content_type() == "text/plain" and not text:
            text = content
        elif part.get_content_type() == "text/html" and not body_html:
            body_html = content
    to = [a.strip() for a in (msg.get("To") or "").split(",") if a.strip()]
    return str(msg.get("From") or ""), str(msg.get("Subject") or ""), text, to, body_html


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(part.get_content_charset() or "utf-8", errors="replace")


def _v1_send_email(self: Any, result: Any) -> None:
    qs = self.querystring
    to = [v[0] for k, v in qs.items() if k.startswith("Destination.ToAddresses.member.")]
    first = lambda key: (qs.get(key) or [""])[0]  # noqa: E731
    _record(
        _message_id(result),
        first("Source"),
        to,
        first("Message.Subject.Data"),
        first("Message.Body.Text.Data"),
        first("Message.Body.Html.Data"),
    )


def _v1_send_raw_email(self: Any, result: Any) -> None:
    raw = base64.b64decode((self.querystring.get("RawMessage.Data") or [""])[0]).decode("utf-8", "replace")
    sender, subject, text, to, body_html = _mime_parts(raw)
    _record(_message_id(result), sender, to, subject, text, body_html)


def _v2_send_email(self: Any, result: Any) -> None:
    params = json.loads(self.body)
    content = params.get("Content", {})
    to = params.get("Destination", {}).get("ToAddresses", [])
    if "Raw" in content:
        raw = base64.b64decode(content["Raw"]["Data"]).decode("utf-8", "replace")
        sender, subject, text, raw_to, body_html = _mime_parts(raw)
        _record(
            _message_id(result),
            params.get("FromEmailAddress") or sender,
            to or raw_to,
            subject,
            text,
            body_html,
        )
        return
    simple = content.get("Simple", {})
    body = simple.get("Body", {})
    _record(
        _message_id(result),
        params.get("FromEmailAddress", ""),
        to,
        simple.get("Subject", {}).get("Data", ""),
        body.get("Text", {}).get("Data", ""),
        body.get("Html", {}).get("Data", ""),
    )


def _wrap(cls: type, method: str, recorder: Callable[[Any, Any], None]) -> None:
    original = getattr(cls, method)
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        recorder(self, result)
        return result

    setattr(wrapper, _MARK, True)
    setattr(cls, method, wrapper)


def install() -> None:
    """Record every email moto's SES accepts (idempotent)."""
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response

    _wrap(EmailResponse, "send_email", _v1_send_email)
    _wrap(EmailResponse, "send_raw_email", _v1_send_raw_email)
    _wrap(SESV2Response, "send_email", _v2_send_email)


def _backend_extras(known: set[str]) -> None:
    """Pick up messages moto's backend holds that no wrapper recorded (e.g. templated sends)."""
    from moto.ses.models import ses_backends

    backend = ses_backends[ACCOUNT_ID][REGION]
    for message in list(backend.sent_messages):
        ids = getattr(message, "ids", None) or [getattr(message, "id", None)]
        if ids[0] in known:
            continue
        destinations = getattr(message, "destinations", {})
        to = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
        body = getattr(message, "body", "") or getattr(message, "template_data", "")
        _record(ids[0], getattr(message, "source", ""), to, getattr(message, "subject", ""), body, "")
        known.add(ids[0])


def messages(to: str | None = None) -> list[dict[str, Any]]:
    """Every recorded email, oldest first; ``to`` filters by recipient (case-insensitive)."""
    with _LOCK:
        known = {m["message_id"] for m in _MESSAGES}
    _backend_extras(known)
    with _LOCK:
        found = list(_MESSAGES)
    if to:
        wanted = to.strip().casefold()
        found = [m for m in found if any(r.casefold() == wanted for r in m["recipients"])]
    return found


def clear() -> None:
    """Forget every recorded email (moto's backend list is left alone)."""
    with _LOCK:
        _MESSAGES.clear()


def _linkify(text: str) -> str:
    escaped = html.escape(text)
    return _URL_RE.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def _links(body_html: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', body_html)]


def render_html(found: list[dict[str, Any]]) -> str:
    """A small HTML page listing ``found``, newest first, with clickable links."""
    items = []
    for m in reversed(found):
        links = "".join(f'<li><a href="{html.escape(u)}">{html.escape(u)}</a></li>' for u in _links(m["html"]))
        frame = (
            (
                f'<details><summary>HTML</summary><iframe sandbox srcdoc="{html.escape(m["html"])}" '
                f'style="width:100%;height:20em"></iframe></details>'
            )
            if m["html"]
            else ""
        )
        items.append(
            f"<article><h2>{html.escape(m['subject'])}</h2>"
            f"<p><b>To:</b> {html.escape(m['to'])} &middot; <b>Sent:</b> {html.escape(m['sent_at'])}</p>"
            f'<pre style="white-space:pre-wrap">{_linkify(m["text"])}</pre>'
            f"{'<ul>' + links + '</ul>' if links else ''}{frame}</article><hr>"
        )
    body = "".join(items) or "<p>No emails yet.</p>"
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8"><title>Local mailbox</title>'
        '<meta http-equiv="refresh" content="10"></head>'
        '<body style="font-family:sans-serif;max-width:50em;margin:auto">'
        f"<h1>Local mailbox ({len(found)})</h1>"
        f"{body}</body></html>"
    )
