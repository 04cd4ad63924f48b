"""FastAPI glue shared by every HTTP function: app factory and Lambda handler factory."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from prakerja.api import errors


def create_app(title: str) -> FastAPI:
    """A FastAPI app with the project's error contract installed and no docs UI routes."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    return app


def lambda_handler(app: FastAPI) -> Any:
    """Wrap ``app`` for API Gateway HTTP API (v2) events: Mangum with ``lifespan="off"``."""
    return Mangum(app, lifespan="off", api_gateway_base_path="/")
