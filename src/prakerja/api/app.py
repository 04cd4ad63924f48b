"""FastAPI glue shared by every HTTP function: app factory and Lambda handler factory."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI
from mangum import Mangum

from prakerja.api import errors
from prakerja.observability import flushes_metrics, logger


def create_app(title: str) -> FastAPI:
    """A FastAPI app with the project's error contract installed and no docs UI routes."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    return app


def lambda_handler(app: FastAPI) -> Any:
    """Wrap ``app`` for API Gateway HTTP API (v2) events: Mangum with ``lifespan="off"``, and the
    request id as the correlation id of every log line (and of every message the request queues,
    see ``prakerja.adapters.outbox``). The metrics the request recorded are flushed when it ends."""
    mangum = Mangum(app, lifespan="off", api_gateway_base_path="/")

    @flushes_metrics
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    def handler(event: dict, context: Any) -> dict:
        return mangum(event, context)

    return handler
