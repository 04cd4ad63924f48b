"""The local HTTP API: requests in, API Gateway HTTP API (payload v2.0) events to the handlers.

Routes come from the template's ``HttpApi`` events (``{param}`` path templates, ``ANY``
methods, a ``$default`` route). An unknown route answers 404 with the project's error body.
``/_local/*`` is the stack's own API (see ``prakerja_local.local_api``), and, when a static
directory is given, other GET requests are served from it (the web client).

Throttling: each route has the token bucket the template's ``RouteSettings`` /
``DefaultRouteSettings`` give it (``Template.route_throttles``), overridable for a test with
``PRAKERJA_LOCAL_THROTTLE`` or ``--throttle`` (``parse_throttles``). A request finding its bucket
empty gets API Gateway's own answer, 429 ``{"message":"Too Many Requests"}``, without reaching the
function. Unlike API Gateway, which sends no ``Retry-After`` on it, the local answer carries one
(the seconds until the bucket holds a token again), so a local client can be seen to honour it;
the web client must also cope without one (its own backoff).

Security headers: static files go out with the headers of the site's CloudFront response-headers
policy in the template (``security_headers``: the same Content-Security-Policy, nosniff,
``X-Frame-Options``, ``Referrer-Policy`` and HSTS), so the browser tests run the web client under
the policy it has on AWS; locally the KTP bucket's origin in ``connect-src`` is the S3 emulator's.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound
from werkzeug.utils import send_from_directory
from werkzeug.wrappers import Request, Response

from prakerja import clock as prakerja_clock
from prakerja_local.template import ACCOUNT_ID, DEFAULT_ROUTE, Route, Throttle

log = logging.getLogger("prakerja_local.gateway")
NOT_FOUND_BODY = {"code": "NOT_FOUND", "message": "Alamat tidak ditemukan.", "fields": []}
INTERNAL_ERROR_BODY = {"message": "Internal Server Error"}
THROTTLED_BODY = {"message": "Too Many Requests"}  # API Gateway's own body for a throttled request
THROTTLE_ENV = "PRAKERJA_LOCAL_THROTTLE"
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/x-www-form-urlencoded",
    "application/xml",
    "application/javascript",
    "+json",
    "+xml",
)
_PARAM_RE = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


def _compile(path: str) -> re.Pattern[str]:
    pattern, last = "", 0
    for match in _PARAM_RE.finditer(path):
        pattern += re.escape(path[last : match.start()])
        pattern += f"(?P<{match.group(1)}>.+)" if match.group(2) else f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    return re.compile(pattern + re.escape(path[last:]))


class RouteTable:
    """Matches a method and a (decoded) path to a template route and its path parameters."""

    def __init__(self, routes: list[Route]) -> None:
        self.default = next((r for r in routes if r.path == "$default"), None)
        ordered = sorted((r for r in routes if r.path != "$default"), key=self._specificity)
        self.routes = [(route, _compile(route.path)) for route in ordered]

    @staticmethod
    def _specificity(route: Route) -> tuple[int, int, int]:
        # literal paths before templated ones, greedy ({proxy+}) last, exact methods before ANY
        return (route.path.count("+}"), route.path.count("{"), route.method == "ANY")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method`` and ``path`` with its path parameters, or ``None``."""
        for route, pattern in self.routes:
            found = pattern.fullmatch(path)
            if found and route.method in (method.upper(), "ANY"):
                return route, found.groupdict()
        return (self.default, {}) if self.default else None


class TokenBucket:
    """API Gateway's throttle for one route: ``burst`` tokens at most, refilled at ``rate`` a
    second (real time, not the stack's movable clock); each request takes one. Thread-safe."""

    def __init__(self, throttle: Throttle, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(throttle.rate)
        self.burst = max(0, int(throttle.burst))
        self._monotonic = monotonic
        self._tokens = float(self.burst)
        self._at = monotonic()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """Take a token: ``None`` when the request is admitted, else the seconds until a token exists."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            if self.rate <= 0 or self.burst < 1:
                return math.inf
            return (1 - self._tokens) / self.rate


def parse_throttles(spec: str) -> dict[str, Throttle]:
    """Throttles from ``"POST /v1/accounts=2/4; *=100/50"``: ``<route key or *>=<rate>/<burst>``
    entries separated by ``;`` (``*`` is the default of every route without its own entry).

    Raises ValueError on an entry of another form."""
    result: dict[str, Throttle] = {}
    for entry in (part.strip() for part in spec.split(";")):
        if not entry:
            continue
        key, sep, value = entry.rpartition("=")
        rate, slash, burst = value.partition("/")
        try:
            if not (sep and slash and key.strip()):
                raise ValueError(entry)
            result[" ".join(key.split())] = Throttle(float(rate), int(burst))
        except ValueError:
            raise ValueError(f"throttle {entry!r}: expected '<route key or *>=<rate>/<burst>'") from None
    return result


class Throttles:
    """A token bucket per route key: the route's own throttle, else the default (``*``), else none."""

    def __init__(self, throttles: dict[str, Throttle]) -> None:
        self.throttles = dict(throttles)
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, route_key: str) -> float | None:
        """``None`` when a request to ``route_key`` is admitted, else the seconds to wait."""
        throttle = self.throttles.get(route_key) or self.throttles.get(DEFAULT_ROUTE)
        if throttle is None:
            return None
        with self._lock:
            bucket = self._buckets.get(route_key)
            if bucket is None:
                bucket = self._buckets[route_key] = TokenBucket(throttle)
        return bucket.take()


def _is_text(content_type: str) -> bool:
    content_type = content_type.lower()
    return not content_type or any(t in content_type for t in _TEXT_TYPES)


def _encode_body(body: bytes, content_type: str) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _request_headers(request: Request) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        lower = key.lower()
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    cookie = headers.pop("cookie", "")
    cookies = [c.strip() for c in cookie.split(";") if c.strip()]
    headers.setdefault("x-forwarded-for", request.remote_addr or "127.0.0.1")
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", str(request.environ.get("SERVER_PORT", "")))
    return headers, cookies


def _raw_path(request: Request) -> str:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return raw.split("?", 1)[0] if raw else quote(request.path)


def build_http_event(
    request: Request,
    route: Route,
    path_parameters: dict[str, str],
    now: datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API payload v2.0 event for ``request`` matched to ``route``."""
    now = now or prakerja_clock.now()
    headers, cookies = _request_headers(request)
    body, is_base64 = _encode_body(request.get_data(), request.headers.get("content-type", ""))
    raw_path = _raw_path(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": request.environ.get("QUERY_STRING", ""),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": headers.get("host", "127.0.0.1").split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if request.args:
        event["queryStringParameters"] = {k: ",".join(request.args.getlist(k)) for k in request.args}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body is not None:
        event["body"] = body
    return event


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def to_response(result: Any) -> Response:
    """A werkzeug response from a handler's result (v2 format, or an inferred 200 JSON body)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return json_response(result)
    headers = Headers()
    for key, value in (result.get("headers") or {}).items():
        headers.add(key, str(value))
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            headers.add(key, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return Response(data, status=int(result["statusCode"]), headers=headers)


def security_headers(config: dict[str, Any], bucket_origins: dict[str, str] | None = None) -> dict[str, str]:
    """HTTP response headers from a resolved CloudFront ``SecurityHeadersConfig``.

    ``config``: ``{"ContentSecurityPolicy": {"ContentSecurityPolicy": str}, "ContentTypeOptions": {},
    "FrameOptions": {"FrameOption": "DENY"}, "ReferrerPolicy": {"ReferrerPolicy": str},
    "StrictTransportSecurity": {"AccessControlMaxAgeSec": int, "IncludeSubdomains": bool,
    "Preload": bool}}`` (any may be missing). ``bucket_origins`` maps an origin in the policy (the KTP
    bucket's AWS domain) to the one that stands in for it locally. The header names and value formats
    are CloudFront's (AWS CloudFront Developer Guide, "Understand response headers policies").
    """
    headers: dict[str, str] = {}
    csp = (config.get("ContentSecurityPolicy") or {}).get("ContentSecurityPolicy")
    if csp:
        text = " ".join(str(csp).split())
        for aws_origin, local_origin in (bucket_origins or {}).items():
            text = text.replace(aws_origin, local_origin)
        # the two bucket origins may stand for one local origin: each source once per directive
        directives = [" ".join(dict.fromkeys(d.split())) for d in text.split(";")]
        headers["Content-Security-Policy"] = "; ".join(d for d in directives if d)
    if "ContentTypeOptions" in config:
        headers["X-Content-Type-Options"] = "nosniff"
    frame = (config.get("FrameOptions") or {}).get("FrameOption")
    if frame:
        headers["X-Frame-Options"] = str(frame)
    referrer = (config.get("ReferrerPolicy") or {}).get("ReferrerPolicy")
    if referrer:
        headers["Referrer-Policy"] = str(referrer)
    hsts = config.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={int(hsts.get('AccessControlMaxAgeSec', 0))}"
        if str(hsts.get("IncludeSubdomains", "")).lower() == "true":
            value += "; includeSubDomains"
        if str(hsts.get("Preload", "")).lower() == "true":
            value += "; preload"
        headers["Strict-Transport-Security"] = value
    return headers


class Gateway:
    """The WSGI app: ``/_local/*`` to ``local_api``, template routes to ``invoke``, else static."""

    def __init__(
        self,
        routes: list[Route],
        invoke: Callable[[str, Any], Any],
        local_api: Callable[[Request], Response] | None = None,
        static_dir: Path | None = None,
        throttles: dict[str, Throttle] | None = None,
    ) -> None:
        self.table = RouteTable(routes)
        self.invoke = invoke
        self.local_api = local_api
        self.static_dir = static_dir
        self.throttles = Throttles(throttles or {})
        #: headers of every static file (``security_headers``); set once the stack is provisioned
        self.static_headers: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """The response to one request."""
        if request.path == "/_local" or request.path.startswith("/_local/"):
            return self.local_api(request) if self.local_api else json_response(NOT_FOUND_BODY, 404)
        matched = self.table.match(request.method, request.path)
        if matched is None:
            return self._static(request)
        return self._call(request, *matched)

    def _call(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        request_id = str(uuid.uuid4())
        wait = self.throttles.take(route.route_key)
        if wait is not None:
            # API Gateway answers a throttled request itself (no Retry-After there; see the docstring)
            retry_after = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            log.debug("%s %s throttled (retry after %d s)", request.method, request.path, retry_after)
            return json_response(THROTTLED_BODY, 429, {"Retry-After": str(retry_after), "apigw-requestid": request_id})
        event = build_http_event(request, route, params, request_id=request_id)
        started = time.monotonic()
        try:
            response = to_response(self.invoke(route.function_id, event))
        except Exception:
            log.exception("%s %s -> %s raised", request.method, request.path, route.function_id)
            response = json_response(INTERNAL_ERROR_BODY, 500)
        response.headers["apigw-requestid"] = request_id
        log.debug(
            "%s %s -> %s %d (%.0f ms)",
            request.method,
            request.path,
            route.function_id,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    def _static(self, request: Request) -> Response:
        if self.static_dir is None or request.method not in ("GET", "HEAD"):
            return json_response(NOT_FOUND_BODY, 404)
        path = request.path.lstrip("/") or "index.html"
        # page URLs without an extension (/status, /verifikasi-email) are <name>.html, as the
        # CloudFront viewer-request function maps them in AWS
        last = path.rstrip("/").rsplit("/", 1)[-1]
        candidates = [path] if "." in last else [f"{path.rstrip('/')}.html", f"{path.rstrip('/')}/index.html"]
        for candidate in candidates:
            try:
                response = send_from_directory(self.static_dir, candidate, request.environ)
            except NotFound:
                continue
            response.headers.update(self.static_headers)
            return response
        return json_response(NOT_FOUND_BODY, 404)
