"""api.auth.client_ip: the one rule for the client address every per-client limit is keyed on
(CloudFront's viewer address only with the distribution's origin secret; else sourceIp)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from prakerja.api.auth import client_ip, trust_cloudfront, viewer_ip

SECRET = "rahasia-cloudfront-0123456789"


def request(app: FastAPI, headers: dict[str, str], source: str = "130.176.50.10") -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v1/sessions", "app": app,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
                    "aws.event": {"requestContext": {"http": {"sourceIp": source}}}})


def trusting(secret=lambda: SECRET) -> FastAPI:
    app = FastAPI()
    trust_cloudfront(app, secret)
    return app


@pytest.mark.parametrize(("value", "expected"), [
    ("198.51.100.7:443", "198.51.100.7"),
    ("2001:db8::1:51234", "2001:db8::1"),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("198.51.100.7", None),
    ("bukan-alamat:443", None),
    ("", None),
])
def test_viewer_ip_reads_cloudfronts_address_and_port(value: str, expected: str | None) -> None:
    assert viewer_ip(value) == expected


def test_with_the_origin_secret_the_viewer_address_counts() -> None:
    headers = {"X-Prakerja-Origin": SECRET, "CloudFront-Viewer-Address": "182.253.10.20:51234"}
    assert client_ip(request(trusting(), headers)) == "182.253.10.20"


@pytest.mark.parametrize("headers", [
    {"CloudFront-Viewer-Address": "182.253.10.20:51234"},
    {"X-Prakerja-Origin": "tebakan", "CloudFront-Viewer-Address": "182.253.10.20:51234"},
    {"X-Prakerja-Origin": SECRET, "CloudFront-Viewer-Address": "rusak"},
    {"X-Prakerja-Origin": SECRET, "X-Forwarded-For": "182.253.10.20"},
])
def test_otherwise_the_source_address_counts(headers: dict[str, str]) -> None:
    assert client_ip(request(trusting(), headers)) == "130.176.50.10"


def test_an_app_not_told_to_trust_cloudfront_or_without_a_secret_uses_the_source() -> None:
    headers = {"X-Prakerja-Origin": "", "CloudFront-Viewer-Address": "182.253.10.20:51234"}
    assert client_ip(request(FastAPI(), headers | {"X-Prakerja-Origin": SECRET})) == "130.176.50.10"
    assert client_ip(request(trusting(lambda: ""), headers)) == "130.176.50.10"


def test_an_unreadable_secret_falls_back_to_the_source() -> None:
    def broken() -> str:
        raise RuntimeError("Secrets Manager unreachable")

    headers = {"X-Prakerja-Origin": SECRET, "CloudFront-Viewer-Address": "182.253.10.20:51234"}
    assert client_ip(request(trusting(broken), headers)) == "130.176.50.10"
