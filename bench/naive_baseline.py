"""The naive baseline of ``bench/coldstart.py``: a Lambda function written the usual way. Not a test.

Everything at import, as tutorials write it: FastAPI behind Mangum, the Powertools Tracer, Logger
and Metrics instantiated, and a boto3 DynamoDB resource (its ``Table`` object) created at module
scope. The cold starts of the real functions are reported as a ratio to this one, measured in the
same run against the same virtualenv, so the figure means the same on a slow machine and a fast one.
"""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from fastapi import FastAPI
from mangum import Mangum

logger = Logger()
tracer = Tracer()
metrics = Metrics()
table = boto3.resource("dynamodb").Table(os.environ["APPLICANTS_TABLE"])

app = FastAPI()


@app.get("/v1/health")
def health() -> dict:
    """A route, so the app is not empty."""
    return {"ok": True}


handler = Mangum(app, lifespan="off")
