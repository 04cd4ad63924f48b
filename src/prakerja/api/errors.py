"""The one error contract of every HTTP function.

Every error reply is ``{"code", "message", "fields": [{"field", "code", "message"}]}`` with the
message in Indonesian by default and English with ``Accept-Language: en``. FastAPI's default
``{"detail": ...}`` is replaced everywhere: validation failures are 422 with every field listed;
unexpected exceptions are 500 ``INTERNAL_ERROR`` with no detail (and are logged by type only);
capacity problems are 503/429 with Retry-After.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prakerja.adapters.aws import is_capacity_problem
from prakerja.api.i18n import message, pick_language
from prakerja.domain import errors as d
from prakerja.domain.errors import validation_issues
from prakerja.observability import logger

STATUS: dict[type[d.DomainError], int] = {
    d.InvalidInput: 422,
    d.Unauthorized: 401,
    d.Forbidden: 403,
    d.NotFound: 404,
    d.Conflict: 409,
    d.Gone: 410,
    d.TooMany: 429,
    d.Unavailable: 503,
}

def error_body(code: str, lang: str, fields: list[d.FieldIssue] | None = None, **extra: Any) -> dict:
    """Build the contract's error JSON for ``code`` and its field issues."""
    body: dict[str, Any] = {
        "code": code,
        "message": message(code, lang),
        "fields": [
            {"field": f.field, "code": f.code, "message": message(f.code, lang)} for f in fields or []
        ],
    }
    body.update(extra)
    return body


def install(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""

    @app.exception_handler(d.DomainError)
    async def _domain(request: Request, exc: d.DomainError) -> JSONResponse:
        lang = pick_language(request.headers.get("accept-language"))
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        body = error_body(exc.code, lang, exc.fields, **(exc.detail or {}))
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = pick_language(request.headers.get("accept-language"))
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("INVALID_JSON", lang), status_code=400)
        return JSONResponse(error_body("VALIDATION_FAILED", lang, validation_issues(errors)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        lang = pick_language(request.headers.get("accept-language"))
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "VALIDATION_FAILED")
        return JSONResponse(error_body(code, lang), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_capacity_problem(exc):
            logger.warning("capacity problem", extra={"error_type": type(exc).__name__})
            lang = pick_language(request.headers.get("accept-language"))
            return JSONResponse(error_body("SERVICE_BUSY", lang), status_code=503, headers={"Retry-After": "5"})
        logger.exception("unexpected error", extra={"error_type": type(exc).__name__})
        lang = pick_language(request.headers.get("accept-language"))
        return JSONResponse(error_body("INTERNAL_ERROR", lang), status_code=500)

