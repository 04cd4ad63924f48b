"""A reference of ``bench/coldstart.py``: a FastAPI app behind Mangum and nothing else. Not a test.

What every HTTP function pays for its framework before any code of its own (FastAPI imports
pydantic, starlette, anyio, opentelemetry-api and email-validator), shown beside the baseline so
a reader sees how much of a function's cold start is the framework.
"""

from __future__ import annotations

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/v1/health")
def health() -> dict:
    """A route, so the app is not empty."""
    return {"ok": True}


handler = Mangum(app, lifespan="off")
