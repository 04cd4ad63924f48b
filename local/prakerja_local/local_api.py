"""``/_local/*``: the local stack's own HTTP API (health, clock, mailbox, ministry, info, drain).

GET  /_local/health          200 {"status": "ok", "checks": {...}} | 503 {"status": "unavailable", ...}
GET  /_local/clock           {"now": iso}
POST /_local/clock           {"advance_seconds": N} | {"set": iso} -> {"now": iso} (due schedules fired)
GET  /_local/mailbox[?to=]   [{"to", "subject", "text", "html", "sent_at", ...}] or an HTML page
DELETE /_local/mailbox       forget recorded emails
GET  /_local/info            endpoints, ports, resource names, functions, pumps, schedules
POST /_local/pumps/drain     [?timeout=30] -> {"drained": true} | 504 {"drained": false, "pending"}
*    /_local/ministry[/...]  proxied to the ministry simulator (/ and /<rest>)
GET  /_local/openapi.json    docs/openapi.json, the published contract (the deployed API serves none)
GET  /_local/docs            an HTML page of every route of it (``prakerja_local.api_docs``)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import httpx
from werkzeug.wrappers import Request, Response

from prakerja.clock import iso, parse_iso
from prakerja_local import api_docs, mailbox
from prakerja_local.gateway import NOT_FOUND_BODY, json_response

log = logging.getLogger("prakerja_local.local_api")
_HOP_HEADERS = {"content-type", "retry-after"}


def _error(message: str, status: int = 422, field: str | None = None) -> Response:
    fields = [{"field": field, "code": "INVALID", "message": message}] if field else []
    return json_response({"code": "VALIDATION_FAILED", "message": message, "fields": fields}, status)


class _Clock(Protocol):
    def now(self) -> datetime: ...
    def set(self, value: datetime) -> datetime: ...
    def advance(self, seconds: float) -> datetime: ...


class _Pumps(Protocol):
    def drain(self, timeout: float = 30.0) -> tuple[bool, dict[str, int]]: ...


class _Ministry(Protocol):
    @property
    def url(self) -> str: ...


class Stack(Protocol):
    """What :class:`LocalApi` needs of a running stack (:class:`prakerja_local.stack.LocalStack`
    is one): its clock, pumps and ministry simulator, its health checks and its info."""

    @property
    def clock(self) -> _Clock: ...
    @property
    def pumps(self) -> _Pumps: ...
    @property
    def ministry(self) -> _Ministry: ...
    def health_checks(self) -> dict[str, bool]: ...
    def info(self) -> dict[str, Any]: ...


class LocalApi:
    """Serves ``/_local/*`` for a running stack (:class:`Stack`)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "/_local/health"): self.health,
            ("GET", "/_local/clock"): self.get_clock,
            ("POST", "/_local/clock"): self.move_clock,
            ("GET", "/_local/mailbox"): self.mailbox,
            ("DELETE", "/_local/mailbox"): self.clear_mailbox,
            ("GET", "/_local/info"): lambda _r: json_response(self.stack.info()),
            ("POST", "/_local/pumps/drain"): self.drain,
            ("GET", "/_local/assessment/answer-key"): self.answer_key,
            ("GET", "/_local/openapi.json"): lambda _r: json_response(api_docs.load()),
            ("GET", "/_local/docs"): lambda _r: Response(api_docs.render(api_docs.load()), mimetype="text/html"),
        }

    def __call__(self, request: Request) -> Response:
        """Dispatch one ``/_local`` request."""
        if request.path == "/_local/ministry" or request.path.startswith("/_local/ministry/"):
            return self.ministry(request)
        handler = self.routes.get((request.method, request.path.rstrip("/")))
        if handler is None:
            return json_response(NOT_FOUND_BODY, 404)
        return handler(request)

    def answer_key(self, _request: Request) -> Response:
        """The best option of every question (LOCAL ONLY: lets a person passing the test by hand
        with curl succeed; the deployed API never reveals answers)."""
        from prakerja.domain.assessment import load_bank

        key = {q.question_id: q.correct or q.options[0 if q.reverse else -1].option_id for q in load_bank().items}
        return json_response(key)

    def health(self, _request: Request) -> Response:
        """200 when moto, provisioning, pumps, schedules and the ministry are all up, else 503."""
        checks = self.stack.health_checks()
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable", "checks": checks, "now": iso(self.stack.clock.now())}
        return json_response(body, 200 if ok else 503)

    def get_clock(self, _request: Request) -> Response:
        """The local time."""
        return json_response({"now": iso(self.stack.clock.now())})

    def move_clock(self, request: Request) -> Response:
        """Advance or set the clock; due schedules run before the answer."""
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict) or ("advance_seconds" in body) == ("set" in body):
            return _error('send {"advance_seconds": N} or {"set": "<ISO time>"}')
        try:
            if "set" in body:
                now = self.stack.clock.set(parse_iso(str(body["set"])))
            else:
                now = self.stack.clock.advance(float(body["advance_seconds"]))
        except (TypeError, ValueError) as exc:
            return _error(str(exc), field="set" if "set" in body else "advance_seconds")
        return json_response({"now": iso(now)})

    def mailbox(self, request: Request) -> Response:
        """Sent emails as JSON, or as an HTML page when the client prefers HTML."""
        found = mailbox.messages(request.args.get("to"))
        if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
            return Response(mailbox.render_html(found), mimetype="text/html")
        return json_response(found)

    def clear_mailbox(self, _request: Request) -> Response:
        """Forget every recorded email."""
        mailbox.clear()
        return json_response({"cleared": True})

    def drain(self, request: Request) -> Response:
        """Block until every pumped queue is empty and no handler runs (or the timeout)."""
        body = request.get_json(silent=True, force=True)
        value = request.args.get("timeout") or (body.get("timeout") if isinstance(body, dict) else None)
        try:
            timeout = float(value) if value else 30.0
        except (TypeError, ValueError):
            return _error("timeout must be a number of seconds", field="timeout")
        drained, pending = self.stack.pumps.drain(timeout)
        return json_response({"drained": drained, "pending": pending}, 200 if drained else 504)

    def ministry(self, request: Request) -> Response:
        """Proxy ``/_local/ministry[/rest]`` to the simulator's ``/[rest]``."""
        rest = request.path.removeprefix("/_local/ministry") or "/"
        url = self.stack.ministry.url + rest
        headers = {k: v for k, v in request.headers.items() if k.lower() in _HOP_HEADERS}
        try:
            upstream = httpx.request(
                request.method,
                url,
                params=request.args,
                content=request.get_data(),
                headers=headers,
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return json_response({"code": "UNAVAILABLE", "message": f"ministry simulator: {exc}"}, 502)
        out = {k: v for k, v in upstream.headers.items() if k.lower() in _HOP_HEADERS}
        return Response(upstream.content, status=upstream.status_code, headers=out)
